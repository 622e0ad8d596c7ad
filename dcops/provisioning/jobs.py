"""The job runner: claim queued jobs, run their playbook through :mod:`runner`, apply the outcome.

A unit of work is :func:`execute` (one job id): it reads what it needs, records every event and its
result through the database, and can be handed to another task engine later. :func:`work` runs many of
them in threads; :func:`recover` applies the restart rule to jobs a dead process left ``running``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from dcops.auth.actor import Actor
from dcops.auth.choices import Role
from dcops.database import get_engine, session_scope, utcnow
from dcops.provisioning import runner
from dcops.provisioning import service as svc
from dcops.provisioning.choices import PLAYBOOKS, JobAction, JobStatus
from dcops.provisioning.models import Job, JobEvent
from dcops.provisioning.preflight import PreflightError
from dcops.virtualization.models import VirtualMachine, VMState
from dcops.virtualization.service import virtual_machines

log = logging.getLogger(__name__)

STOPPED_REASON = "dcops stopped during the run"


def worker_id() -> str:
    """Name this process as job runner: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _actor(job: Job) -> Actor:
    return Actor(user_id=None, username=f"job:{job.id}", role=Role.ADMIN)


def claim(session: Session) -> int | None:
    """Take the oldest queued job for this process and mark it running; return its id."""
    for job_id in session.execute(select(Job.id).where(Job.status == JobStatus.QUEUED).order_by(Job.id)
                                  .limit(10)).scalars():
        result = session.execute(update(Job).where(Job.id == job_id, Job.status == JobStatus.QUEUED)
                                 .values(status=JobStatus.RUNNING, worker=worker_id(), started_at=utcnow()))
        session.commit()
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return int(job_id)
    session.commit()
    return None


class _Recorder:
    """Store a job's events as they come, and answer whether the job was cancelled (at most once a second)."""

    def __init__(self, job_id: int, base_seq: int) -> None:
        self.job_id, self.base_seq = job_id, base_seq
        self.first_failed_task = ""
        self.last_seq = base_seq
        self._checked, self._cancelled = 0.0, False

    def on_event(self, event: runner.Event) -> None:
        seq = self.base_seq + event.seq
        self.last_seq = max(self.last_seq, seq)
        if event.status == "failed" and not self.first_failed_task:
            self.first_failed_task = event.task
        with session_scope() as session:
            session.add(JobEvent(job_id=self.job_id, seq=seq, event=event.event, task=event.task, host=event.host,
                                 status=event.status, changed=event.changed, duration_s=event.duration_s,
                                 message=event.message))

    def should_cancel(self) -> bool:
        now = time.monotonic()
        if now - self._checked >= 1.0:
            self._checked = now
            with Session(get_engine()) as session:
                self._cancelled = bool(session.execute(
                    select(Job.cancel_requested).where(Job.id == self.job_id)).scalar())
        return self._cancelled


def _play(job: Job, playbook: str, extravars: dict[str, Any], base_seq: int) -> tuple[runner.Outcome, _Recorder]:
    with session_scope() as session:
        access = svc.access_for(session, job.host_id)  # type: ignore[arg-type]
        target = svc.target_for(session, access)
        svc.run_preflight(session, access=access, raise_on_error=True)
    recorder = _Recorder(job.id, base_seq)  # type: ignore[arg-type]
    outcome = runner.run_playbook(runner.Run(
        playbook=playbook, address=target.address, port=target.port, user=target.user, host_key=target.host_key,
        private_key=target.private_key, passphrase=target.passphrase, extravars=extravars,
        timeout_s=job.timeout_s, on_event=recorder.on_event, should_cancel=recorder.should_cancel))
    return outcome, recorder


def _finish(job_id: int, *, status: JobStatus, error: str = "", failed_task: str = "", rc: int | None = None,
            stdout: str = "", changed: int = 0) -> None:
    with session_scope() as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.status, job.error, job.failed_task, job.rc = status, error[:2000], failed_task[:300], rc
        job.stdout = (job.stdout + stdout) if job.stdout else stdout
        job.changed, job.finished_at = changed, utcnow()


def _apply_to_vm(job: Job, succeeded: bool) -> None:
    """Move the VM to the state the job's outcome implies (addresses freed by the VM service's hook)."""
    if job.vm_id is None:
        return
    with session_scope() as session:
        vm = session.get(VirtualMachine, job.vm_id)
        if vm is None:
            return
        action, data = JobAction(job.action), {}
        if succeeded:
            data = {JobAction.PROVISION: {"state": VMState.RUNNING}, JobAction.START: {"state": VMState.RUNNING},
                    JobAction.STOP: {"state": VMState.STOPPED},
                    JobAction.DECOMMISSION: {"state": VMState.DECOMMISSIONED, "ip_address": None}}.get(action, {})
        elif action in (JobAction.PROVISION, JobAction.CLEANUP):
            data = {"state": VMState.FAILED, "ip_address": None}
        elif action == JobAction.RESIZE and "previous" in job.extravars:
            data = dict(job.extravars["previous"])
        if data:
            virtual_machines.update(session, actor=_actor(job), id=vm.id, data=data,  # type: ignore[arg-type]
                                    options={"skip_quota": True})


def _changed(stdout: str) -> int:
    total = 0
    for line in stdout.splitlines():
        if "changed=" in line and ("ok=" in line):
            part = line.split("changed=", 1)[1].split()[0]
            total += int(part) if part.isdigit() else 0
    return total


