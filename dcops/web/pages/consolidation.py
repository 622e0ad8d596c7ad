"""The consolidation board: agencies done / in progress / not started, waves and what they need, applications,
cost per agency; starting a migration (operators); XLSX downloads. Agency viewers see their own agency only."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.responses import Response
from sqlmodel import Session

from dcops.auth.choices import ADMIN_OPERATOR, EVERYONE, Role
from dcops.capacity.planning import PlanRequest
from dcops.consolidation import reports, service, xlsx
from dcops.consolidation.choices import AppStatus
from dcops.consolidation.models import ShowbackSettingsBase
from dcops.database import SessionDep
from dcops.exceptions import DcopsError
from dcops.routing import ApiRouter
from dcops.web import forms
from dcops.web.auth import Page, Viewer
from dcops.web.forms import FormField, FormState
from dcops.web.render import lang_of, redirect, render

router = ApiRouter()
PLAN_READERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.PLANNER, Role.AUDITOR})
EDITORS = frozenset({Role.ADMIN, Role.PLANNER})
SETTINGS = {"amortisation_years": "Hardware life (years)", "tariff_idr_per_kwh": "Electricity tariff (Rp/kWh)",
            "pue": "PUE (data center)", "load_factor": "Load factor (average draw / nameplate)",
            "overhead_percent": "Overhead (%)", "cpu_weight": "Compute cost shared by vCPU (rest by RAM)",
            "own_server_price_idr": "Typical agency server price",
            "own_server_power_w": "Typical agency server power (W)",
            "own_pue": "PUE (agency server room)", "own_overhead_percent": "Agency's own upkeep (%)"}


def _settings_fields() -> list[FormField]:
    return [forms.widget(ShowbackSettingsBase, name, label) for name, label in SETTINGS.items()]


def _settings_state(session: Session) -> FormState:
    row = reports.settings(session)
    return FormState(values={name: forms.display(getattr(row, name)) for name in SETTINGS})


def _wave_needs(session: Session, viewer: Viewer) -> dict[str, Any] | None:
    if viewer.role not in PLAN_READERS:
        return None
    model = reports.default_server_model(session)
    if model is None:
        return None
    try:
        return reports.wave_needs(session, actor=viewer.actor, request=PlanRequest(model=model))
    except DcopsError:
        return None


@router.get("/consolidation")
def board_page(request: Request, session: SessionDep, agency: str | None = None,
               viewer: Viewer = Depends(Page(EVERYONE))) -> Response:
    """The board, the waves, the applications and the cost per agency."""
    return _board(request, session, viewer, agency, None)


def _board(request: Request, session: Session, viewer: Viewer, agency: str | None,
           state: FormState | None, status_code: int = 200) -> Response:
    board = reports.board(session, actor=viewer.actor)
    costs = reports.showback(session, actor=viewer.actor)
    needs = _wave_needs(session, viewer)
    apps = reports.application_rows(session, actor=viewer.actor, agency=agency)
    return render(request, "consolidation.html", session, active="consolidation", title="Consolidation board",
                  board=board, costs=costs, needs={w["wave"]: w for w in needs["waves"]} if needs else {},
                  model=needs["model"] if needs else "", apps=apps, agency=agency or "",
                  can_start=viewer.can(ADMIN_OPERATOR), can_edit=viewer.can(EDITORS),
                  settings_fields=_settings_fields(), settings=state or _settings_state(session),
                  status_code=status_code)


@router.post("/consolidation/settings")
async def settings_page(request: Request, session: SessionDep,
                        viewer: Viewer = Depends(Page(EDITORS))) -> Response:
    """Change the showback assumptions (planners and admins); errors shown next to their field."""
    fields = _settings_fields()
    raw, data = forms.form_to_data(ShowbackSettingsBase, fields, await request.form())
    state = FormState(values=raw)
    body = forms.validate(ShowbackSettingsBase, data, state)
    if body is None:
        return _board(request, session, viewer, None, state, 422)
    reports.update_settings(session, actor=viewer.actor, data=body)
    return redirect("/consolidation#costs", request)


@router.post("/consolidation/applications/{id}/start")
def start_page(id: int, request: Request, session: SessionDep,
               viewer: Viewer = Depends(Page(ADMIN_OPERATOR))) -> Response:
    """Start the migration: file its capacity request and open it."""
    _app, filed = service.start(session, actor=viewer.actor, id=id)
    return redirect(f"/requests/{filed.id}", request)


@router.post("/consolidation/applications/{id}/retire")
def retire_page(id: int, request: Request, session: SessionDep,
                viewer: Viewer = Depends(Page(ADMIN_OPERATOR))) -> Response:
    """Record that the application's agency server is switched off (it runs in the data center now)."""
    service.move(session, actor=viewer.actor, id=id, status=AppStatus.RETIRED, note="agency server switched off")
    return redirect("/consolidation#applications", request)


@router.get("/consolidation/export/{what}")
def export_page(what: str, request: Request, session: SessionDep,
                viewer: Viewer = Depends(Page(EVERYONE))) -> Response:
    """Download the board or the cost per agency as XLSX, headers in the page's language."""
    lang = lang_of(request)
    if what == "board":
        return xlsx.response(xlsx.board_workbook(reports.board(session, actor=viewer.actor), lang), "konsolidasi")
    if what == "showback":
        return xlsx.response(xlsx.showback_workbook(reports.showback(session, actor=viewer.actor), lang),
                             "biaya-layanan")
    from dcops.exceptions import NotFoundError

    raise NotFoundError("choose /consolidation/export/board or /consolidation/export/showback")
