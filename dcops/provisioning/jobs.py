"""The job runner: claim queued jobs, run their playbook through :mod:`runner`, apply the outcome.

A unit of work is :func:`execute` (one job id): it reads what it needs, records every event and its
result through the database; :func:`work` runs many of them in threads (embedded mode) and the Celery task
``dcops.run_job`` runs one (``dcops worker``).

Claiming is a lease: :func:`claim_job` moves a job from ``queued`` to ``running`` in one conditional update,
naming this worker and a ``lease_until`` that a heartbeat thread renews every third of :data:`LEASE_S` while
the playbook runs. A worker that dies stops renewing; :func:`reap_expired` (run periodically by every job
runner and by the scheduler) fails each job whose lease expired, in a conditional update so that it happens
exactly once however many reapers run, and queues its cleanup. A live worker's job always has a fresh lease,
so no reaper on any host ever touches it; a late finisher that lost its lease writes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlmodel import Session, col

from dcops.auth.actor import Actor
from dcops.auth.choices import Role
from dcops.database import get_engine, session_scope, utcnow
from dcops.exceptions import ConflictError
from dcops.provisioning import runner
from dcops.provisioning import service as svc
from dcops.provisioning.choices import PLAYBOOKS, JobAction, JobStatus
from dcops.provisioning.events import EventWriter
from dcops.provisioning.leases import (
    LEASE_S,
    Heartbeat,
    claim,
    claim_job,
    expired,
    renew,
    rows_changed,
    worker_id,
)
from dcops.provisioning.models import Job, JobEvent
from dcops.provisioning.preflight import PreflightError
from dcops.virtualization.models import VirtualMachine, VMState
from dcops.virtualization.service import virtual_machines

__all__ = ["LEASE_S", "PREFLIGHT_FRESH_S", "STOPPED_REASON", "Heartbeat", "claim", "claim_job", "execute",
           "execute_batch", "reap_expired", "recover", "renew", "run_now", "work", "worker_id"]

log = logging.getLogger(__name__)

STOPPED_REASON = "dcops stopped during the run"
#: seconds a passed pre-flight stays good for the next job on the same hypervisor
PREFLIGHT_FRESH_S = float(os.environ.get("DCOPS_PREFLIGHT_FRESH_S", "10"))


class _Stored(Protocol):
    id: int | None


def _pk(row: _Stored) -> int:
    """Return the id of a row already flushed (the database set it)."""
    assert row.id is not None, "row not flushed yet"
    return row.id


def _actor(job: Job) -> Actor:
    return Actor(user_id=None, username=f"job:{job.id}", role=Role.ADMIN)


class _Recorder:
    """Store a job's events as they come, and answer whether the job was cancelled (at most once a second)."""

    def __init__(self, job_id: int, base_seq: int, writer: EventWriter) -> None:
        self.job_id, self.base_seq, self.writer = job_id, base_seq, writer
        self.first_failed_task = ""
        self.last_seq = base_seq
        self._checked, self._cancelled = 0.0, False

    def on_event(self, event: runner.Event) -> None:
        seq = self.base_seq + event.seq
        self.last_seq = max(self.last_seq, seq)
        if event.status == "failed" and not self.first_failed_task:
            self.first_failed_task = event.task
        self.writer.add(JobEvent(job_id=self.job_id, seq=seq, event=event.event, task=event.task, host=event.host,
                                 status=event.status, changed=event.changed, duration_s=event.duration_s,
                                 message=event.message))

    def should_cancel(self) -> bool:
        now = time.monotonic()
        if now - self._checked >= 1.0:
            self._checked = now
            with Session(get_engine()) as session:
                self._cancelled = bool(session.execute(
                    select(col(Job.cancel_requested)).where(col(Job.id) == self.job_id)).scalar())
        return self._cancelled

    @property
    def cancelled(self) -> bool:
        """Whether the job was seen cancelled (by the last ``should_cancel``)."""
        return self._cancelled