def execute(job_id: int) -> JobStatus:
    """Run one claimed job to its end and record the outcome; return its final status."""
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
        _finish(job_id, status=JobStatus.FAILED, error=f"pre-flight failed: {exc.message}", failed_task="pre-flight")
        _apply_to_vm(job, succeeded=False)
        return JobStatus.FAILED
    except Exception as exc:  # the runner itself broke: record it rather than leave the job running
        log.exception("job %s crashed", job_id)
        _finish(job_id, status=JobStatus.FAILED, error=f"job runner error: {type(exc).__name__}: {exc}"[:2000])
        _apply_to_vm(job, succeeded=False)
        return JobStatus.FAILED
    status = {"successful": JobStatus.SUCCEEDED, "canceled": JobStatus.CANCELLED}.get(outcome.status,
                                                                                      JobStatus.FAILED)
    error = {"timeout": f"timed out after {job.timeout_s} s", "canceled": "cancelled on request",
             "failed": f"playbook failed at task '{recorder.first_failed_task}'" if recorder.first_failed_task
             else f"playbook failed (rc={outcome.rc})"}.get(outcome.status, "")
    stdout = outcome.stdout
    if status != JobStatus.SUCCEEDED and action == JobAction.PROVISION:
        # roll back: remove whatever the interrupted or failed run left (the playbook's rescue may have already)
        try:
            cleanup, _ = _play(job, PLAYBOOKS[JobAction.CLEANUP], extravars, recorder.last_seq + 1000)
            stdout += "\n--- rollback ---\n" + cleanup.stdout
            error += "; rolled back" if cleanup.status == "successful" else "; ROLLBACK FAILED, check the host"
        except Exception as exc:  # keep the job's own failure; report the rollback's too
            error += f"; rollback could not run: {exc}"
    _finish(job_id, status=status, error=error, failed_task=recorder.first_failed_task, rc=outcome.rc,
            stdout=stdout, changed=_changed(outcome.stdout))
    _apply_to_vm(job, succeeded=status == JobStatus.SUCCEEDED)
    return status


def run_now(job_id: int) -> JobStatus:
    """Claim job ``job_id`` if queued and run it in this thread (CLI, tests)."""
    with session_scope() as session:
        result = session.execute(update(Job).where(Job.id == job_id, Job.status == JobStatus.QUEUED)
                                 .values(status=JobStatus.RUNNING, worker=worker_id(), started_at=utcnow()))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            job = session.get(Job, job_id)
            return JobStatus(job.status) if job else JobStatus.FAILED
    return execute(job_id)


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


def recover() -> list[int]:
    """Fail jobs left running by a dead process, queue their VM's cleanup; return the failed job ids."""
    failed: list[int] = []
    with session_scope() as session:
        stale = [j for j in session.execute(select(Job).where(Job.status == JobStatus.RUNNING)).scalars()
                 if j.worker != worker_id() and not _alive(j.worker)]
        for job in stale:
            job.status, job.finished_at, job.error = JobStatus.FAILED, utcnow(), STOPPED_REASON
            failed.append(job.id)  # type: ignore[arg-type]
        session.flush()
        for job in stale:
            action = JobAction(job.action)
            if job.vm_id is None or action not in (JobAction.PROVISION, JobAction.DECOMMISSION):
                continue  # start/stop/resize: the job shows the failure; the reconciler reports any drift
            vm = session.get(VirtualMachine, job.vm_id)
            if vm is None:
                continue
            if action == JobAction.PROVISION:
                virtual_machines.update(session, actor=_actor(job), id=vm.id, commit=False,  # type: ignore[arg-type]
                                        data={"state": VMState.FAILED, "ip_address": None})
            follow = JobAction.CLEANUP if action == JobAction.PROVISION else JobAction.DECOMMISSION
            extra = {k: v for k, v in job.extravars.items() if k != "previous"}
            session.add(Job(action=follow, vm_id=vm.id, vm_name=vm.name, agency_id=vm.agency_id,
                            host_id=job.host_id, request_id=job.request_id, retry_of=job.id,
                            created_by="dcops (restart)", extravars=extra, timeout_s=job.timeout_s))
    for job_id in failed:
        log.warning("job %s: %s; marked failed", job_id, STOPPED_REASON)
    return failed


def work(stop: threading.Event, *, concurrency: int = 4, poll_s: float = 0.5, wait_running: bool = True) -> None:
    """Run queued jobs, ``concurrency`` at a time, until ``stop`` is set (recovering stale jobs first)."""
    while not stop.is_set():
        try:
            recover()
            break
        except Exception:
            log.exception("cannot recover interrupted jobs yet; retrying")
            stop.wait(5)
    running: list[threading.Thread] = []
    while not stop.is_set():
        running = [t for t in running if t.is_alive()]
        started = False
        if len(running) < concurrency:
            try:
                with Session(get_engine(), expire_on_commit=False) as session:
                    job_id = claim(session)
            except Exception:
                log.exception("cannot claim a job")
                job_id = None
            if job_id is not None:
                thread = threading.Thread(target=_safe_execute, args=(job_id,), name=f"job-{job_id}", daemon=True)
                thread.start()
                running.append(thread)
                started = True
        if not started:
            stop.wait(poll_s)
    for thread in running if wait_running else []:
        thread.join()


def _safe_execute(job_id: int) -> None:
    try:
        execute(job_id)
    except Exception:
        log.exception("job %s failed in the runner", job_id)
