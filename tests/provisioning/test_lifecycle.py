"""Provision, resize, stop, start and decommission a real VM on libvirt through sshd and ansible-runner."""

from __future__ import annotations

import ipaddress
import os
import subprocess
from typing import Any

import yaml
from sqlalchemy import select

from dcops.auth.actor import SYSTEM
from dcops.ipam.models import IPAddress
from dcops.provisioning import jobs, service
from dcops.provisioning.choices import JobStatus
from dcops.provisioning.models import Job, JobEvent
from dcops.virtualization.models import VirtualMachine
from tests.provisioning.conftest import Lab, dominfo, new_vm, virsh


def _refresh(session: Any, obj: Any) -> Any:
    session.expire_all()
    found = session.get(type(obj), obj.id)
    session.commit()  # end the read transaction: SQLite writers (the runner) must not wait for it
    return found


def read_seed(iso: str) -> dict[str, Any]:
    """Read the cloud-init files back out of the NoCloud seed ISO with isoinfo (genisoimage), parsed."""
    files = {}
    for name in ("meta-data", "user-data", "network-config"):
        out = subprocess.run(["isoinfo", "-i", iso, "-R", "-x", f"/{name}"], capture_output=True, text=True,
                             check=True, timeout=60)
        files[name] = yaml.safe_load(out.stdout)
    label = subprocess.run(["isoinfo", "-d", "-i", iso], capture_output=True, text=True, check=True, timeout=60)
    files["volume"] = next(line.split(":", 1)[1].strip() for line in label.stdout.splitlines()
                           if line.startswith("Volume id:"))
    return files


def check_seed(session: Any, lab: Lab, vm: Any) -> None:
    """The seed carries the agency's SSH keys, the VM's static address and gateway, and its hostname."""
    seed = read_seed(f"{lab.libvirt.pool_path}/{vm.name}-seed.iso")
    assert seed["volume"] == "cidata"  # the label cloud-init's NoCloud source looks for
    assert seed["meta-data"] == {"instance-id": vm.name, "local-hostname": vm.name}
    user = seed["user-data"]
    assert user["hostname"] == vm.name and user["fqdn"] == vm.name
    [admin] = user["users"]
    assert admin["ssh_authorized_keys"] == service.agency_keys(session, lab.agency.id) != []
    assert admin["lock_passwd"] is True and user["ssh_pwauth"] is False
    nic = seed["network-config"]["ethernets"]["primary"]
    prefix_length = ipaddress.ip_network(lab.prefix.cidr).prefixlen
    assert nic["addresses"] == [f"{vm.ip_address}/{prefix_length}"]
    assert nic["routes"] == [{"to": "default", "via": lab.prefix.gateway}]


def test_vm_lifecycle(session: Any, lab: Lab) -> None:
    vm = new_vm(session, lab, "life", vcpus=1, ram_gib=1)
    address = vm.ip_address
    [job] = service.launch(session, actor=SYSTEM, vm_ids=[vm.id])
    assert jobs.run_now(job.id) == JobStatus.SUCCEEDED, _refresh(session, job).stdout[-3000:]

    info = dominfo(vm.name)
    assert info["State"] == "running"
    assert info["CPU(s)"] == "1"
    assert info["Max memory"] == "65536 KiB"  # 1 GiB requested x 64 MiB per GiB on the lab host
    assert info["Autostart"] == "enable"
    assert "<forward" not in virsh("net-dumpxml", lab.libvirt.network).stdout
    assert os.path.exists(f"{lab.libvirt.pool_path}/{vm.name}.qcow2")
    assert os.path.exists(f"{lab.libvirt.pool_path}/{vm.name}-seed.iso")
    assert _refresh(session, vm).state == "running"
    done = _refresh(session, job)
    assert done.changed > 0 and done.finished_at is not None
    events = session.execute(select(JobEvent).where(JobEvent.job_id == job.id)).scalars().all()
    assert any(e.task == "Start the domain" and e.status == "changed" for e in events)
    check_seed(session, lab, _refresh(session, vm))

    # the same playbook again changes nothing
    again = Job(action="provision", vm_id=vm.id, vm_name=vm.name, agency_id=vm.agency_id, host_id=vm.host_id,
                extravars=job.extravars, created_by="test")
    session.add(again)
    session.commit()
    assert jobs.run_now(again.id) == JobStatus.SUCCEEDED
    assert _refresh(session, again).changed == 0, _refresh(session, again).stdout[-2000:]

    # resize to 2 vCPU / 2 GiB (128 MiB on the lab host)
    resize = service.vm_action(session, actor=SYSTEM, vm_id=vm.id, action="resize", vcpus=2, ram_gib=2)
    assert jobs.run_now(resize.id) == JobStatus.SUCCEEDED, _refresh(session, resize).stdout[-3000:]
    info = dominfo(vm.name)
    assert (info["CPU(s)"], info["Max memory"], info["State"]) == ("2", "131072 KiB", "running")
    assert (_refresh(session, vm).vcpus, _refresh(session, vm).ram_gib) == (2, 2)

    stop = service.vm_action(session, actor=SYSTEM, vm_id=vm.id, action="stop")
    session.get(Job, stop.id).extravars = stop.extravars | {"shutdown_timeout": 0}  # nothing boots: power off
    session.commit()
    assert jobs.run_now(stop.id) == JobStatus.SUCCEEDED
    assert dominfo(vm.name)["State"] == "shut off" and _refresh(session, vm).state == "stopped"
    start = service.vm_action(session, actor=SYSTEM, vm_id=vm.id, action="start")
    assert jobs.run_now(start.id) == JobStatus.SUCCEEDED
    assert dominfo(vm.name)["State"] == "running" and _refresh(session, vm).state == "running"

    gone = service.vm_action(session, actor=SYSTEM, vm_id=vm.id, action="decommission")
    assert jobs.run_now(gone.id) == JobStatus.SUCCEEDED, _refresh(session, gone).stdout[-3000:]
    assert dominfo(vm.name) == {}
    assert not os.path.exists(f"{lab.libvirt.pool_path}/{vm.name}.qcow2")
    after = _refresh(session, vm)
    assert after.state == "decommissioned" and after.ip_address is None
    assert session.execute(select(IPAddress).where(IPAddress.address == address)).first() is None
    assert session.get(VirtualMachine, vm.id) is not None
