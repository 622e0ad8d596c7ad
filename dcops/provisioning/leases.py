"""Job leases: which worker holds a running job, until when, and the heartbeat that renews the claim.

A claim is one conditional UPDATE (queued -> running, naming this worker and a ``lease_until``); the heartbeat
renews it every third of :data:`LEASE_S` while the playbook runs. A worker that dies stops renewing, and the
reaper (:func:`dcops.provisioning.jobs.reap_expired`) fails its jobs once their lease has passed.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, col

from dcops.database import session_scope, utcnow
from dcops.provisioning.choices import JobStatus
from dcops.provisioning.models import Job

log = logging.getLogger(__name__)

#: seconds a claim lasts without a heartbeat (renewed every third of it)
LEASE_S = float(os.environ.get("DCOPS_JOB_LEASE_S", "60"))


def worker_id() -> str:
    """Name this process as job runner: host:pid (``DCOPS_WORKER_HOST`` overrides the host name)."""
    return f"{os.environ.get('DCOPS_WORKER_HOST') or socket.gethostname()}:{os.getpid()}"


def rows_changed(result: Any) -> int:
    """Return how many rows an UPDATE changed (its result is a CursorResult)."""
    assert isinstance(result, CursorResult)
    return result.rowcount


def _lease_values() -> dict[str, Any]:
    now = utcnow()
    return {"worker": worker_id(), "lease_until": now + timedelta(seconds=LEASE_S), "heartbeat_at": now}


def claim_job(session: Session, job_id: int) -> bool:
    """Claim job ``job_id`` for this worker if it is still queued (one conditional update; commits)."""
    result = session.execute(update(Job).where(col(Job.id) == job_id, col(Job.status) == JobStatus.QUEUED)
                             .values(status=JobStatus.RUNNING, started_at=utcnow(), **_lease_values()))
    session.commit()
    return rows_changed(result) == 1


def claim(session: Session) -> int | None:
    """Take the oldest queued job for this process and mark it running under a lease; return its id."""
    for job_id in session.execute(select(col(Job.id)).where(col(Job.status) == JobStatus.QUEUED).order_by(col(Job.id))
                                  .limit(10)).scalars().all():
        if claim_job(session, int(job_id)):
            return int(job_id)
    session.commit()
    return None


def renew(job_id: int) -> bool:
    """Renew this worker's lease on a running job; False if the job is no longer ours (reaped or finished)."""
    with session_scope() as session:
        result = session.execute(update(Job).where(col(Job.id) == job_id, col(Job.status) == JobStatus.RUNNING,
                                                   col(Job.worker) == worker_id()).values(**_lease_values()))
        return rows_changed(result) == 1


class Heartbeat:
    """Renew a job's lease every third of LEASE_S in a daemon thread, while the job runs."""

    def __init__(self, job_id: int) -> None:
        self.job_id, self.lost = job_id, False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{job_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stop.wait(LEASE_S / 3):
            try:
                if not renew(self.job_id):
                    self.lost = True
                    log.error("job %s: lease lost (another runner reaped it); its outcome will not be recorded",
                              self.job_id)
                    return
            except Exception:  # the database is briefly away: try again at the next beat, the lease still runs
                log.warning("job %s: could not renew its lease", self.job_id, exc_info=True)


def _alive(worker: str) -> bool:
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's worker: only recovered when that worker is gone for good
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def expired(job: Job, now: Any) -> bool:
    """Tell whether a running job's claim has lapsed (its worker stopped renewing, or is gone)."""
    if job.lease_until is not None:
        return bool(job.lease_until < now)
    # a job claimed before leases existed: only its own host can tell that its process is gone
    return job.worker != worker_id() and not _alive(job.worker)