def _target(host_id: int | None, *, deferred: bool = False) -> Any:
    """Pre-flight the hypervisor (raises PreflightError) and return how to reach it.

    A hypervisor that passed a pre-flight less than :data:`PREFLIGHT_FRESH_S` ago is not checked again (a burst
    of jobs to one host pays one check); its pinned host key is still enforced by every SSH connection of the run
    (strict checking against a known_hosts file holding only the pinned key). With ``deferred``, return
    (target, the due pre-flight or None) instead: the runner runs it while ansible-playbook starts up.
    """
    if host_id is None:  # the host was deleted after the job was queued
        raise ConflictError("the job has no hypervisor any more (its host was removed)")
    with session_scope() as session:
        access = svc.access_for(session, host_id)
        target = svc.target_for(session, access)
        checked = access.preflight_at
        if checked is not None and checked.tzinfo is None:
            checked = checked.replace(tzinfo=UTC)
        fresh = (access.preflight_ok and checked is not None
                 and timedelta(0) <= utcnow() - checked < timedelta(seconds=PREFLIGHT_FRESH_S))
        if not fresh and not deferred:
            svc.run_preflight(session, access=access, raise_on_error=True)
    return (target, None if fresh else lambda: _target(host_id)) if deferred else target


def _play(job: Job, playbook: str, extravars: dict[str, Any], base_seq: int) -> tuple[runner.Outcome, _Recorder]:
    target, check = _target(job.host_id, deferred=True)
    with EventWriter() as writer:
        recorder = _Recorder(_pk(job), base_seq, writer)
        outcome = runner.run_playbook(runner.Run(
            playbook=playbook, address=target.address, port=target.port, user=target.user,
            host_key=target.host_key, private_key=target.private_key, passphrase=target.passphrase,
            extravars=extravars, timeout_s=job.timeout_s, on_event=recorder.on_event,
            should_cancel=recorder.should_cancel, preflight=check))
    return outcome, recorder


@dataclass(frozen=True)
class _Ending:
    """How a job ended, to record: its status and what goes with it."""

    status: JobStatus
    error: str = ""
    failed_task: str = ""
    rc: int | None = None
    stdout: str = ""
    changed: int = 0


def _finish_in(session: Session, job_id: int, end: _Ending) -> bool:
    """Record a job's end in ``session`` if this worker still holds it running; False (nothing written) if not."""
    job = session.get(Job, job_id, with_for_update=True)
    assert job is not None
    if job.status != JobStatus.RUNNING or job.worker != worker_id():
        log.error("job %s: ended here but is %s under %s; not recorded", job_id, job.status, job.worker)
        return False
    job.status, job.error, job.failed_task, job.rc = end.status, end.error[:2000], end.failed_task[:300], end.rc
    job.lease_until = None
    job.stdout = (job.stdout + end.stdout) if job.stdout else end.stdout
    job.changed, job.finished_at = end.changed, utcnow()
    return True


def _apply_in(session: Session, job: Job, succeeded: bool) -> None:
    """Move the VM to the state the job's outcome implies (addresses freed by the VM service's hook)."""
    if job.vm_id is None or session.get(VirtualMachine, job.vm_id) is None:
        return
    action, data = JobAction(job.action), dict[str, Any]()
    if succeeded:
        done_states: dict[JobAction, dict[str, Any]] = {
            JobAction.PROVISION: {"state": VMState.RUNNING}, JobAction.START: {"state": VMState.RUNNING},
            JobAction.STOP: {"state": VMState.STOPPED},
            JobAction.DECOMMISSION: {"state": VMState.DECOMMISSIONED, "ip_address": None}}
        data = done_states.get(action, {})
    elif action in (JobAction.PROVISION, JobAction.CLEANUP):
        data = {"state": VMState.FAILED, "ip_address": None}
    elif action == JobAction.RESIZE and "previous" in job.extravars:
        data = dict(job.extravars["previous"])
    if data:
        virtual_machines.update(session, actor=_actor(job), id=job.vm_id, data=data,
                                options={"skip_quota": True}, commit=False)


def _apply_to_vm(job: Job, succeeded: bool) -> None:
    with session_scope() as session:
        _apply_in(session, job, succeeded)


