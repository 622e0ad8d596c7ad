"""Job leases: an expired lease is reaped exactly once, a live one (any host) never; a late finisher writes nothing."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from dcops.database import utcnow
from dcops.provisioning import jobs
from dcops.provisioning.choices import JobStatus
from dcops.provisioning.models import Job
from dcops.virtualization.models import VirtualMachine


def _running(session: Any, vm: Any, *, worker: str, lease_s: float, action: str = "provision") -> Job:
    job = Job(action=action, status="running", vm_id=vm.id, vm_name=vm.name, agency_id=vm.agency_id,
              worker=worker, started_at=utcnow(), lease_until=utcnow() + timedelta(seconds=lease_s))
    session.add(job)
    session.commit()
    return job


def test_expired_lease_is_reaped_once_and_a_live_one_on_another_host_never(session: Any, factory: Any) -> None:
    agency, cluster = factory.agency(), factory.cluster()
    dead_vm = factory.vm(agency, cluster, state="provisioning")
    live_vm = factory.vm(agency, cluster, state="provisioning")
    dead = _running(session, dead_vm, worker="host-b:4242", lease_s=-5)
    live = _running(session, live_vm, worker="host-c:4343", lease_s=300)

    reaped: list[list[int]] = []
    threads = [threading.Thread(target=lambda: reaped.append(jobs.reap_expired())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(sum(reaped, [])) == [dead.id]  # three reapers at once: one of them reaps it
    session.expire_all()
    assert session.get(Job, dead.id).status == "failed"
    assert session.get(Job, dead.id).error == jobs.STOPPED_REASON
    assert session.get(Job, live.id).status == "running"  # another host's live worker: untouched
    cleanups = session.execute(select(Job).where(Job.retry_of == dead.id)).scalars().all()
    assert [(c.action, c.status) for c in cleanups] == [("cleanup", "queued")]
    assert session.execute(select(Job).where(Job.retry_of == live.id)).first() is None
    assert session.get(type(dead_vm), dead_vm.id).state == "failed"
    session.commit()  # never hold SQLite's write lock while another writer runs
    assert jobs.reap_expired() == []  # and never again


def test_heartbeat_keeps_the_lease_and_a_reaped_job_is_not_overwritten_by_its_late_worker(
        session: Any, factory: Any) -> None:
    vm = factory.vm(factory.agency(), factory.cluster(), state="provisioning")
    job = Job(action="start", status="queued", vm_id=vm.id, vm_name=vm.name)
    session.add(job)
    session.commit()
    assert jobs.claim_job(session, job.id)
    assert not jobs.claim_job(session, job.id)  # a second delivery of the same message claims nothing
    session.expire_all()
    first_lease = session.get(Job, job.id).lease_until
    session.commit()
    assert jobs.renew(job.id)
    session.expire_all()
    assert session.get(Job, job.id).lease_until >= first_lease
    assert session.get(Job, job.id).worker == jobs.worker_id()
    session.commit()
    # the lease runs out (the worker stalled): a reaper fails the job
    session.get(Job, job.id).lease_until = utcnow() - timedelta(seconds=1)
    session.commit()
    assert jobs.reap_expired() == [job.id]
    assert not jobs.renew(job.id)  # the stalled worker learns it lost the job
    # its late outcome, recorded the way a worker records a batch's endings, writes nothing: not the job, not the VM
    session.expire_all()
    late = session.get(Job, job.id)
    session.expunge(late)
    session.commit()
    jobs._record([(late, jobs._Ending(JobStatus.SUCCEEDED, stdout="late"))])
    session.expire_all()
    assert session.get(Job, job.id).status == "failed"
    assert "late" not in (session.get(Job, job.id).stdout or "")
    assert session.get(VirtualMachine, vm.id).state != "running"
