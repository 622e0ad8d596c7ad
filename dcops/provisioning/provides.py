"""Provisioning's work for the engine: running a job, and the periodic lease reaper, job dispatch and reconcile."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from dcops.capacity.hooks import VM_BUSY, VM_FAILURE
from dcops.database import session_scope
from dcops.engine.dispatch import submit
from dcops.engine.hooks import PERIODIC, TASKS, Periodic, Task
from dcops.provisioning.choices import JobStatus
from dcops.provisioning.jobs import claim_job, execute, reap_expired
from dcops.provisioning.models import Job
from dcops.provisioning.reconcile import reconcile
from dcops.provisioning.service import has_active_job, last_failure


def run_job(job_id: int) -> str:
    """Claim one queued provisioning job and run it under a lease; a job someone else holds is left alone."""
    with session_scope() as session:
        if not claim_job(session, job_id):
            return "not-queued"
    return str(execute(job_id))


def dispatch_jobs() -> int:
    """Send every queued job to the jobs queue (a lost message, a job queued by the API); return how many."""
    with session_scope() as session:
        ids = list(session.exec(select(col(Job.id)).where(col(Job.status) == JobStatus.QUEUED)
                                .order_by(col(Job.id)).limit(100)).all())
    for job_id in ids:
        if job_id is not None:
            submit("jobs", "dcops.run_job", job_id)
    return len(ids)


def reconcile_now() -> dict[str, Any]:
    """Compare hypervisors with dcops (reports drift, never deletes)."""
    with session_scope() as session:
        return reconcile(session).as_dict()


# acknowledged when received: a job can outlast the broker's consumer timeout; its database lease guards it
TASKS.register(Task("dcops.run_job", run_job, acks_late=False))

PERIODIC.register(Periodic("reap_leases", reap_expired, queue="jobs", period_s=10.0))
PERIODIC.register(Periodic("dispatch_jobs", dispatch_jobs, queue="jobs", period_s=15.0))
PERIODIC.register(Periodic("reconcile", reconcile_now, queue="jobs", period_s=600.0))

# capacity asks before a cancel deletes a VM that a job is building, and shows why a VM's job failed
VM_BUSY.register(has_active_job)
VM_FAILURE.register(last_failure)