def _record(endings: list[tuple[Job, _Ending]]) -> None:
    """Record how jobs ended and move their VMs, all in ONE transaction (in job order, so row locks never cross).

    Each job only if this worker still holds it running (conditional, so an outcome is applied at most once, also
    beside reapers in other processes). Should that transaction fail (one VM's update refused, say), each job is
    recorded in its own, so that the others still are.
    """
    endings = sorted(endings, key=lambda item: _pk(item[0]))
    try:
        with session_scope() as session:
            for job, end in endings:
                if _finish_in(session, _pk(job), end):
                    _apply_in(session, job, succeeded=end.status == JobStatus.SUCCEEDED)
        return
    except Exception:
        if len(endings) == 1:
            raise
        log.warning("jobs %s: recording them together failed; one by one", [j.id for j, _ in endings], exc_info=True)
    for job, end in endings:
        with session_scope() as session:
            recorded = _finish_in(session, _pk(job), end)
        if recorded:
            _apply_to_vm(job, succeeded=end.status == JobStatus.SUCCEEDED)


def _changed(stdout: str) -> int:
    total = 0
    for line in stdout.splitlines():
        if "changed=" in line and ("ok=" in line):
            part = line.split("changed=", 1)[1].split()[0]
            total += int(part) if part.isdigit() else 0
    return total


def execute(job_id: int) -> JobStatus:
    """Run one claimed job to its end under a renewed lease and record the outcome; return its final status."""
    with Heartbeat(job_id):
        return _execute(job_id)


def _execute(job_id: int) -> JobStatus:
    with session_scope() as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
    action = JobAction(job.action)
    extravars = dict(job.extravars)
    extravars.pop("previous", None)
    try:
        outcome, recorder = _play(job, PLAYBOOKS[action], extravars, 0)
    except PreflightError as exc:
        _record([(job, _Ending(JobStatus.FAILED, f"pre-flight failed: {exc.message}", "pre-flight"))])
        return JobStatus.FAILED
    except Exception as exc:  # the runner itself broke: record it rather than leave the job running
        log.exception("job %s crashed", job_id)
        _record([(job, _Ending(JobStatus.FAILED, f"job runner error: {type(exc).__name__}: {exc}"[:2000]))])
        return JobStatus.FAILED
    end = _ending(job, outcome.status, outcome.rc, outcome.stdout, recorder)
    _record([(job, end)])
    return end.status


def _ending(job: Job, outcome_status: str, rc: int | None, stdout: str, recorder: _Recorder) -> _Ending:
    """Say how a job's run ended (rolling back a provision that did not succeed), to record."""
    action = JobAction(job.action)
    extravars = {k: v for k, v in job.extravars.items() if k != "previous"}
    status = {"successful": JobStatus.SUCCEEDED, "canceled": JobStatus.CANCELLED}.get(outcome_status,
                                                                                      JobStatus.FAILED)
    error = {"timeout": f"timed out after {job.timeout_s} s", "canceled": "cancelled on request",
             "failed": f"playbook failed at task '{recorder.first_failed_task}'" if recorder.first_failed_task
             else f"playbook failed (rc={rc})"}.get(outcome_status, "")
    output = stdout
    if status != JobStatus.SUCCEEDED and action == JobAction.PROVISION:
        # roll back: remove whatever the interrupted or failed run left (the playbook's rescue may have already)
        try:
            cleanup, _ = _play(job, PLAYBOOKS[JobAction.CLEANUP], extravars, recorder.last_seq + 1000)
            output += "\n--- rollback ---\n" + cleanup.stdout
            error += "; rolled back" if cleanup.status == "successful" else "; ROLLBACK FAILED, check the host"
        except Exception as exc:  # keep the job's own failure; report the rollback's too
            error += f"; rollback could not run: {exc}"
    return _Ending(status, error, recorder.first_failed_task, rc, output, _changed(stdout))


def execute_batch(job_ids: list[int]) -> dict[int, JobStatus]:
    """Run claimed provision jobs of ONE hypervisor as one batched playbook run; return each job's status.

    One pre-flight and one ``ansible-playbook`` for all (``runner.Run.members``: each job an inventory alias
    with its own variables), the jobs in parallel. Each job keeps its own events, output, outcome and rollback.
    A cancel stops the run: the cancelled jobs end cancelled (rolled back), the others run again at once (the
    playbook is idempotent, so that finishes what the interrupted run started).
    """
    with contextlib.ExitStack() as stack:
        for job_id in job_ids:
            stack.enter_context(Heartbeat(job_id))
        return _execute_batch(job_ids)


