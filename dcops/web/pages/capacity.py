"""Capacity: headroom per cluster and host (HA reserve shown), requests with the placement preview, approval."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlmodel import Session

from dcops.auth.choices import ADMIN, ADMIN_OPERATOR, EVERYONE, Role
from dcops.capacity import flows, service
from dcops.capacity import headroom as hr
from dcops.capacity.models import CapacityRequestCreate, RequestStatus, VMSpec
from dcops.crud import ListQuery
from dcops.database import SessionDep
from dcops.exceptions import DcopsError
from dcops.provisioning import service as jobs
from dcops.routing import ApiRouter
from dcops.web import forms
from dcops.web.auth import Page, Viewer
from dcops.web.catalog import choices
from dcops.web.flash import flash
from dcops.web.forms import FormField, FormState
from dcops.web.i18n import translator
from dcops.web.messages import translate_message
from dcops.web.render import lang_of, redirect, release, render

router = ApiRouter()
PLANNING = frozenset({Role.ADMIN, Role.OPERATOR, Role.PLANNER, Role.AUDITOR, Role.ONCALL})
FILERS = ADMIN_OPERATOR
LINE_FIELDS = ("name_prefix", "count", "vcpus", "ram_gib", "disk_gib", "anti_affinity_group")
LINE_LABELS = {"name_prefix": "Name prefix", "count": "Count", "vcpus": "vCPU", "ram_gib": "RAM (GiB)",
               "disk_gib": "Disk (GiB)", "anti_affinity_group": "Anti-affinity group"}


@router.get("/capacity")
def capacity_page(request: Request, session: SessionDep, viewer: Viewer = Depends(Page(PLANNING))) -> Response:
    """Show allocated against capacity per cluster and host, with the HA reserve."""
    data = hr.headroom(session)
    return render(request, "capacity.html", session, active="capacity", title="Capacity", headroom=data,
                  can_file=viewer.can(FILERS))


def _fields(session: Session, viewer: Viewer) -> list[FormField]:
    agencies = choices(session, viewer.actor, "agency")
    clusters = [("", "—")] + choices(session, viewer.actor, "cluster")
    return [
        FormField("agency_id", "Agency", "select", agencies, True),
        FormField("cluster_id", "Cluster", "select", clusters),
        FormField("justification", "Justification", "textarea", required=True),
        *(forms.widget(VMSpec, name, LINE_LABELS[name]) for name in LINE_FIELDS),
    ]


def _parse(form: Any) -> tuple[FormState, dict[str, Any]]:
    """Turn the form (one VM line) into the API's request body."""
    raw = {k: str(form.get(k, "")).strip() for k in ("agency_id", "cluster_id", "justification", *LINE_FIELDS)}
    state = FormState(values=raw)
    line = {k: raw[k] or None for k in LINE_FIELDS}
    if line["count"] is None:
        line.pop("count")
    body = {"agency_id": raw["agency_id"] or None, "cluster_id": raw["cluster_id"] or None,
            "justification": raw["justification"], "items": [line]}
    return state, body


def _validate(form: Any) -> tuple[FormState, CapacityRequestCreate | None]:
    from pydantic import ValidationError as PydanticValidationError

    state, body = _parse(form)
    try:
        return state, CapacityRequestCreate.model_validate(body)
    except PydanticValidationError as exc:
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            name = loc[2] if loc[:1] == ["items"] and len(loc) > 2 else (loc[0] if loc else "")
            if name in state.values:
                state.errors.setdefault(name, err["msg"])
            else:
                state.general.append(f"{'.'.join(loc)}: {err['msg']}")
        return state, None


@router.get("/requests/new")
def new_request(request: Request, session: SessionDep, viewer: Viewer = Depends(Page(FILERS))) -> Response:
    """Show the request form (one line of identical VMs)."""
    state = FormState(values={"count": "1", "vcpus": "2", "ram_gib": "4", "disk_gib": "80"})
    return render(request, "request_form.html", session, active="requests", title="New request",
                  fields=_fields(session, viewer), state=state, preview=None)


@router.post("/requests/preview")
async def preview_request(request: Request, session: SessionDep,
                          viewer: Viewer = Depends(Page(FILERS | {Role.PLANNER}))) -> Response:
    """Show where the draft would be placed (htmx fragment), or what is wrong with it."""
    state, body = _validate(await request.form())
    preview = None
    if body is not None:
        try:
            preview = await run_in_threadpool(service.preview_draft, session, actor=viewer.actor, data=body)
        except DcopsError as exc:
            forms.domain_error(exc, state)
    return await run_in_threadpool(lambda: render(request, "request_preview.html", session, state=state,
                                                  preview=preview))


