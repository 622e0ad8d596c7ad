"""kill -9 of a worker mid-job, beside a live worker on another host (Celery on RabbitMQ, PostgreSQL, libvirt).

Two ``dcops worker`` processes that name themselves host-a and host-b, and one ``dcops scheduler`` (dispatch and
lease reaping every 2 s). Host-a runs a provision, host-b another. The provisions hold once their domain runs
(a task added to a copy of the playbooks, released by the test), so the kill lands mid-job every time. After
``kill -9`` of host-a's worker and its ansible-playbook:

- host-a's job ends exactly once: failed by the lease reaper once, one cleanup job, which succeeds, and the VM left
  ``failed`` with nothing on the hypervisor; within 2 lease periods of the kill (database timestamps);
- host-b's job, running all along on a live worker, is never touched and succeeds.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from dcops.auth.actor import SYSTEM
from dcops.database import utcnow
from dcops.provisioning import service
from dcops.provisioning.jobs import STOPPED_REASON
from dcops.provisioning.models import Job, JobEvent
from tests.engine.cluster import Cluster, wait_for
from tests.provisioning import conftest as prov
from tests.provisioning.conftest import (  # noqa: F401 - fixtures used by name
    Lab,
    LibvirtLab,
    dominfo,
    lab,
    libvirt_daemons,
    new_vm,
    sshd,
)

pytestmark = pytest.mark.postgresql_only
LEASE_S = 6.0
@pytest.fixture(scope="module")
def libvirt_lab(libvirt_daemons: None) -> Any:  # noqa: F811 - this module's own network and pool
    prefix = f"{prov.RUN_PREFIX}k"
    built = LibvirtLab(prefix=prefix, network=f"{prefix}-iso", pool=f"{prefix}-pool",
                       pool_path=f"/var/lib/libvirt/images/{prefix}")
    xml = Path(f"/tmp/{prefix}-net.xml")
    xml.write_text(f"<network><name>{built.network}</name></network>")  # isolated: no <forward>, no <ip>
    prov.virsh("net-define", str(xml))
    prov.virsh("net-start", built.network)
    xml.unlink()
    yield built
    prov.cleanup_libvirt(prefix, built.pool, built.pool_path, built.network)


def _job(session: Any, job_id: int) -> Job:
    session.expire_all()
    job = session.get(Job, job_id)
    session.commit()  # hold no transaction while the workers write
    return job


def _holding(session: Any, job_id: int) -> bool:
    count = session.execute(select(func.count()).select_from(JobEvent).where(
        JobEvent.job_id == job_id, JobEvent.task.like("Hold here%"))).scalar_one()
    session.commit()
    return bool(count)


def test_a_killed_workers_job_ends_once_within_two_leases_and_the_other_hosts_job_is_untouched(
        session: Any, lab: Lab, tmp_path: Path) -> None:  # noqa: F811
    hold = tmp_path / "hold"
    hold.mkdir()
    books = prov.playbooks_that_hold(tmp_path / "playbooks", f"{hold}/{{{{ vm_name }}}}")
    cluster = Cluster(tmp_path, extra_env={"DCOPS_JOB_LEASE_S": str(LEASE_S), "DCOPS_PLAYBOOK_DIR": str(books),
                                           "DCOPS_EVERY_REAP_LEASES": "2", "DCOPS_EVERY_DISPATCH_JOBS": "2",
                                           "DCOPS_EVERY_RECONCILE": "0"})  # no reconcile run ahead of the jobs
    vm_a, vm_b = new_vm(session, lab, "victim"), new_vm(session, lab, "live")
    for vm in (vm_a, vm_b):
        (hold / vm.name).touch()
    try:
        cluster.scheduler("scheduler", tick=1.0)
        cluster.worker("worker-a", host="host-a", queues="jobs", concurrency=1)
        [job_a] = service.launch(session, actor=SYSTEM, vm_ids=[vm_a.id])
        wait_for(lambda: (_job(session, job_a.id).worker or "").startswith("host-a:") and _holding(session, job_a.id),
                 "host-a to run its provision up to the hold")
        cluster.worker("worker-b", host="host-b", queues="jobs", concurrency=3)
        [job_b] = service.launch(session, actor=SYSTEM, vm_ids=[vm_b.id])
        wait_for(lambda: _job(session, job_b.id).status == "running" and _holding(session, job_b.id),
                 "host-b to run the second provision up to the hold")
        assert _job(session, job_b.id).worker.startswith("host-b:")  # host-a's only slot is busy

        killed_at = utcnow()
        cluster.kill9("worker-a")  # the worker and its ansible-playbook, mid-job
        assert _job(session, job_a.id).status == "running"
        (hold / vm_b.name).unlink()  # host-b's job goes on
        wait_for(lambda: session.execute(select(Job).where(Job.retry_of == job_a.id, Job.status.in_(
            ("succeeded", "failed")))).first() is not None or bool(session.rollback()), "the cleanup of host-a's job")
        wait_for(lambda: _job(session, job_b.id).status != "running", "host-b's job to end")
    finally:
        for name in list(hold.iterdir()):
            name.unlink()
        cluster.stop()
    dead, live = _job(session, job_a.id), _job(session, job_b.id)
    assert dead.status == "failed" and dead.error == STOPPED_REASON
    assert dead.finished_at - killed_at <= timedelta(seconds=2 * LEASE_S), (dead.finished_at, killed_at)
    cleanups = session.execute(select(Job).where(Job.retry_of == job_a.id)).scalars().all()
    assert [(c.action, c.status) for c in cleanups] == [("cleanup", "succeeded")], [c.stdout[-1500:] for c in cleanups]
    reaped = cluster.log("worker-b").count(f"job {job_a.id}: {STOPPED_REASON} (its lease expired); marked failed")
    assert reaped == 1, cluster.log("worker-b")[-3000:]  # failed once, by one reaper
    assert session.get(type(vm_a), vm_a.id).state == "failed" and dominfo(vm_a.name) == {}
    assert live.status == "succeeded" and live.worker.startswith("host-b:"), live.error
    assert session.execute(select(Job).where(Job.retry_of == job_b.id)).first() is None  # never touched
    assert session.get(type(vm_b), vm_b.id).state == "running" and dominfo(vm_b.name).get("State") == "running"
    session.rollback()
