"""Consolidation API: /api/v1/consolidation/... applications, waves, migration, board, showback, plan per wave.

Who may do what: planners and admins record applications and waves, plan them into waves and set the showback
assumptions; operators and admins start migrations and move them along; every role reads the board, the
applications and the showback, an agency viewer its own agency's only. The plan per wave is the budget plan's
readers' (not agency viewers).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from dcops.auth.actor import Actor
from dcops.auth.choices import ADMIN_OPERATOR, EVERYONE, Role
from dcops.auth.deps import Allow
from dcops.capacity.planning import PlanRequest
from dcops.consolidation import reports, service, xlsx
from dcops.consolidation.choices import AppStatus
from dcops.consolidation.models import (
    ApplicationCreate,
    ApplicationPublic,
    ApplicationUpdate,
    MoveIn,
    PlanIn,
    ShowbackSettingsBase,
    ShowbackSettingsUpdate,
    StartIn,
    WaveCreate,
    WavePublic,
    WaveUpdate,
)
from dcops.crud import ListQuery
from dcops.database import SessionDep
from dcops.routing import ApiRouter
from dcops.schemas import Page

router = ApiRouter(prefix="/consolidation", tags=["consolidation"])
PLANNERS = frozenset({Role.ADMIN, Role.PLANNER})
STAFF_READERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.PLANNER, Role.AUDITOR})
Reader = Annotated[Actor, Depends(Allow(EVERYONE))]
Planner = Annotated[Actor, Depends(Allow(PLANNERS))]
Mover = Annotated[Actor, Depends(Allow(ADMIN_OPERATOR))]
PlanReader = Annotated[Actor, Depends(Allow(STAFF_READERS))]
StaffReader = Annotated[Actor, Depends(Allow(STAFF_READERS | {Role.ONCALL}))]
Lang = Annotated[Literal["id", "en"], Query(description="headers' language: Indonesian (default) or English")]


def _out(session: Session, app: Any, warnings: list[str] | None = None) -> ApplicationPublic:
    return service.public(session, app)


# --- applications ------------------------------------------------------------------------------


@router.get("/applications", response_model=Page[ApplicationPublic], summary="Agency applications")
def list_applications(actor: Reader, session: SessionDep, agency_id: int | None = None, status: AppStatus | None = None,
                      wave_id: int | None = None, q: str | None = Query(default=None, max_length=100),
                      limit: int = Query(default=100, ge=1, le=1000), offset: int = Query(default=0, ge=0)) -> Any:
    """List applications (an agency viewer: its own agency's)."""
    query = ListQuery(limit=limit, offset=offset, q=q, filters={"agency_id": agency_id,
                      "status": status.value if status else None, "wave_id": wave_id})
    rows, count = service.get_all(session, actor=actor, query=query)
    return {"data": [service.public(session, a, events=False) for a in rows], "count": count, "limit": limit,
            "offset": offset}


@router.post("/applications", response_model=ApplicationPublic, status_code=201, summary="Record an application")
def create_application(actor: Planner, session: SessionDep, data: ApplicationCreate) -> Any:
    """Record an agency application: purpose, criticality, classification, where it runs, its estimate."""
    app, _ = service.create(session, actor=actor, data=data)
    return service.public(session, app)


@router.get("/applications/{id}", response_model=ApplicationPublic, summary="An application and its events")
def get_application(actor: Reader, session: SessionDep, id: int) -> Any:
    """Return an application with every status change (who, when)."""
    return service.public(session, service.get(session, actor=actor, id=id))


@router.patch("/applications/{id}", response_model=ApplicationPublic, summary="Change an application")
def update_application(actor: Planner, session: SessionDep, id: int, data: ApplicationUpdate) -> Any:  # type: ignore[valid-type]  # partial_model builds it at run time
    """Change an application's record (its status moves through plan, start and move)."""
    app, _ = service.update_application(session, actor=actor, id=id, data=data)
    return service.public(session, app)


@router.delete("/applications/{id}", status_code=204, summary="Delete an application")
def delete_application(actor: Planner, session: SessionDep, id: int) -> Response:
    """Delete an application record."""
    service.applications.delete(session, actor=actor, id=id)
    return Response(status_code=204)


@router.post("/applications/{id}/plan", response_model=ApplicationPublic, summary="Plan into a wave")
def plan_application(actor: Planner, session: SessionDep, id: int, data: PlanIn) -> Any:
    """Put an application in a migration wave (status planned)."""
    return service.public(session, service.plan_into(session, actor=actor, id=id, wave_id=data.wave_id,
                                                     note=data.note))


class Started(BaseModel):
    application: ApplicationPublic
    capacity_request_id: int


@router.post("/applications/{id}/start", response_model=Started, summary="Start the migration")
def start_migration(actor: Mover, session: SessionDep, id: int, data: StartIn | None = None) -> Any:
    """File a capacity request from the estimate; the application follows it into the data center."""
    body = data or StartIn()
    app, request = service.start(session, actor=actor, id=id, cluster_id=body.cluster_id,
                                 justification=body.justification)
    return {"application": service.public(session, app), "capacity_request_id": request.id}


@router.post("/applications/{id}/move", response_model=ApplicationPublic, summary="Move along by hand")
def move_application(actor: Mover, session: SessionDep, id: int, data: MoveIn) -> Any:
    """Move an application by hand: in_dc, retired (its agency server is switched off), back to planned."""
    return service.public(session, service.move(session, actor=actor, id=id, status=data.status, note=data.note))


class VMLinks(BaseModel):
    vm_ids: list[int] = Field(min_length=1, max_length=100)


@router.post("/applications/{id}/vms", response_model=ApplicationPublic, summary="Link VMs")
def link_vms(actor: Mover, session: SessionDep, id: int, data: VMLinks) -> Any:
    """Link data-center VMs to an application (one brought in before dcops tracked it)."""
    return service.public(session, service.link_vms(session, actor=actor, id=id, vm_ids=data.vm_ids))


# --- waves ----------------------------------------------------------------------------------


@router.get("/waves", response_model=Page[WavePublic], summary="Migration waves")
def list_waves(actor: StaffReader, session: SessionDep) -> Any:
    """List the migration waves by fiscal year."""
    rows, count = service.waves.get_all(session, actor=actor, query=ListQuery(limit=1000))
    return {"data": rows, "count": count, "limit": 1000, "offset": 0}


@router.post("/waves", response_model=WavePublic, status_code=201, summary="Add a migration wave")
def create_wave(actor: Planner, session: SessionDep, data: WaveCreate) -> Any:
    """Add a wave: its dates and the fiscal year that pays for it."""
    return service.waves.create(session, actor=actor, data=data)[0]


@router.patch("/waves/{id}", response_model=WavePublic, summary="Change a migration wave")
def update_wave(actor: Planner, session: SessionDep, id: int, data: WaveUpdate) -> Any:  # type: ignore[valid-type]  # partial_model builds it at run time
    """Move a wave's dates or fiscal year."""
    return service.waves.update(session, actor=actor, id=id, data=data)[0]


# --- board and showback -----------------------------------------------------------------------


@router.get("/board", summary="Consolidation board")
def get_board(actor: Reader, session: SessionDep) -> dict[str, Any]:
    """Per agency and overall: applications in and out, agency servers running, % consolidated, waves."""
    return asdict(reports.board(session, actor=actor))


XLSX_FILE: dict[int | str, dict[str, Any]] = {200: {"description": "an XLSX workbook", "content": {xlsx.MEDIA: {}}}}


@router.get("/board/export", summary="Consolidation board as XLSX", response_class=Response, responses=XLSX_FILE)
def export_board(actor: Reader, session: SessionDep, lang: Lang = "id") -> Response:
    """The board as a workbook (headers in Indonesian, or English with lang=en)."""
    return xlsx.response(xlsx.board_workbook(reports.board(session, actor=actor), lang), "konsolidasi")


@router.get("/showback", summary="Cost per agency (showback)")
def get_showback(actor: Reader, session: SessionDep) -> dict[str, Any]:
    """Yearly cost per agency and application in Rupiah, every assumption shown, beside own servers' cost."""
    return reports.showback_dict(reports.showback(session, actor=actor))


@router.get("/showback/export", summary="Cost per agency as XLSX (for RKA)", response_class=Response,
            responses=XLSX_FILE)
def export_showback(actor: Reader, session: SessionDep, lang: Lang = "id") -> Response:
    """The showback as a workbook with an assumptions sheet, amounts as "Rp" #,##0."""
    return xlsx.response(xlsx.showback_workbook(reports.showback(session, actor=actor), lang), "biaya-layanan")


@router.get("/showback/settings", response_model=ShowbackSettingsBase, summary="Showback assumptions")
def get_settings(actor: Reader, session: SessionDep) -> Any:
    """Return the assumptions the showback uses."""
    return reports.settings(session)


@router.patch("/showback/settings", response_model=ShowbackSettingsBase, summary="Change showback assumptions")
def patch_settings(actor: Planner, session: SessionDep, data: ShowbackSettingsUpdate) -> Any:  # type: ignore[valid-type]  # partial_model builds it at run time
    """Change tariff, hardware life, PUE, overhead... (planners and admins)."""
    return reports.update_settings(session, actor=actor, data=data)


# --- the plan per wave -------------------------------------------------------------------------


@router.post("/plan/waves", summary="What each wave needs (budget plan)")
def plan_waves(actor: PlanReader, session: SessionDep, request: PlanRequest) -> dict[str, Any]:
    """Per wave: the servers, Rupiah, U and kW bringing it in adds to the budget plan."""
    return reports.wave_needs(session, actor=actor, request=request)


class Schedule(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    wave_years: dict[str, Annotated[int, Field(ge=2000, le=2100)]] = Field(default_factory=dict)
    exclude_waves: list[str] = Field(default_factory=list, max_length=50)


class ScheduleCompare(PlanRequest):
    schedules: list[Schedule] = Field(min_length=1, max_length=5)


@router.post("/plan/compare", summary="Compare wave schedules (what-if)")
def compare_schedules(actor: PlanReader, session: SessionDep, request: ScheduleCompare) -> list[dict[str, Any]]:
    """The budget plan under each wave schedule, side by side."""
    base = PlanRequest.model_validate(request.model_dump(exclude={"schedules"}))
    return reports.compare_schedules(session, actor=actor, request=base,
                                     schedules=[s.model_dump() for s in request.schedules])
