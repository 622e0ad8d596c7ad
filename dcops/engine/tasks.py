"""The task bodies: plain functions, called by Celery in ``dcops worker`` or directly in embedded mode.

Each takes ids (never objects), reads what it needs and is idempotent: a message the broker delivers twice does
no double work (a poll slice skips devices recorded this interval, a job is claimed by one conditional update,
an outbox row by its lease).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any

log = logging.getLogger("dcops.engine.tasks")


def poll_slice(device_ids: list[int], deadline_s: float | None = None, sent_at: float | None = None
               ) -> dict[str, float]:
    """Poll and record a slice of devices (skipping those recorded since it was sent)."""
    from dcops.engine.polling import poll_slice as run

    return run(device_ids, deadline_s, sent_at)


def run_job(job_id: int) -> str:
    """Claim one queued provisioning job and run it under a lease; a job someone else holds is left alone."""
    from dcops.database import session_scope
    from dcops.provisioning.jobs import claim_job, execute

    with session_scope() as session:
        if not claim_job(session, job_id):
            return "not-queued"
    return str(execute(job_id))


def deliver_outbox(outbox_id: int) -> bool:
    """Deliver one notification from the outbox (at least once; dedup id sent)."""
    from dcops.monitoring.notify import deliver_outbox as deliver

    return deliver(outbox_id)


# --- periodic work (the scheduler enqueues these by name) ------------------------------------------------


def reap_leases() -> list[int]:
    """Fail and clean up every job whose lease expired."""
    from dcops.provisioning.jobs import reap_expired

    return reap_expired()


def drain_outbox() -> int:
    """Deliver again whatever the outbox holds unclaimed."""
    from dcops.monitoring.notify import drain_outbox as drain

    return drain()


def compact_history() -> int:
    """Downsample and prune metric history (in SQL), and create the next partitions ahead."""
    from dcops.database import session_scope
    from dcops.monitoring.partitions import compact, ensure_partitions

    with session_scope() as session:
        ensure_partitions(session)
    with session_scope() as session:
        return compact(session)


def reconcile() -> dict[str, Any]:
    """Compare hypervisors with dcops (reports drift, never deletes)."""
    from dcops.database import session_scope
    from dcops.provisioning.reconcile import reconcile as run

    with session_scope() as session:
        return run(session).as_dict()


def snmp_audit() -> int:
    """Audit every device's SNMP configuration once."""
    from dcops.monitoring.audit import audit_round

    return len(asyncio.run(audit_round()))


def dispatch_jobs() -> int:
    """Send every queued job to the jobs queue (a lost message, a job queued by the API); return how many."""
    from sqlalchemy import select

    from dcops.database import session_scope
    from dcops.engine.dispatch import submit
    from dcops.provisioning.choices import JobStatus
    from dcops.provisioning.models import Job

    with session_scope() as session:
        ids = list(session.execute(select(Job.id).where(Job.status == JobStatus.QUEUED).order_by(Job.id)
                                   .limit(100)).scalars())
    for job_id in ids:
        submit("jobs", "dcops.run_job", job_id)
    return len(ids)


def check_stale_polls() -> int:
    """Raise ``device_not_polled`` for devices not recorded within 2 intervals (and clear it when they are)."""
    from dcops.engine.staleness import check

    return check()


PERIODIC: dict[str, tuple[Callable[[], Any], str, float]] = {
    # name: (body, queue, default period in seconds; DCOPS_EVERY_<NAME> overrides)
    "reap_leases": (reap_leases, "jobs", 10.0),
    "dispatch_jobs": (dispatch_jobs, "jobs", 15.0),
    "drain_outbox": (drain_outbox, "notify", 10.0),
    "check_stale_polls": (check_stale_polls, "poll", 30.0),
    "compact_history": (compact_history, "poll", 300.0),
    "reconcile": (reconcile, "jobs", 600.0),
    "snmp_audit": (snmp_audit, "poll", float(os.environ.get("DCOPS_AUDIT_INTERVAL", "0") or 0)),
}


def periodic(name: str) -> Any:
    """Run one periodic job by name."""
    body = PERIODIC[name][0]
    return body()


BODIES: dict[str, Callable[..., Any]] = {
    "dcops.poll_slice": poll_slice,
    "dcops.run_job": run_job,
    "dcops.deliver_outbox": deliver_outbox,
    "dcops.periodic": periodic,
}
