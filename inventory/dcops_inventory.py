#!/usr/bin/env python3
"""Ansible dynamic inventory from dcops: hypervisors grouped by site, cluster and role.

    ansible-inventory -i inventory/dcops_inventory.py --graph
    ansible -i inventory/dcops_inventory.py role_hypervisor -m ping

Reads dcops' database (``DCOPS_DATABASE_URL``, as dcops does). Every run writes the pinned host
keys of the hypervisors to a known_hosts file (``DCOPS_KNOWN_HOSTS``, default
``<dcops data dir>/known_hosts``) and points SSH at it with strict host key checking, so a host
whose key changed is refused. SSH private keys are not exported: give them to Ansible yourself
(``--private-key``) or let dcops' job runner, which injects them per run, do the work.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any


def _group(prefix: str, name: str) -> str:
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9_]', '_', name).lower()}"


def build() -> dict[str, Any]:
    """Return the inventory in Ansible's JSON shape (with ``_meta.hostvars``)."""
    from sqlalchemy import select

    import dcops.models  # noqa: F401  (every table)
    from dcops.config import get_settings
    from dcops.database import session_scope
    from dcops.dcim.models import Cluster, Device, Site
    from dcops.provisioning.models import HypervisorAccess
    from dcops.provisioning.preflight import known_hosts_line

    settings = get_settings()
    known_hosts = Path(os.environ.get("DCOPS_KNOWN_HOSTS") or settings.data_dir / "known_hosts")
    inventory: dict[str, Any] = {"_meta": {"hostvars": {}}, "all": {"children": ["ungrouped"]}}
    lines: list[str] = []

    def add(group: str, host: str) -> None:
        inventory.setdefault(group, {"hosts": []})["hosts"].append(host)
        if group not in inventory["all"]["children"]:
            inventory["all"]["children"].append(group)

    with session_scope() as session:
        rows = session.execute(select(HypervisorAccess, Device).join(Device, Device.id == HypervisorAccess.device_id)
                               .order_by(Device.name)).all()
        for access, device in rows:
            site = session.get(Site, device.site_id)
            cluster = session.get(Cluster, device.cluster_id) if device.cluster_id else None
            add("hypervisors", device.name)  # what the playbooks target
            add(_group("role", str(device.role)), device.name)
            if site:
                add(_group("site", site.name), device.name)
            if cluster:
                add(_group("cluster", cluster.name), device.name)
            if access.host_key and device.mgmt_address:
                lines.append(known_hosts_line(device.mgmt_address, access.ssh_port, access.host_key))
            inventory["_meta"]["hostvars"][device.name] = {
                "ansible_host": device.mgmt_address,
                "ansible_port": access.ssh_port,
                "ansible_user": access.ssh_user,
                "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_ssh_common_args": f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes",
                "libvirt_uri": access.libvirt_uri,
                "storage_pool": access.storage_pool,
                "pool_path": access.pool_path,
                "dcops_device_id": device.id,
                "dcops_host_key_fingerprint": access.host_key_fingerprint,
            }
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    tmp = known_hosts.with_suffix(".tmp")
    tmp.write_text("".join(lines))
    os.chmod(tmp, 0o644)
    tmp.replace(known_hosts)
    return inventory


def main(argv: list[str]) -> int:
    if len(argv) > 1 and argv[1] == "--host":
        print(json.dumps(build()["_meta"]["hostvars"].get(argv[2] if len(argv) > 2 else "", {})))
        return 0
    print(json.dumps(build(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
