"""The real provisioning pipeline in the browser: the job view follows a job that the real job runner runs with
ansible-runner against a loopback sshd and the system libvirtd; nothing in the job is written by the test.

Screenshots (queued, running with its first events, succeeded) are kept under ``$DCOPS_ARTIFACTS``. A provision
takes about two seconds, less than the page's refresh: it holds once its domain runs (a task added to a copy of the
playbooks, released by the test), so the page is seen while the job runs.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from dcops.provisioning.models import Job, JobEvent
from tests.provisioning.conftest import (  # noqa: F401  (the loopback sshd and libvirt fixtures)
    Lab,
    dominfo,
    lab,
    libvirt_daemons,
    libvirt_lab,
    new_vm,
    playbooks_that_hold,
    sshd,
)
from tests.server import running_server
from tests.web.conftest import build_app
from tests.web.test_browser import chromium, login  # noqa: F401  (the module-scoped browser fixture)

PASSWORD = "jalur-nyata-2026"


def test_the_job_view_streams_a_job_the_real_runner_runs(session: Session, lab: Lab,  # noqa: F811
                                                           chromium: Any, backend: str,  # noqa: F811
                                                           tmp_path: Path, monkeypatch: Any) -> None:
    from dcops.auth.actor import SYSTEM
    from dcops.auth.service import create_user
    from dcops.provisioning import jobs, service

    create_user(session, actor=SYSTEM, data={"username": "ops-admin", "role": "admin", "password": PASSWORD})
    vm = new_vm(session, lab, "web")
    [job] = service.launch(session, actor=SYSTEM, vm_ids=[vm.id])
    job_id, vm_name = job.id, vm.name
    session.expunge_all()
    session.rollback()
    assert session.execute(select(JobEvent).where(JobEvent.job_id == job_id)).first() is None
    session.rollback()
    shots = Path(os.environ.get("DCOPS_ARTIFACTS", "/tmp/dcops-screenshots")) / backend
    shots.mkdir(parents=True, exist_ok=True)

    hold = tmp_path / "hold"
    hold.touch()
    monkeypatch.setenv("DCOPS_PLAYBOOK_DIR", str(playbooks_that_hold(tmp_path / "playbooks", str(hold))))
    stop = threading.Event()
    runner = threading.Thread(target=jobs.work, args=(stop,), kwargs={"concurrency": 1, "poll_s": 0.2},
                              name="job-runner", daemon=True)
    with running_server(build_app()) as base:
        context = chromium.new_context(viewport={"width": 1366, "height": 900})
        try:
            page = login(context, base, "ops-admin", PASSWORD)
            page.goto(f"{base}/jobs/{job_id}")
            assert page.locator("#job-live").get_attribute("data-status") == "queued"
            page.screenshot(path=str(shots / "pipeline-job-queued.png"), full_page=True)
            runner.start()  # the real runner claims the queued job; the open page is never reloaded
            page.wait_for_selector("#job-live[data-status=running] #job-events tbody tr", timeout=120_000)
            page.screenshot(path=str(shots / "pipeline-job-running.png"), full_page=True)
            hold.unlink()  # the provision goes on to its end
            page.wait_for_selector("#job-live[data-status=succeeded]", timeout=300_000)
            page.screenshot(path=str(shots / "pipeline-job-succeeded.png"), full_page=True)
            shown = page.locator("#job-events tbody tr td:nth-child(3)").all_inner_texts()
        finally:
            hold.unlink(missing_ok=True)
            stop.set()
            context.close()
    runner.join(timeout=60)
    events = session.execute(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.seq)).scalars().all()
    done = session.get(Job, job_id)
    session.rollback()
    assert done.status == "succeeded" and done.started_at is not None and done.finished_at is not None
    assert "Start the domain" in shown  # the playbook's own task, as the runner recorded it
    assert [t.strip() for t in shown] == [e.task or e.event for e in events]  # every event, in order
    assert dominfo(vm_name).get("State") == "running"  # and libvirt really runs the domain
