"""Capacity API: /api/v1/capacity/... requests, preview, approval, headroom, rebalance and the budget plan."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlmodel import Session

from dcops.auth.actor import SYSTEM, Actor
from dcops.auth.choices import ADMIN, ADMIN_OPERATOR, EVERYONE, STAFF, Role
from dcops.auth.deps import Allow
from dcops.capacity import headroom as hr
from dcops.capacity import service
from dcops.capacity.models import (
    CapacityRequest,
    CapacityRequestCreate,
    CapacityRequestEvent,
    CapacityRequestPublic,
    CapacityRequestVM,
    Decision,
    PreviewPublic,
    Rejection,
    RequestEventPublic,
    RequestStatus,
    RequestVMPublic,
    VMSpecPublic,
)
from dcops.capacity.plan_router import router as plan_router
from dcops.crud import MAX_LIMIT, ListQuery
from dcops.database import get_session
from dcops.dcim.models import Device
from dcops.schemas import Page
from dcops.tenancy.models import Agency
from dcops.virtualization.models import VirtualMachine

router = APIRouter(prefix="/capacity", tags=["capacity"])
router.include_router(plan_router)

FILERS = ADMIN_OPERATOR
PLANNING = frozenset({Role.ADMIN, Role.OPERATOR, Role.PLANNER, Role.AUDITOR, Role.ONCALL})


def _failure(session: Session, vm_id: int) -> str | None:
    try:
        from dcops.provisioning.service import last_failure
    except ImportError:
        return None
    return last_failure(session, vm_id)  # type: ignore[no-any-return]


def to_public(session: Session, request: CapacityRequest, *, detail: bool = True,
              warnings: list[str] | None = None) -> CapacityRequestPublic:
    """Render a request with its lines, totals and (in detail) its VMs and events."""
    items = service._items(session, request.id)  # type: ignore[arg-type]
    agency = session.get(Agency, request.agency_id)
    vms: list[RequestVMPublic] = []
    events: list[RequestEventPublic] = []
    if detail:
        rows = session.execute(
            select(VirtualMachine, Device.name).join(CapacityRequestVM, CapacityRequestVM.vm_id == VirtualMachine.id)
            .outerjoin(Device, Device.id == VirtualMachine.host_id)
            .where(CapacityRequestVM.request_id == request.id).order_by(VirtualMachine.id)
        ).all()
        vms = [RequestVMPublic(id=vm.id, name=vm.name, host_id=vm.host_id, host=host, ip_address=vm.ip_address,
                               state=vm.state, vcpus=vm.vcpus, ram_gib=vm.ram_gib, disk_gib=vm.disk_gib,
                               failure=_failure(session, vm.id) if vm.state == "failed" else None)
               for vm, host in rows]
        events = [RequestEventPublic.model_validate(e, from_attributes=True) for e in session.execute(
            select(CapacityRequestEvent).where(CapacityRequestEvent.request_id == request.id)
            .order_by(CapacityRequestEvent.id)).scalars()]
    return CapacityRequestPublic(
        id=request.id, agency_id=request.agency_id, agency_code=agency.code if agency else "?",  # type: ignore
        justification=request.justification, cluster_id=request.cluster_id, status=request.status,
        requested_by=request.requested_by, decided_by=request.decided_by, decision_reason=request.decision_reason,
        created_at=request.created_at, updated_at=request.updated_at,
        items=[VMSpecPublic.model_validate(i, from_attributes=True) for i in items],
        total_vcpus=sum(i.vcpus * i.count for i in items), total_ram_gib=sum(i.ram_gib * i.count for i in items),
        total_disk_gib=sum(i.disk_gib * i.count for i in items), total_vms=sum(i.count for i in items),
        vms=vms, events=events, warnings=warnings or [],
    )


@router.post("/requests", response_model=CapacityRequestPublic, status_code=201, summary="File a capacity request")
def file_request(body: CapacityRequestCreate, actor: Actor = Depends(Allow(FILERS)),
                 session: Session = Depends(get_session)) -> Any:
    """File a request for an agency; refused (409) when over quota or when it cannot be placed, naming why."""
    request, warnings = service.file_request(session, actor=actor, data=body)
    return to_public(session, request, warnings=warnings)


@router.post("/requests/preview", response_model=PreviewPublic, summary="Preview a draft request")
def preview_draft(body: CapacityRequestCreate, actor: Actor = Depends(Allow(FILERS | {Role.PLANNER})),
                  session: Session = Depends(get_session)) -> Any:
    """Show where a request would go before filing it, or what is missing."""
    return service.preview_draft(session, actor=actor, data=body)


@router.get("/requests", response_model=Page[CapacityRequestPublic], summary="List capacity requests")
def list_requests(
    actor: Actor = Depends(Allow(EVERYONE)),
    session: Session = Depends(get_session),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    offset: int = Query(0, ge=0),
    status: RequestStatus | None = None,
    agency_id: int | None = None,
    ordering: str | None = Query(None, description="id, created_at, updated_at or status; '-' for descending"),
) -> Any:
    """List requests, newest first (agency viewers: their agency's only)."""
    rows, count = service.get_all(session, actor=actor, query=ListQuery(
        limit=limit, offset=offset, ordering=ordering, filters={"status": status, "agency_id": agency_id}))
    return Page[CapacityRequestPublic](data=[to_public(session, r, detail=False) for r in rows], count=count,
                                       limit=limit, offset=offset)


@router.get("/requests/{id}", response_model=CapacityRequestPublic, summary="Get a capacity request")
def get_request(id: int, actor: Actor = Depends(Allow(EVERYONE)), session: Session = Depends(get_session)) -> Any:
    """Show a request with its VMs (and any provisioning failure) and every step it went through."""
    request = service.sync_status(session, service.get(session, actor=actor, id=id), SYSTEM)
    return to_public(session, request)


@router.get("/requests/{id}/preview", response_model=PreviewPublic, summary="Where a filed request would go")
def preview(id: int, actor: Actor = Depends(Allow(STAFF)), session: Session = Depends(get_session)) -> Any:
    """Show where request ``id`` would be placed if approved now."""
    return service.preview(session, actor=actor, id=id)


@router.post("/requests/{id}/approve", response_model=CapacityRequestPublic, summary="Approve (admin)")
def approve(id: int, body: Decision | None = None, actor: Actor = Depends(Allow(ADMIN)),
            session: Session = Depends(get_session)) -> Any:
    """Approve: reserve the capacity atomically (409 naming the missing resource if it is gone) and launch jobs."""
    request, warnings = service.approve(session, actor=actor, id=id, note=body.reason if body else "")
    return to_public(session, request, warnings=warnings)


@router.post("/requests/{id}/provision", response_model=CapacityRequestPublic, summary="Launch provisioning")
def provision(id: int, actor: Actor = Depends(Allow(ADMIN_OPERATOR)), session: Session = Depends(get_session)) -> Any:
    """Launch the jobs of an approved request (when DCOPS_AUTO_PROVISION is off, or launching failed before)."""
    request, warnings = service.provision(session, actor=actor, id=id)
    return to_public(session, request, warnings=warnings)


@router.post("/requests/{id}/reject", response_model=CapacityRequestPublic, summary="Reject (admin)")
def reject(id: int, body: Rejection, actor: Actor = Depends(Allow(ADMIN)),
           session: Session = Depends(get_session)) -> Any:
    """Reject with a reason the agency will read."""
    return to_public(session, service.reject(session, actor=actor, id=id, reason=body.reason))


@router.post("/requests/{id}/cancel", response_model=CapacityRequestPublic, summary="Cancel")
def cancel(id: int, body: Decision | None = None, actor: Actor = Depends(Allow(FILERS)),
           session: Session = Depends(get_session)) -> Any:
    """Cancel (who filed it, or an admin); reserved VMs not yet built are released."""
    return to_public(session, service.cancel(session, actor=actor, id=id, reason=body.reason if body else ""))


@router.get("/headroom", response_model=hr.Headroom, summary="Headroom per cluster and host")
def headroom(actor: Actor = Depends(Allow(PLANNING)), session: Session = Depends(get_session)) -> Any:
    """Allocated against capacity per resource, HA reserve held back, the largest standard VM that fits."""
    try:
        return hr.headroom(session)
    finally:
        session.rollback()


@router.get("/rebalance", response_model=hr.RebalancePlan, summary="Propose live migrations")
def rebalance(actor: Actor = Depends(Allow(PLANNING)), session: Session = Depends(get_session),
              goal: str = Query("free-hosts", pattern="^(free-hosts|fix)$"),
              cluster_id: int | None = None) -> Any:
    """Propose migrations that free the most hosts (goal=free-hosts) or fix violations (goal=fix); runs nothing."""
    try:
        return hr.rebalance(session, goal=goal, cluster_id=cluster_id)
    finally:
        session.rollback()