def _execute_batch(job_ids: list[int]) -> dict[int, JobStatus]:
    with session_scope() as session:
        batch = [session.get(Job, i) for i in job_ids]
        for job in batch:
            assert job is not None
            session.expunge(job)
    todo = {_pk(job): job for job in batch if job is not None}
    done: dict[int, JobStatus] = {}
    base = dict.fromkeys(todo, 0)
    while todo:
        first = next(iter(todo.values()))
        writer = EventWriter()
        recorders = {job_id: _Recorder(job_id, base[job_id], writer) for job_id in todo}
        alias = {f"job-{job_id}": job_id for job_id in todo}

        def on_event(event: runner.Event, alias: dict[str, int] = alias,
                     recorders: dict[int, _Recorder] = recorders) -> None:
            for name, job_id in alias.items():
                if not event.host or event.host == name:
                    recorders[job_id].on_event(event)

        def should_cancel(recorders: dict[int, _Recorder] = recorders) -> bool:
            return any([r.should_cancel() for r in recorders.values()])  # ask every member (a list, not any())

        members = {name: {k: v for k, v in todo[job_id].extravars.items() if k != "previous"}
                   for name, job_id in alias.items()}
        try:
            target, check = _target(first.host_id, deferred=True)
            with writer:
                outcome = runner.run_playbook(runner.Run(
                    playbook=PLAYBOOKS[JobAction.PROVISION], address=target.address, port=target.port,
                    user=target.user, host_key=target.host_key, private_key=target.private_key,
                    passphrase=target.passphrase, extravars={}, timeout_s=max(j.timeout_s for j in todo.values()),
                    on_event=on_event, should_cancel=should_cancel, members=members, preflight=check))
        except Exception as exc:  # a failed pre-flight, or the runner itself broke: record it, end the jobs
            if not isinstance(exc, PreflightError):
                log.exception("batch %s crashed", sorted(todo))
            error, task = ((f"pre-flight failed: {exc.message}", "pre-flight") if isinstance(exc, PreflightError)
                           else (f"job runner error: {type(exc).__name__}: {exc}"[:2000], ""))
            _record([(job, _Ending(JobStatus.FAILED, error, task)) for job in todo.values()])
            return done | dict.fromkeys(todo, JobStatus.FAILED)
        cancelled = {j for j, r in recorders.items() if r.cancelled} if outcome.status == "canceled" else set()
        statuses: dict[int, str] = {}
        for name, job_id in alias.items():
            if outcome.status == "canceled" and cancelled and job_id not in cancelled:
                base[job_id] = recorders[job_id].last_seq + 1000  # interrupted by another's cancel: run again
                continue
            status = outcome.status
            if status == "failed" and name not in outcome.failed_hosts:
                status = "successful"
            elif status == "successful" and name in outcome.failed_hosts:
                status = "failed"
            statuses[job_id] = status

        # the members that succeeded in one transaction; then each other one once its rollback has run
        succeeded = [job_id for job_id, status in statuses.items() if status == "successful"]
        for group in [succeeded] * bool(succeeded) + [[j] for j in statuses if j not in succeeded]:
            endings = [(todo[j], _ending(todo[j], statuses[j], 0 if statuses[j] == "successful" else outcome.rc,
                                         outcome.host_stdout.get(f"job-{j}", ""), recorders[j])) for j in group]
            _record(endings)
            done |= {_pk(job): end.status for job, end in endings}
        todo = {j: job for j, job in todo.items() if j not in done}
    return done


def run_now(job_id: int) -> JobStatus:
    """Claim job ``job_id`` if queued and run it in this thread (CLI, tests)."""
    with session_scope() as session:
        if not claim_job(session, job_id):
            job = session.get(Job, job_id)
            return JobStatus(job.status) if job else JobStatus.FAILED
    return execute(job_id)


