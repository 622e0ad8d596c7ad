"""Killing the job runner mid-run, then starting it again, fails the job and cleans its VM up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from sqlalchemy import func, select

from dcops.auth.actor import SYSTEM
from dcops.provisioning import service
from dcops.provisioning.jobs import STOPPED_REASON
from dcops.provisioning.models import Job, JobEvent
from tests.provisioning.conftest import Lab, dominfo, new_vm


def _worker(log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "dcops", "worker", "--concurrency", "2"], stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True, env=os.environ.copy())


def _wait(predicate: Any, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_killed_worker_fails_job_and_cleans_up(session: Any, lab: Lab, tmp_path: Any) -> None:
    vm = new_vm(session, lab, "kill")
    [job] = service.launch(session, actor=SYSTEM, vm_ids=[vm.id])
    log = (tmp_path / "worker.log").open("wb")  # noqa: SIM115 - both workers write to it; closed below
    first = _worker(log)
    try:
        def volume_created() -> bool:
            session.expire_all()
            count = session.execute(select(func.count()).select_from(JobEvent).where(
                JobEvent.job_id == job.id, JobEvent.task == "Create an empty volume")).scalar_one()
            session.commit()  # never hold SQLite's write lock while the worker records events
            return bool(count >= 2)
        _wait(volume_created, "the provision to create its volume")
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its ansible-playbook, mid-run
        first.wait()
    session.expire_all()
    assert session.get(Job, job.id).status == "running"
    session.commit()

    second = _worker(log)
    try:
        def recovered() -> bool:
            session.expire_all()
            cleanup = session.execute(select(Job).where(Job.retry_of == job.id)).scalars().first()
            session.commit()
            return cleanup is not None and cleanup.status in ("succeeded", "failed")
        _wait(recovered, "the restarted runner to clean up")
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)
        log.close()
    session.expire_all()
    dead = session.get(Job, job.id)
    assert dead.status == "failed" and dead.error == STOPPED_REASON
    cleanup = session.execute(select(Job).where(Job.retry_of == job.id)).scalars().one()
    assert cleanup.action == "cleanup" and cleanup.status == "succeeded", cleanup.stdout[-2000:]
    after = session.get(type(vm), vm.id)
    assert after.state == "failed" and after.ip_address is None
    assert dominfo(vm.name) == {}
    assert not os.path.exists(f"{lab.libvirt.pool_path}/{vm.name}.qcow2")
