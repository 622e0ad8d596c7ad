"""Statuses and actions of provisioning jobs."""

from enum import StrEnum


class JobStatus(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class JobAction(StrEnum):
    """What a job does to a VM; each action is one playbook."""

    PROVISION = "provision"
    DECOMMISSION = "decommission"
    START = "start"
    STOP = "stop"
    RESIZE = "resize"
    CLEANUP = "cleanup"  # remove what a failed or interrupted provision left; the VM stays failed


PLAYBOOKS = {
    JobAction.PROVISION: "provision_vm.yml",
    JobAction.DECOMMISSION: "decommission_vm.yml",
    JobAction.START: "start_vm.yml",
    JobAction.STOP: "stop_vm.yml",
    JobAction.RESIZE: "resize_vm.yml",
    JobAction.CLEANUP: "decommission_vm.yml",
}


class DomainType(StrEnum):
    """Which libvirt domain type to create; ``auto`` picks kvm when the QEMU user can open /dev/kvm."""

    AUTO = "auto"
    KVM = "kvm"
    QEMU = "qemu"