def reap_expired() -> list[int]:
    """Fail each running job whose lease expired, exactly once, and queue its VM's cleanup; return their ids."""
    failed: list[int] = []
    now = utcnow()
    with session_scope() as session:
        candidates = [j for j in session.execute(select(Job).where(col(Job.status) == JobStatus.RUNNING)).scalars()
                      if expired(j, now)]
        stale = []
        for job in candidates:
            # conditional on the lease we saw: a heartbeat since, or another reaper first, and this one does nothing
            lease = (col(Job.lease_until) == job.lease_until if job.lease_until is not None
                     else col(Job.lease_until).is_(None))
            done = session.execute(update(Job).where(col(Job.id) == job.id, col(Job.status) == JobStatus.RUNNING, lease)
                                   .values(status=JobStatus.FAILED, finished_at=now, error=STOPPED_REASON,
                                           lease_until=None).execution_options(synchronize_session=False))
            if rows_changed(done) == 1:
                stale.append(job)
                failed.append(job.id)
        for job in stale:
            action = JobAction(job.action)
            if job.vm_id is None or action not in (JobAction.PROVISION, JobAction.DECOMMISSION):
                continue  # start/stop/resize: the job shows the failure; the reconciler reports any drift
            vm = session.get(VirtualMachine, job.vm_id)
            if vm is None:
                continue
            if action == JobAction.PROVISION:
                virtual_machines.update(session, actor=_actor(job), id=_pk(vm), commit=False,
                                        data={"state": VMState.FAILED, "ip_address": None})
            follow = JobAction.CLEANUP if action == JobAction.PROVISION else JobAction.DECOMMISSION
            extra = {k: v for k, v in job.extravars.items() if k != "previous"}
            session.add(Job(action=follow, vm_id=vm.id, vm_name=vm.name, agency_id=vm.agency_id,
                            host_id=job.host_id, request_id=job.request_id, retry_of=job.id,
                            created_by="dcops (lease expired)", extravars=extra, timeout_s=job.timeout_s))
    for job_id in failed:
        log.warning("job %s: %s (its lease expired); marked failed", job_id, STOPPED_REASON)
    return failed


def recover() -> list[int]:
    """Reap the jobs whose lease expired (kept for callers of the old name; live workers' jobs are untouched)."""
    return reap_expired()


def _claim_free(free: int) -> list[tuple[int, str, int | None]]:
    """Claim up to ``free`` queued jobs; return (id, action, host id) of each."""
    claimed: list[tuple[int, str, int | None]] = []
    try:
        with Session(get_engine(), expire_on_commit=False) as session:
            while len(claimed) < free:
                job_id = claim(session)
                if job_id is None:
                    break
                row = session.execute(select(col(Job.action), col(Job.host_id)).where(col(Job.id) == job_id)).one()
                claimed.append((job_id, str(row[0]), row[1]))
    except Exception:
        log.exception("cannot claim a job")
    return claimed


def _groups(claimed: list[tuple[int, str, int | None]]) -> list[list[int]]:
    """Provision jobs of one hypervisor go together (one batched run); every other job runs alone."""
    batches: dict[int, list[int]] = {}
    alone: list[list[int]] = []
    for job_id, action, host_id in claimed:
        if action == JobAction.PROVISION and host_id is not None:
            batches.setdefault(host_id, []).append(job_id)
        else:
            alone.append([job_id])
    return [ids for ids in batches.values()] + alone


def work(stop: threading.Event, *, concurrency: int = 4, poll_s: float = 0.5, wait_running: bool = True) -> None:
    """Run queued jobs, ``concurrency`` at a time, until ``stop`` is set (reaping expired leases as it goes).

    The queued jobs claimed together run as few playbook runs as possible: provision jobs of one hypervisor
    in one batched run (:func:`execute_batch`), every other job alone (:func:`execute`).
    """
    running: list[tuple[threading.Thread, int]] = []
    reaped_at = -1e9
    while not stop.is_set():
        if time.monotonic() - reaped_at >= min(LEASE_S / 2, 30.0):
            reaped_at = time.monotonic()
            try:
                reap_expired()
            except Exception:
                log.exception("cannot reap expired job leases yet")
        running = [(t, n) for t, n in running if t.is_alive()]
        free = concurrency - sum(n for _, n in running)
        claimed = _claim_free(free) if free > 0 else []
        for ids in _groups(claimed):
            thread = threading.Thread(target=_safe_execute, args=(ids,), name=f"job-{ids[0]}", daemon=True)
            thread.start()
            running.append((thread, len(ids)))
        if not claimed:
            stop.wait(poll_s)
    for thread, _ in running if wait_running else []:
        thread.join()


def _safe_execute(job_ids: list[int]) -> None:
    try:
        if len(job_ids) == 1:
            execute(job_ids[0])
        else:
            execute_batch(job_ids)
    except Exception:
        log.exception("jobs %s failed in the runner", job_ids)
