"""Killing the job runner mid-run fails the job once its lease expires and cleans its VM up.

Embedded mode (the job runner of ``dcops worker`` without a broker) and Celery mode (``dcops worker`` on RabbitMQ,
with ``dcops scheduler`` dispatching the jobs and reaping the leases) end the same way. The provision holds once
its domain runs (a task added to a copy of the playbooks, released by the test), so the kill lands mid-job every
time, with the volume, the seed and the running domain there for the cleanup to remove.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from dcops.auth.actor import SYSTEM
from dcops.provisioning import service
from dcops.provisioning.jobs import STOPPED_REASON
from dcops.provisioning.models import Job, JobEvent
from tests.provisioning.conftest import Lab, dominfo, new_vm, playbooks_that_hold

LEASE_S = "6"
def _worker(log: Any, env: dict[str, str] | None = None, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DCOPS_JOB_LEASE_S": LEASE_S, **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "dcops", *(args or ("worker", "--concurrency", "2"))],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)


def _wait(predicate: Any, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("mode", ["embedded", pytest.param("broker", marks=pytest.mark.postgresql_only)])
def test_killed_worker_fails_job_and_cleans_up(session: Any, lab: Lab, tmp_path: Any, mode: str) -> None:
    hold = tmp_path / "hold"
    hold.touch()
    env: dict[str, str] = {"DCOPS_PLAYBOOK_DIR": str(playbooks_that_hold(tmp_path / "playbooks", str(hold)))}
    scheduler = None
    if mode == "broker":
        from tests.engine.cluster import BROKER

        env |= {"DCOPS_BROKER_URL": BROKER, "DCOPS_QUEUE_PREFIX": f"dcopst{secrets.token_hex(4)}",
                "DCOPS_EVERY_REAP_LEASES": "2", "DCOPS_EVERY_DISPATCH_JOBS": "2"}
    vm = new_vm(session, lab, "kill")
    [job] = service.launch(session, actor=SYSTEM, vm_ids=[vm.id])
    log = (tmp_path / "worker.log").open("wb")  # noqa: SIM115 - both workers write to it; closed below
    if mode == "broker":
        scheduler = _worker(log, env, "scheduler", "--tick", "1")
    first = _worker(log, env)
    try:
        def holding() -> bool:
            session.expire_all()
            count = session.execute(select(func.count()).select_from(JobEvent).where(
                JobEvent.job_id == job.id, JobEvent.task.like("Hold here%"))).scalar_one()
            session.commit()  # never hold SQLite's write lock while the worker records events
            return bool(count)
        _wait(holding, "the provision to start its domain and hold")
        # what the cleanup must remove is there
        assert dominfo(vm.name).get("State") == "running"
        assert os.path.exists(f"{lab.libvirt.pool_path}/{vm.name}.qcow2")
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its ansible-playbook, mid-run
        first.wait()
        hold.unlink()  # the hold loop left on the host ends
    session.expire_all()
    assert session.get(Job, job.id).status == "running"
    session.commit()

    second = _worker(log, env)
    try:
        def recovered() -> bool:
            session.expire_all()
            cleanup = session.execute(select(Job).where(Job.retry_of == job.id)).scalars().first()
            session.commit()
            return cleanup is not None and cleanup.status in ("succeeded", "failed")
        _wait(recovered, "the restarted runner to clean up")
    finally:
        for proc in (second, scheduler):
            if proc is None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        if mode == "broker":
            from kombu import Connection

            with Connection(env["DCOPS_BROKER_URL"]) as conn:
                for queue in ("poll", "jobs", "notify"):
                    conn.channel().queue_delete(f"{env['DCOPS_QUEUE_PREFIX']}.{queue}")
    session.expire_all()
    dead = session.get(Job, job.id)
    assert dead.status == "failed" and dead.error == STOPPED_REASON
    cleanup = session.execute(select(Job).where(Job.retry_of == job.id)).scalars().one()
    assert cleanup.action == "cleanup" and cleanup.status == "succeeded", cleanup.stdout[-2000:]
    after = session.get(type(vm), vm.id)
    assert after.state == "failed" and after.ip_address is None
    assert dominfo(vm.name) == {}
    assert not os.path.exists(f"{lab.libvirt.pool_path}/{vm.name}.qcow2")