@router.post("/requests/new")
async def file_request(request: Request, session: SessionDep, viewer: Viewer = Depends(Page(FILERS))) -> Response:
    """File the request; refused requests come back with the reason next to the form."""
    state, body = _validate(await request.form())
    if body is not None:
        try:
            filed, _ = await run_in_threadpool(service.file_request, session, actor=viewer.actor, data=body)
            return redirect(f"/requests/{filed.id}", request)
        except DcopsError as exc:
            session.rollback()
            forms.domain_error(exc, state)
    return await run_in_threadpool(lambda: render(
        request, "request_form.html", session, status_code=422, active="requests", title="New request",
        fields=_fields(session, viewer), state=state, preview=None))


@router.get("/requests")
def requests_page(request: Request, session: SessionDep, status: str = "", offset: int = 0,
                  viewer: Viewer = Depends(Page(EVERYONE))) -> Response:
    """List capacity requests, newest first (agency viewers: their agency's)."""
    filters = {"status": RequestStatus(status)} if status in RequestStatus.__members__.values() else {}
    rows, total = service.get_all(session, actor=viewer.actor, query=ListQuery(limit=50, offset=max(offset, 0),
                                                                              filters=filters))
    items = [service.public(session, r, detail=False) for r in rows]
    return render(request, "requests.html", session, active="requests", title="Requests", items=items, total=total,
                  offset=max(offset, 0), limit=50, status=status, statuses=[s.value for s in RequestStatus],
                  can_file=viewer.can(FILERS))


@router.get("/requests/{id}")
def request_page(id: int, request: Request, session: SessionDep,
                 viewer: Viewer = Depends(Page(EVERYONE))) -> Response:
    """Show a request: its lines, VMs, steps, the placement preview, and the admin's decision buttons."""
    from dcops.auth.actor import SYSTEM

    req = service.sync_status(session, service.get(session, actor=viewer.actor, id=id), SYSTEM)
    public = service.public(session, req)
    preview = None
    if req.status == RequestStatus.REQUESTED and viewer.role != Role.AGENCY_VIEWER:
        preview = service.preview(session, actor=viewer.actor, id=id)
    jobs = _jobs_of(session, viewer, id)
    reserved = req.status == RequestStatus.APPROVED
    return render(request, "request.html", session, active="requests", title="Requests", req=public,
                  preview=preview, jobs=jobs, can_decide=viewer.can(ADMIN) and req.status == RequestStatus.REQUESTED,
                  can_provision=viewer.can(ADMIN) and reserved, launch_problem=service.launch_problem(session, req))


def _jobs_of(session: Session, viewer: Viewer, request_id: int) -> list[Any]:
    rows, _ = jobs.get_all(session, actor=viewer.actor, query=ListQuery(limit=100, filters={"request_id": request_id}))
    return rows


@router.post("/requests/{id}/approve")
def approve(id: int, request: Request, session: SessionDep, reason: str = Form(""),
            viewer: Viewer = Depends(Page(ADMIN))) -> Response:
    """Approve: reserve the capacity and launch provisioning."""
    _, warnings = flows.approve(session, actor=viewer.actor, id=id, note=reason.strip()[:2000])
    for warning in warnings:
        flash(request, session, translate_message(lang_of(request), warning), "warn")
    release(session)
    return redirect(f"/requests/{id}", request)


@router.post("/requests/{id}/provision")
def provision(id: int, request: Request, session: SessionDep, viewer: Viewer = Depends(Page(ADMIN))) -> Response:
    """Launch (or retry launching) the provisioning jobs of an approved request whose VMs are reserved."""
    from dcops.exceptions import ConflictError

    t = translator(lang_of(request))
    try:
        flows.provision(session, actor=viewer.actor, id=id)
        flash(request, session, t("Provisioning launched."), "info")
    except ConflictError as exc:
        session.rollback()
        flash(request, session, translate_message(lang_of(request), exc.message), "warn")
    release(session)
    return redirect(f"/requests/{id}", request)


@router.post("/requests/{id}/reject")
def reject(id: int, request: Request, session: SessionDep, reason: str = Form(""),
           viewer: Viewer = Depends(Page(ADMIN))) -> Response:
    """Reject with a reason the agency reads."""
    from pydantic import ValidationError as PydanticValidationError

    from dcops.capacity.models import Rejection
    from dcops.exceptions import ValidationError

    try:
        body = Rejection.model_validate({"reason": reason.strip()})
    except PydanticValidationError as exc:
        raise ValidationError(f"reason: {exc.errors()[0]['msg']}", field="reason") from None
    service.reject(session, actor=viewer.actor, id=id, reason=body.reason)
    release(session)
    return redirect(f"/requests/{id}", request)
