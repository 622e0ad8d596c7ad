"""Budget plan API: /capacity/plan (JSON), /compare (what-if by model), /export, /growth (stored assumptions).

Planners, admins, operators and auditors may read and export the plan; agency viewers (and on-call) get 403:
the plan shows every agency's demand and the budget. Planners and admins set the stored growth assumptions.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel

from dcops.auth.actor import Actor
from dcops.auth.choices import Role
from dcops.auth.deps import Allow
from dcops.capacity import export, planning
from dcops.capacity.forecast import Plan
from dcops.capacity.plan_models import GrowthAssumptionPublic
from dcops.capacity.planning import CompareRequest, GrowthAssumptionIn, PlanRequest
from dcops.database import SessionDep
from dcops.routing import ApiRouter

router = ApiRouter(prefix="/plan", tags=["capacity"])  # included by the capacity router (/capacity)
PLAN_READERS = Allow({Role.ADMIN, Role.OPERATOR, Role.PLANNER, Role.AUDITOR})
Reader = Annotated[Actor, Depends(PLAN_READERS)]
Planner = Annotated[Actor, Depends(Allow({Role.ADMIN, Role.PLANNER}))]
Code = Annotated[str, Path(min_length=2, max_length=20, description="agency code, e.g. DINKES")]


class Comparison(BaseModel):
    """Plans of several server models side by side."""

    summary: list[dict[str, Any]]
    plans: list[Plan]


def _query(
    model: Annotated[str, Query(min_length=1, max_length=100, description="device type slug or model name")],
    years: Annotated[int, Query(ge=1, le=10)] = 3,
    cluster: Annotated[str | None, Query(max_length=100)] = None,
    baseline_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    growth_percent: Annotated[float | None, Query(ge=-100, le=1000)] = None,
    default_growth_percent: Annotated[float, Query(ge=-100, le=1000)] = planning.DEFAULT_GROWTH_PERCENT,
    vcpu_ratio: Annotated[float | None, Query(gt=0, le=64)] = None,
    ram_ratio: Annotated[float | None, Query(gt=0, le=4)] = None,
    disk_ratio: Annotated[float | None, Query(gt=0, le=10)] = None,
    ha_reserve_hosts: Annotated[int | None, Query(ge=0, le=16)] = None,
) -> PlanRequest:
    return PlanRequest(model=model, years=years, cluster=cluster, baseline_year=baseline_year,
                       growth_percent=growth_percent, default_growth_percent=default_growth_percent,
                       vcpu_ratio=vcpu_ratio, ram_ratio=ram_ratio, disk_ratio=disk_ratio,
                       ha_reserve_hosts=ha_reserve_hosts)


@router.get("", summary="Budget plan", response_model=Plan)
def get_plan(actor: Reader, session: SessionDep, request: Annotated[PlanRequest, Depends(_query)]) -> dict[str, Any]:
    """Forecast demand, servers to buy, cost, rack units and power per fiscal year."""
    return export.plan_dict(planning.build_plan(session, actor=actor, request=request))


@router.post("", summary="Budget plan (what-if)", response_model=Plan)
def post_plan(actor: Reader, session: SessionDep, request: PlanRequest) -> dict[str, Any]:
    """Forecast with what-if assumptions: growth per agency, allocation ratios, HA reserve, server model."""
    return export.plan_dict(planning.build_plan(session, actor=actor, request=request))


@router.post("/compare", summary="Compare server models (what-if)", response_model=Comparison)
def compare_models(actor: Reader, session: SessionDep, request: CompareRequest) -> dict[str, Any]:
    """Plan the same demand with each server model; a side-by-side summary and the full plans."""
    plans = planning.compare(session, actor=actor, request=request)
    return {"summary": planning.comparison_rows(plans), "plans": [export.plan_dict(p) for p in plans]}


def _file(plan: Any, fmt: str, table: str) -> Response:
    body = export.render(plan, fmt, table)
    suffix = f"-{table}" if fmt == "csv" and table != "summary" else ""
    name = f"budget-plan-{plan.model['slug']}-{date.today():%Y%m%d}{suffix}.{fmt}"
    return Response(body, media_type=export.MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


Format = Annotated[Literal["csv", "xlsx", "json"], Query(description="csv, xlsx or json")]
Table = Annotated[Literal["summary", "agencies"], Query(description="CSV only: the summary or agencies' demand")]


@router.get("/export", summary="Export the budget plan", response_class=Response)
def export_plan(actor: Reader, session: SessionDep, request: Annotated[PlanRequest, Depends(_query)],
                format: Format = "xlsx", table: Table = "summary") -> Response:
    """Download the plan as CSV, XLSX (summary, fiscal years, agencies, assumptions) or JSON."""
    return _file(planning.build_plan(session, actor=actor, request=request), format, table)


@router.post("/export", summary="Export a what-if budget plan", response_class=Response)
def export_what_if(actor: Reader, session: SessionDep, request: PlanRequest, format: Format = "xlsx",
                   table: Table = "summary") -> Response:
    """Download a what-if plan as CSV, XLSX or JSON."""
    return _file(planning.build_plan(session, actor=actor, request=request), format, table)


@router.get("/growth", summary="Stored growth assumptions", response_model=list[GrowthAssumptionPublic])
def list_growth(actor: Reader, session: SessionDep) -> Any:
    """List the growth assumptions planners stored per agency."""
    return planning.list_assumptions(session, actor=actor)


@router.put("/growth/{code}", summary="Store an agency's growth assumption", response_model=GrowthAssumptionPublic)
def put_growth(code: Code, data: GrowthAssumptionIn, actor: Planner, session: SessionDep) -> Any:
    """Store the growth (percent, or amounts per year) the plan assumes for agency CODE instead of its history."""
    return planning.set_assumption(session, actor=actor, code=code, data=data)


@router.delete("/growth/{code}", summary="Forget an agency's growth assumption", status_code=204)
def delete_growth(code: Code, actor: Planner, session: SessionDep) -> Response:
    """Forget agency CODE's stored growth assumption: the plan uses its history again."""
    planning.clear_assumption(session, actor=actor, code=code)
    return Response(status_code=204)
