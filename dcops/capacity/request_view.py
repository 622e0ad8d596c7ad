"""Reading capacity requests: their lines, VMs, steps and why a launch failed, and the public view of one."""

from __future__ import annotations

from sqlmodel import Session, col, select

from dcops.auth.actor import Actor
from dcops.capacity.hooks import VM_FAILURE
from dcops.capacity.models import (
    CapacityRequest,
    CapacityRequestEvent,
    CapacityRequestItem,
    CapacityRequestPublic,
    CapacityRequestVM,
    RequestEventPublic,
    RequestStatus,
    RequestVMPublic,
    VMSpecPublic,
)
from dcops.dcim.models import Cluster, Device
from dcops.exceptions import NotFoundError
from dcops.tenancy.models import Agency
from dcops.virtualization.models import VirtualMachine

__all__ = ["LAUNCH_PROBLEM", "agency_id_by_code", "cluster_id_by_name", "launch_problem", "note_launch_problem",
           "public", "request_events", "request_items", "request_vm_ids", "request_vms", "vm_failure"]


def request_items(session: Session, request_id: int) -> list[CapacityRequestItem]:
    """Return the lines of request ``request_id`` in the order they were filed."""
    return list(session.exec(
        select(CapacityRequestItem).where(col(CapacityRequestItem.request_id) == request_id)
        .order_by(col(CapacityRequestItem.id))
    ))


def request_vms(session: Session, request_id: int) -> list[tuple[VirtualMachine, str | None]]:
    """Return the VMs an approval created for request ``request_id``, each with its host's name."""
    rows = session.exec(
        select(VirtualMachine, Device.name)
        .join(CapacityRequestVM, col(CapacityRequestVM.vm_id) == col(VirtualMachine.id))
        .outerjoin(Device, col(Device.id) == col(VirtualMachine.host_id))
        .where(col(CapacityRequestVM.request_id) == request_id).order_by(col(VirtualMachine.id))
    ).all()
    return [(vm, host) for vm, host in rows]


def request_events(session: Session, request_id: int) -> list[CapacityRequestEvent]:
    """Return every step request ``request_id`` went through, oldest first."""
    return list(session.exec(
        select(CapacityRequestEvent).where(col(CapacityRequestEvent.request_id) == request_id)
        .order_by(col(CapacityRequestEvent.id))
    ))


def agency_id_by_code(session: Session, code: str) -> int:
    """Return the id of the agency with this code (any case), or raise NotFoundError."""
    found = session.exec(select(col(Agency.id)).where(col(Agency.code) == code.upper())).first()
    if found is None:
        raise NotFoundError(f"agency '{code}' not found (dcops agency list shows the codes)")
    return found


def cluster_id_by_name(session: Session, name: str) -> int:
    """Return the id of the cluster with this name, or raise NotFoundError."""
    found = session.exec(select(col(Cluster.id)).where(col(Cluster.name) == name)).first()
    if found is None:
        raise NotFoundError(f"cluster '{name}' not found")
    return found


LAUNCH_PROBLEM = "provisioning not launched: "


def note_launch_problem(session: Session, request_id: int, actor: Actor, reason: str) -> None:
    """Record why the jobs of an approved request could not be launched (its VMs stay reserved)."""
    session.add(CapacityRequestEvent(request_id=request_id, username=actor.username[:100],
                                     from_status=RequestStatus.APPROVED, to_status=RequestStatus.APPROVED,
                                     note=(LAUNCH_PROBLEM + reason)[:2000]))
    session.commit()


def launch_problem(session: Session, request: CapacityRequest) -> str | None:
    """Why an approved request's provisioning is not running (None when it is, or the request moved on)."""
    if request.status != RequestStatus.APPROVED:
        return None
    last = session.exec(select(CapacityRequestEvent).where(col(CapacityRequestEvent.request_id) == request.id)
                        .order_by(col(CapacityRequestEvent.id).desc()).limit(1)).first()
    if last is not None and last.note.startswith(LAUNCH_PROBLEM):
        return last.note[len(LAUNCH_PROBLEM):]
    return None


def request_vm_ids(session: Session, request_id: int) -> list[int]:
    """Return the ids of the VMs an approval created for request ``request_id``."""
    return list(session.exec(
        select(col(CapacityRequestVM.vm_id)).where(col(CapacityRequestVM.request_id) == request_id)
        .order_by(col(CapacityRequestVM.vm_id))
    ))


def vm_failure(session: Session, vm_id: int) -> str | None:
    """Say why the VM's last provisioning job failed (the provisioning feature tells), else None."""
    for describe in VM_FAILURE.all():
        found = describe(session, vm_id)
        if found:
            return found
    return None


def public(session: Session, request: CapacityRequest, *, detail: bool = True,
           warnings: list[str] | None = None) -> CapacityRequestPublic:
    """Render a request with its lines, totals and (in detail) its VMs, with any provisioning failure, and events."""
    request_id = request.id or 0
    items = request_items(session, request_id)
    agency = session.get(Agency, request.agency_id)
    vms: list[RequestVMPublic] = []
    events: list[RequestEventPublic] = []
    if detail:
        vms = [RequestVMPublic(id=vm.id or 0, name=vm.name, host_id=vm.host_id, host=host, ip_address=vm.ip_address,
                               state=vm.state, vcpus=vm.vcpus, ram_gib=vm.ram_gib, disk_gib=vm.disk_gib,
                               failure=vm_failure(session, vm.id or 0) if vm.state == "failed" else None)
               for vm, host in request_vms(session, request_id)]
        events = [RequestEventPublic.model_validate(e, from_attributes=True)
                  for e in request_events(session, request_id)]
    return CapacityRequestPublic(
        id=request_id, agency_id=request.agency_id, agency_code=agency.code if agency else "?",
        justification=request.justification, cluster_id=request.cluster_id, status=request.status,
        requested_by=request.requested_by, decided_by=request.decided_by, decision_reason=request.decision_reason,
        created_at=request.created_at, updated_at=request.updated_at,
        items=[VMSpecPublic.model_validate(i, from_attributes=True) for i in items],
        total_vcpus=sum(i.vcpus * i.count for i in items), total_ram_gib=sum(i.ram_gib * i.count for i in items),
        total_disk_gib=sum(i.disk_gib * i.count for i in items), total_vms=sum(i.count for i in items),
        vms=vms, events=events, warnings=warnings or [],
    )
