"""Provision jobs of one hypervisor run as ONE batched playbook run: each keeps its own outcome, events, output
and rollback; a second batch changes nothing; the job runner groups what it claims."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import select

from dcops.auth.actor import SYSTEM
from dcops.provisioning import jobs, service
from dcops.provisioning.choices import JobStatus
from dcops.provisioning.models import Job, JobEvent
from tests.provisioning.conftest import Lab, dominfo, new_vm
from tests.provisioning.seed import check_seed, read_seed


def _fresh(session: Any, model: Any, id_: int) -> Any:
    session.expire_all()
    obj = session.get(model, id_)
    session.commit()  # end the read transaction: SQLite writers (the runner) must not wait for it
    return obj


def _claim(session: Any, ids: list[int]) -> None:
    for job_id in ids:
        assert jobs.claim_job(session, job_id)


def test_batch_keeps_each_jobs_outcome_and_is_idempotent(session: Any, lab: Lab) -> None:
    good, bad = new_vm(session, lab, "bgood"), new_vm(session, lab, "bbad")
    [ok_job] = service.launch(session, actor=SYSTEM, vm_ids=[good.id])
    [bad_job] = service.launch(session, actor=SYSTEM, vm_ids=[bad.id], extravars={"fail_after_volume": True})
    assert jobs._groups([(ok_job.id, "provision", lab.host.id), (bad_job.id, "provision", lab.host.id),
                         (99, "stop", lab.host.id)]) == [[ok_job.id, bad_job.id], [99]]
    _claim(session, [ok_job.id, bad_job.id])
    outcome = jobs.execute_batch([ok_job.id, bad_job.id])
    assert outcome == {ok_job.id: JobStatus.SUCCEEDED, bad_job.id: JobStatus.FAILED}, \
        _fresh(session, Job, ok_job.id).stdout[-3000:]

    assert dominfo(good.name)["State"] == "running"
    assert dominfo(bad.name) == {} and not os.path.exists(f"{lab.libvirt.pool_path}/{bad.name}.qcow2")
    done, failed = _fresh(session, Job, ok_job.id), _fresh(session, Job, bad_job.id)
    assert done.changed > 0 and done.error == ""
    assert failed.failed_task == "Fail on purpose after the volume (tests only)" and "rolled back" in failed.error
    # each job's output and events are its own: no line about the other VM
    assert bad.name not in done.stdout and good.name not in failed.stdout
    assert f"job-{ok_job.id}" in done.stdout and f"job-{bad_job.id}" not in done.stdout
    events = session.execute(select(JobEvent).where(JobEvent.job_id == ok_job.id)).scalars().all()
    assert {e.host for e in events if e.host} == {f"job-{ok_job.id}"}
    assert any(e.task == "Start the domain" and e.status == "changed" for e in events)
    assert _fresh(session, type(good), good.id).state == "running"
    assert _fresh(session, type(bad), bad.id).state == "failed"

    # the same two VMs again (the failed one now without the failure): the running one changes nothing
    bad_vm = _fresh(session, type(bad), bad.id)
    again = [Job(action="provision", vm_id=vm.id, vm_name=vm.name, agency_id=vm.agency_id, host_id=vm.host_id,
                 extravars=extravars, created_by="test")
             for vm, extravars in ((good, ok_job.extravars),
                                   (bad_vm, {k: v for k, v in bad_job.extravars.items() if k != "fail_after_volume"}))]
    session.add_all(again)
    session.commit()
    ids = [j.id for j in again]
    _claim(session, ids)
    assert jobs.execute_batch(ids) == dict.fromkeys(ids, JobStatus.SUCCEEDED)
    assert _fresh(session, Job, ids[0]).changed == 0, _fresh(session, Job, ids[0]).stdout[-2000:]
    assert _fresh(session, Job, ids[1]).changed > 0
    assert dominfo(bad.name)["State"] == "running"
    # one play, one inventory alias per VM: each seed holds its own VM's name and address, not the other's
    check_seed(session, lab, _fresh(session, type(good), good.id))
    other, its = read_seed(f"{lab.libvirt.pool_path}/{bad.name}-seed.iso"), _fresh(session, Job, ids[1]).extravars
    assert other["meta-data"]["local-hostname"] == bad.name
    assert other["network-config"]["ethernets"]["primary"]["addresses"] == [
        f"{its['ip_address']}/{its['prefix_length']}"]
    assert its["ip_address"] not in ("", _fresh(session, type(good), good.id).ip_address)


def test_recent_preflight_is_reused_then_checked_again(session: Any, lab: Lab) -> None:
    from datetime import timedelta

    from dcops.database import utcnow
    from dcops.provisioning.models import HypervisorAccess

    access_id, host_id = lab.access.id, lab.host.id
    session.commit()  # no transaction left open here (SQLite): _target writes in its own

    def checked_at() -> Any:
        return _fresh(session, HypervisorAccess, access_id).preflight_at

    def set_access(**values: Any) -> None:
        access = session.get(HypervisorAccess, access_id)
        for name, value in values.items():
            setattr(access, name, value)
        session.commit()

    service.run_preflight(session, access=session.get(HypervisorAccess, access_id))
    passed = checked_at()
    assert jobs._target(host_id).address == "127.0.0.1"
    assert checked_at() == passed  # passed just now: not checked again
    set_access(preflight_at=utcnow() - timedelta(seconds=jobs.PREFLIGHT_FRESH_S + 1))
    jobs._target(host_id)
    assert checked_at() > passed  # too old: checked again (and recorded)
    set_access(preflight_ok=False, preflight_at=utcnow())
    jobs._target(host_id)
    assert _fresh(session, HypervisorAccess, access_id).preflight_ok  # a failed one is never reused
