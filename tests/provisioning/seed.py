"""Read a VM's cloud-init NoCloud seed ISO back (isoinfo, from genisoimage) and check what the VM will boot with."""

from __future__ import annotations

import ipaddress
import subprocess
from typing import Any

import yaml

from dcops.provisioning import service

SEED_FILES = ("meta-data", "user-data", "network-config")


def read_seed(iso: str) -> dict[str, Any]:
    """Return the seed's files as text (``raw``), parsed, and the volume label."""
    raw = {}
    for name in SEED_FILES:
        out = subprocess.run(["isoinfo", "-i", iso, "-R", "-x", f"/{name}"], capture_output=True, text=True,
                             check=True, timeout=60)
        raw[name] = out.stdout
    label = subprocess.run(["isoinfo", "-d", "-i", iso], capture_output=True, text=True, check=True, timeout=60)
    files: dict[str, Any] = {name: yaml.safe_load(text) for name, text in raw.items()}
    files["raw"] = raw
    files["volume"] = next(line.split(":", 1)[1].strip() for line in label.stdout.splitlines()
                           if line.startswith("Volume id:"))
    return files


def check_seed(session: Any, lab: Any, vm: Any) -> None:
    """The seed carries the agency's SSH keys, the VM's static address and gateway, and its hostname."""
    seed = read_seed(f"{lab.libvirt.pool_path}/{vm.name}-seed.iso")
    assert seed["volume"] == "cidata"  # the label cloud-init's NoCloud source looks for
    assert seed["meta-data"] == {"instance-id": vm.name, "local-hostname": vm.name}
    # without this first line cloud-init ignores the user-data (YAML reads it as a comment, so check the text)
    assert seed["raw"]["user-data"].splitlines()[0] == "#cloud-config"
    user = seed["user-data"]
    assert user["hostname"] == vm.name and user["fqdn"] == vm.name
    [admin] = user["users"]
    assert admin["name"] == "dcops"  # playbooks/group_vars/all.yml
    assert admin["ssh_authorized_keys"] == service.agency_keys(session, lab.agency.id) != []
    assert admin["lock_passwd"] is True and user["ssh_pwauth"] is False
    nic = seed["network-config"]["ethernets"]["primary"]
    prefix_length = ipaddress.ip_network(lab.prefix.cidr).prefixlen
    assert vm.ip_address and ipaddress.ip_address(vm.ip_address) in ipaddress.ip_network(lab.prefix.cidr)
    assert nic["addresses"] == [f"{vm.ip_address}/{prefix_length}"]
    assert nic["routes"] == [{"to": "default", "via": lab.prefix.gateway}]
    assert lab.prefix.gateway and lab.prefix.gateway != vm.ip_address
