"""Provision, resize, stop, start and decommission a real VM on libvirt through sshd and ansible-runner."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import select

from dcops.auth.actor import SYSTEM
from dcops.ipam.models import IPAddress
from dcops.provisioning import jobs, service
from dcops.provisioning.choices import JobStatus
from dcops.provisioning.models import Job, JobEvent
from dcops.virtualization.models import VirtualMachine
from tests.provisioning.conftest import Lab, dominfo, new_vm, virsh
from tests.provisioning.seed import check_seed


def _refresh(session: Any, obj: Any) -> Any:
    session.expire_all()
    found = session.get(type(obj), obj.id)
    session.commit()  # end the read transaction: SQLite writers (the runner) must not wait for it
    return found


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
