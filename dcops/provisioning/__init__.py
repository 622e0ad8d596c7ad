"""Provisioning: tenant VMs through Ansible playbooks (ansible-runner) on libvirt/KVM hypervisors over SSH."""
