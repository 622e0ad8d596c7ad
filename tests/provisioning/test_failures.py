"""A failed provision rolls back and can be retried; no secret reaches job output, events, logs or the API."""

from __future__ import annotations

import logging
import os
from typing import Any

from sqlalchemy import select

from dcops.auth.actor import SYSTEM
from dcops.dcim.service import devices, save_credential
from dcops.ipam.models import IPAddress
from dcops.provisioning import jobs, service
from dcops.provisioning.choices import JobStatus
from dcops.provisioning.models import Job, JobEvent
from tests.provisioning.conftest import Lab, dominfo, new_vm

COMMUNITY = "s3cret-c0mmunity-h5"


def _fresh(session: Any, model: Any, id_: int) -> Any:
    session.expire_all()
    obj = session.get(model, id_)
    session.commit()  # end the read transaction: SQLite writers (the runner, the API) must not wait for it
    return obj


def test_failed_provision_rolls_back_then_retry_succeeds_and_no_secret_leaks(
        session: Any, lab: Lab, client: Any, admin: dict[str, str], caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    snmp = save_credential(session, actor=SYSTEM, data={"name": "snmp-hv", "kind": "snmp_v2c",
                                                         "community": COMMUNITY})
    devices.update(session, actor=SYSTEM, id=lab.host.id, data={"snmp_credential_id": snmp.id})

    vm = new_vm(session, lab, "fail")
    address = vm.ip_address
    [job] = service.launch(session, actor=SYSTEM, vm_ids=[vm.id], extravars={"fail_after_volume": True})
    assert jobs.run_now(job.id) == JobStatus.FAILED

    failed = _fresh(session, Job, job.id)
    assert failed.failed_task == "Fail on purpose after the volume (tests only)"
    assert "rolled back" in failed.error
    assert dominfo(vm.name) == {}
    assert not os.path.exists(f"{lab.libvirt.pool_path}/{vm.name}.qcow2")
    after = _fresh(session, type(vm), vm.id)
    assert after.state == "failed" and after.ip_address is None
    assert session.execute(select(IPAddress).where(IPAddress.address == address)).first() is None
    events = session.execute(select(JobEvent).where(JobEvent.job_id == job.id)).scalars().all()
    assert any(e.status == "failed" and e.task == failed.failed_task for e in events)
    session.commit()  # end the read transaction (SQLite): the API opens its own
    # the API shows the failure and the task
    shown = client.get(f"/api/v1/provisioning/jobs/{job.id}", headers=admin)
    assert shown.status_code == 200 and shown.json()["failed_task"] == failed.failed_task

    retried = client.post(f"/api/v1/provisioning/jobs/{job.id}/retry", headers=admin)
    assert retried.status_code == 201, retried.text
    new_id = retried.json()["id"]
    assert "fail_after_volume" not in retried.json()["extravars"]
    assert jobs.run_now(new_id) == JobStatus.SUCCEEDED, _fresh(session, Job, new_id).stdout[-2000:]
    vm_now = _fresh(session, type(vm), vm.id)
    assert vm_now.state == "running" and vm_now.ip_address is not None
    assert dominfo(vm.name)["State"] == "running"

    # secrets: the SSH private key and the SNMP community appear nowhere
    key_body = "".join(lab.sshd.client_key.strip().splitlines()[1:-1])
    needles = [key_body[:40], key_body[-40:], COMMUNITY]
    haystacks = [j.stdout + repr(j.extravars) + j.error for j in session.execute(select(Job)).scalars()]
    haystacks += [repr(e.model_dump()) for e in session.execute(select(JobEvent)).scalars()]
    haystacks.append(caplog.text)
    paths = (f"/api/v1/provisioning/jobs/{job.id}", f"/api/v1/provisioning/jobs/{new_id}",
             "/api/v1/provisioning/jobs", "/api/v1/provisioning/hypervisors", "/api/v1/dcim/credentials",
             f"/api/v1/dcim/devices/{lab.host.id}")
    session.commit()  # after the last attribute load: an expired object's refresh opens a transaction
    for path in paths:
        response = client.get(path, headers=admin)
        assert response.status_code == 200, (path, response.text)
        haystacks.append(response.text)
    assert len(haystacks) > 8
    for needle in needles:
        assert all(needle not in h for h in haystacks), "a secret leaked"
    assert any("Fail on purpose" in h for h in haystacks)  # the haystacks do hold the jobs' output
