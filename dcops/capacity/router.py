"""Capacity API: /api/v1/capacity/... requests, preview, approval, headroom, rebalance and the budget plan."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Query

from dcops.auth.actor import SYSTEM, Actor
from dcops.auth.choices import ADMIN, ADMIN_OPERATOR, EVERYONE, STAFF, Role
from dcops.auth.deps import Allow
from dcops.capacity import flows, service
from dcops.capacity import headroom as hr
from dcops.capacity.models import (
    CapacityRequestCreate,
    CapacityRequestPublic,
    Decision,
    PreviewPublic,
    Rejection,
    RequestStatus,
)
from dcops.capacity.plan_router import router as plan_router
from dcops.crud import ListQuery
from dcops.database import SessionDep
from dcops.listing import MAX_LIMIT
from dcops.routing import ApiRouter
from dcops.schemas import Page

router = ApiRouter(prefix="/capacity", tags=["capacity"])
router.include_router(plan_router)

FILERS = ADMIN_OPERATOR
PLANNING = frozenset({Role.ADMIN, Role.OPERATOR, Role.PLANNER, Role.AUDITOR, Role.ONCALL})


@router.post("/requests", response_model=CapacityRequestPublic, status_code=201, summary="File a capacity request")
def file_request(session: SessionDep, body: CapacityRequestCreate, actor: Actor = Depends(Allow(FILERS))) -> Any:
    """File a request for an agency; refused (409) when over quota or when it cannot be placed, naming why."""
    request, warnings = service.file_request(session, actor=actor, data=body)
    return service.public(session, request, warnings=warnings)


@router.post("/requests/preview", response_model=PreviewPublic, summary="Preview a draft request")
def preview_draft(session: SessionDep, body: CapacityRequestCreate,
                  actor: Actor = Depends(Allow(FILERS | {Role.PLANNER}))) -> Any:
    """Show where a request would go before filing it, or what is missing."""
    return service.preview_draft(session, actor=actor, data=body)


@router.get("/requests", response_model=Page[CapacityRequestPublic], summary="List capacity requests")
def list_requests(
    session: SessionDep,
    actor: Actor = Depends(Allow(EVERYONE)),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    offset: int = Query(0, ge=0),
    status: RequestStatus | None = None,
    agency_id: int | None = None,
    ordering: str | None = Query(None, description="id, created_at, updated_at or status; '-' for descending"),
) -> Any:
    """List requests, newest first (agency viewers: their agency's only)."""
    rows, count = service.get_all(session, actor=actor, query=ListQuery(
        limit=limit, offset=offset, ordering=ordering, filters={"status": status, "agency_id": agency_id}))
    return Page[CapacityRequestPublic](data=[service.public(session, r, detail=False) for r in rows], count=count,
                                       limit=limit, offset=offset)


@router.get("/requests/{id}", response_model=CapacityRequestPublic, summary="Get a capacity request")
def get_request(session: SessionDep, id: int, actor: Actor = Depends(Allow(EVERYONE))) -> Any:
    """Show a request with its VMs (and any provisioning failure) and every step it went through."""
    request = service.sync_status(session, service.get(session, actor=actor, id=id), SYSTEM)
    return service.public(session, request)


@router.get("/requests/{id}/preview", response_model=PreviewPublic, summary="Where a filed request would go")
def preview(session: SessionDep, id: int, actor: Actor = Depends(Allow(STAFF))) -> Any:
    """Show where request ``id`` would be placed if approved now."""
    return service.preview(session, actor=actor, id=id)


@router.post("/requests/{id}/approve", response_model=CapacityRequestPublic, summary="Approve (admin)")
def approve(session: SessionDep, id: int, body: Decision | None = None, actor: Actor = Depends(Allow(ADMIN))) -> Any:
    """Approve: reserve the capacity atomically (409 naming the missing resource if it is gone) and launch jobs."""
    request, warnings = flows.approve(session, actor=actor, id=id, note=body.reason if body else "")
    return service.public(session, request, warnings=warnings)


@router.post("/requests/{id}/provision", response_model=CapacityRequestPublic, summary="Launch provisioning")
def provision(session: SessionDep, id: int, actor: Actor = Depends(Allow(ADMIN_OPERATOR))) -> Any:
    """Launch the jobs of an approved request (when DCOPS_AUTO_PROVISION is off, or launching failed before)."""
    request, warnings = flows.provision(session, actor=actor, id=id)
    return service.public(session, request, warnings=warnings)


@router.post("/requests/{id}/reject", response_model=CapacityRequestPublic, summary="Reject (admin)")
def reject(session: SessionDep, id: int, body: Rejection, actor: Actor = Depends(Allow(ADMIN))) -> Any:
    """Reject with a reason the agency will read."""
    return service.public(session, service.reject(session, actor=actor, id=id, reason=body.reason))


@router.post("/requests/{id}/cancel", response_model=CapacityRequestPublic, summary="Cancel")
def cancel(session: SessionDep, id: int, body: Decision | None = None, actor: Actor = Depends(Allow(FILERS))) -> Any:
    """Cancel (who filed it, or an admin); reserved VMs not yet built are released."""
    return service.public(session, service.cancel(session, actor=actor, id=id, reason=body.reason if body else ""))


@router.get("/headroom", response_model=hr.Headroom, summary="Headroom per cluster and host")
def headroom(session: SessionDep, actor: Actor = Depends(Allow(PLANNING))) -> Any:
    """Allocated against capacity per resource, HA reserve held back, the largest standard VM that fits."""
    try:
        return hr.headroom(session)
    finally:
        session.rollback()


@router.get("/rebalance", response_model=hr.RebalancePlan, summary="Propose live migrations")
def rebalance(session: SessionDep, actor: Actor = Depends(Allow(PLANNING)),
              goal: str = Query("free-hosts", pattern="^(free-hosts|fix)$"),
              cluster_id: int | None = None) -> Any:
    """Propose migrations that free the most hosts (goal=free-hosts) or fix violations (goal=fix); runs nothing."""
    try:
        return hr.rebalance(session, goal=goal, cluster_id=cluster_id)
    finally:
        session.rollback()
