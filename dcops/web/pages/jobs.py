"""Provisioning jobs: the list, and a live job view that follows the Ansible events (htmx polling)."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import Response

from dcops.auth.choices import EVERYONE
from dcops.crud import ListQuery
from dcops.database import SessionDep
from dcops.provisioning import service
from dcops.provisioning.choices import FINISHED, JobStatus
from dcops.routing import ApiRouter
from dcops.web.auth import Page, Viewer
from dcops.web.render import render

router = ApiRouter()
POLL_S = 2
TAIL = 20_000


@router.get("/jobs")
def jobs_page(request: Request, session: SessionDep, status: str = "", offset: int = 0,
              viewer: Viewer = Depends(Page(EVERYONE))) -> Response:
    """List jobs, newest first (agency viewers: their agency's)."""
    filters = {"status": status} if status in JobStatus.__members__.values() else {}
    rows, total = service.get_all(session, actor=viewer.actor, query=ListQuery(
        limit=50, offset=max(offset, 0), ordering="-id", filters=filters))
    return render(request, "jobs.html", session, active="jobs", title="Jobs", jobs=rows, total=total,
                  offset=max(offset, 0), limit=50, status=status, statuses=[s.value for s in JobStatus])


def _live(request: Request, session: SessionDep, viewer: Viewer, id: int, template: str) -> Response:
    job = service.get(session, actor=viewer.actor, id=id)
    events = service.job_events(session, id)
    finished = job.status in FINISHED
    return render(request, template, session, active="jobs", title="Job", job=job, events=events,
                  finished=finished, poll_s=POLL_S, stdout=(job.stdout or "")[-TAIL:])


@router.get("/jobs/{id}")
def job_page(id: int, request: Request, session: SessionDep, viewer: Viewer = Depends(Page(EVERYONE))) -> Response:
    """Show a job with its events and output, refreshed every few seconds until it ends."""
    return _live(request, session, viewer, id, "job.html")


@router.get("/jobs/{id}/live")
def job_live(id: int, request: Request, session: SessionDep, viewer: Viewer = Depends(Page(EVERYONE))) -> Response:
    """Return the job's live panel alone (htmx swaps it in; it stops polling once the job has ended)."""
    return _live(request, session, viewer, id, "job_live.html")
