"""Capacity requests: file, preview, approve (reserving capacity atomically), reject, cancel, and read.

Approval is the one write that must never overcommit a host. It runs in one transaction that locks,
in this order, the request, its agency and the hypervisor rows (PostgreSQL ``FOR UPDATE``; SQLite
serialises writers with ``BEGIN IMMEDIATE``), then re-checks quota and placement against what is
allocated now, creates the VMs on their hosts with their addresses, and commits. A concurrent approval
waits for the locks and then sees the first one's VMs, so it is refused with the resource that ran out.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlmodel import Session, col, select

from dcops.auth.actor import Actor
from dcops.auth.choices import ChangeAction, Role
from dcops.auth.scopes import require_serves
from dcops.capacity.hooks import VM_BUSY
from dcops.capacity.hosts import lock_hosts
from dcops.capacity.models import (
    TRANSITIONS,
    CapacityRequest,
    CapacityRequestCreate,
    CapacityRequestEvent,
    CapacityRequestItem,
    CapacityRequestVM,
    PreviewPublic,
    RequestStatus,
)
from dcops.capacity.request_plan import plan_request, preview_of, quota_problems
from dcops.capacity.request_view import (
    LAUNCH_PROBLEM,
    agency_id_by_code,
    cluster_id_by_name,
    launch_problem,
    note_launch_problem,
    public,
    request_events,
    request_items,
    request_vm_ids,
    request_vms,
)
from dcops.crud import Resource, jsonable, record_change
from dcops.database import is_postgresql, utcnow
from dcops.dcim.models import Cluster
from dcops.exceptions import CapacityError, ConflictError, PermissionDeniedError, ValidationError
from dcops.ipam.models import Prefix, PrefixPurpose
from dcops.ipam.service import next_free_address
from dcops.tenancy.models import Agency
from dcops.virtualization.models import VirtualMachine, VMState
from dcops.virtualization.service import virtual_machines

__all__ = ["LAUNCH_PROBLEM", "agency_id_by_code", "approve", "begin_provisioning", "cancel", "check_provisionable",
           "cluster_id_by_name", "file_request", "get", "get_all", "launch_problem", "mark_provisioning",
           "note_launch_problem", "preview", "preview_draft", "public", "reject", "request_events", "request_items",
           "request_vm_ids", "request_vms", "sync_status"]

requests = Resource(
    CapacityRequest,
    label="capacity request",
    plural="capacity requests",
    repr_field="id",
    search=("justification", "requested_by"),
    filters=("agency_id", "status", "cluster_id"),
    orderings=("id", "created_at", "updated_at", "status"),
    default_ordering="-id",
    scope="agency_id",
    unique=(),
)


class _Stored(Protocol):
    id: int | None


def _pk(row: _Stored) -> int:
    """Return the id of a row already flushed (the database set it)."""
    assert row.id is not None, "row not flushed yet"
    return row.id


def _agency(session: Session, actor: Actor, agency_id: int) -> Agency:
    agency = session.get(Agency, agency_id)
    if agency is None or (actor.scoped_agency is not None and actor.scoped_agency != agency_id):
        raise ValidationError(f"agency_id: agency {agency_id} does not exist", field="agency_id")
    return agency


def _check_clusters(session: Session, data: CapacityRequestCreate) -> None:
    for cid in {data.cluster_id, *(i.cluster_id for i in data.items)} - {None}:
        if session.get(Cluster, cid) is None:
            raise ValidationError(f"cluster_id: cluster {cid} does not exist", field="cluster_id")


def preview_draft(session: Session, *, actor: Actor, data: CapacityRequestCreate) -> PreviewPublic:
    """Show where a request not yet filed would go, or why it cannot."""
    agency = _agency(session, actor, data.agency_id)
    require_serves(session, actor, agency.id)
    _check_clusters(session, data)
    try:
        return preview_of(plan_request(session, agency, data.items, data.cluster_id),
                        quota_problems(session, agency, data.items))
    finally:
        session.rollback()  # reads only: end the transaction (SQLite holds its write lock until then)


def preview(session: Session, *, actor: Actor, id: int) -> PreviewPublic:
    """Show where filed request ``id`` would go now."""
    request = get(session, actor=actor, id=id)
    agency = session.get(Agency, request.agency_id)
    assert agency is not None
    try:
        items = request_items(session, request.id or 0)
        return preview_of(plan_request(session, agency, items, request.cluster_id),
                        quota_problems(session, agency, items))
    finally:
        session.rollback()


# --- the request's life ---------------------------------------------------------------------------


def _move(session: Session, request: CapacityRequest, to: RequestStatus, actor: Actor, note: str = "") -> None:
    """Move ``request`` to ``to`` (refusing moves its status does not allow) and log the step."""
    current = RequestStatus(request.status)
    if to not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (it is final)"
        raise ConflictError(f"capacity request {request.id} is {current}: it cannot become {to} "
                            f"(allowed: {allowed})")
    session.add(CapacityRequestEvent(request_id=_pk(request), username=actor.username,
                                     from_status=current, to_status=to, note=note))
    before = {"status": current.value}
    request.status = to
    request.updated_at = utcnow()
    record_change(session, actor=actor, action=ChangeAction.UPDATE, object_type="capacity request",
                  object_id=_pk(request), object_repr=f"request {request.id}",
                  before=before, after={"status": to.value, "note": note} if note else {"status": to.value})


def file_request(session: Session, *, actor: Actor, data: CapacityRequestCreate) -> tuple[CapacityRequest, list[str]]:
    """File a request for an agency; refused at once when over quota or when it cannot be placed."""
    agency = _agency(session, actor, data.agency_id)
    require_serves(session, actor, agency.id)
    _check_clusters(session, data)
    quota = quota_problems(session, agency, data.items)
    if quota:
        raise CapacityError("; ".join(quota) + ". Raise the quota or ask for less")
    plan = plan_request(session, agency, data.items, data.cluster_id)
    if not plan.fits:
        raise CapacityError("cannot be placed: " + "; ".join(plan.problems))
    request = CapacityRequest(agency_id=_pk(agency), justification=data.justification,
                              cluster_id=data.cluster_id, requested_by=actor.username)
    session.add(request)
    session.flush()
    for item in data.items:
        session.add(CapacityRequestItem(request_id=_pk(request), **item.model_dump()))
    session.add(CapacityRequestEvent(request_id=_pk(request), username=actor.username,
                                     to_status=RequestStatus.REQUESTED, note=data.justification[:200]))
    record_change(session, actor=actor, action=ChangeAction.CREATE, object_type="capacity request",
                  object_id=_pk(request), object_repr=f"request {request.id}",
                  before=None, after={k: jsonable(v) for k, v in data.model_dump().items() if k != "items"})
    requests.commit(session)
    return request, []


def get(session: Session, *, actor: Actor, id: int) -> CapacityRequest:
    """Return request ``id`` (agency viewers: only their agency's)."""
    return requests.get(session, actor=actor, id=id)


def get_all(session: Session, *, actor: Actor, query: Any) -> tuple[list[CapacityRequest], int]:
    """Return one page of requests."""
    return requests.get_all(session, actor=actor, query=query)


def _lock_request(session: Session, actor: Actor, id: int) -> CapacityRequest:
    request = requests.get(session, actor=actor, id=id, for_update=True)
    session.refresh(request)  # see the status a concurrent approval committed while we waited for the lock
    return request


def approve(session: Session, *, actor: Actor, id: int, note: str = "") -> tuple[CapacityRequest, list[str]]:
    """Approve request ``id``: reserve its capacity by creating its VMs on their hosts, all or nothing.

    This reserves only; :func:`dcops.capacity.flows.approve` reserves and then launches the provisioning jobs.
    """
    request = _lock_request(session, actor, id)
    if request.status != RequestStatus.REQUESTED:
        _move(session, request, RequestStatus.APPROVED, actor)  # raises, naming the allowed moves
    agency = session.get(Agency, request.agency_id, with_for_update=is_postgresql(session) or None)
    assert agency is not None
    lock_hosts(session)
    items = request_items(session, request.id or 0)
    problems = quota_problems(session, agency, items)
    plan = plan_request(session, agency, items, request.cluster_id) if not problems else None
    if plan is not None:
        problems += plan.problems
    if problems or plan is None:
        session.rollback()
        raise CapacityError(f"capacity request {id} cannot be approved now: " + "; ".join(problems))
    warnings: list[str] = []
    prefix = _tenant_prefix(session, agency)
    if prefix is None:
        warnings.append(f"agency {agency.code} has no tenant prefix: the VMs get no IP address; add one in IPAM")
    try:
        for spec, name, view in plan.vms:
            assert view is not None
            address = next_free_address(session, prefix) if prefix is not None else None
            vm, _ = virtual_machines.create(session, actor=actor, commit=False, data={
                "name": name, "agency_id": agency.id, "cluster_id": view.cluster.id, "host_id": view.device.id,
                "vcpus": spec.vcpus, "ram_gib": spec.ram_gib, "disk_gib": spec.disk_gib, "ip_address": address,
                "state": VMState.REQUESTED, "description": f"capacity request {id}",  # reserved until launched
            })
            group = f"{agency.code}:{spec.anti_affinity_group}" if spec.anti_affinity_group else None
            session.add(CapacityRequestVM(vm_id=_pk(vm), request_id=id, anti_affinity_group=group))
        request.decided_by = actor.username
        request.decision_reason = note
        _move(session, request, RequestStatus.APPROVED, actor, note)
        requests.commit(session)
    except BaseException:
        session.rollback()
        raise
    return request, warnings


def _tenant_prefix(session: Session, agency: Agency) -> Prefix | None:
    return session.exec(
        select(Prefix).where(col(Prefix.agency_id) == agency.id, col(Prefix.purpose) == PrefixPurpose.TENANT)
        .order_by(col(Prefix.id))
    ).first()


def check_provisionable(session: Session, *, actor: Actor, id: int) -> CapacityRequest:
    """Return request ``id`` if its VMs may be launched now (it is approved and the actor serves its agency)."""
    request = get(session, actor=actor, id=id)
    require_serves(session, actor, request.agency_id)
    if request.status != RequestStatus.APPROVED:
        raise ConflictError(f"capacity request {id} is {request.status}: only an approved request is provisioned "
                            "(a failed VM is retried from its job)")
    return request


def begin_provisioning(session: Session, request_id: int) -> list[int]:
    """Move the request's reserved VMs to provisioning (not committed: the jobs' transaction does); return all ids."""
    vm_ids = request_vm_ids(session, request_id)
    for vm_id in vm_ids:
        vm = session.get(VirtualMachine, vm_id)
        if vm is not None and vm.state == VMState.REQUESTED:
            vm.state = VMState.PROVISIONING
            session.add(vm)
    return vm_ids


def mark_provisioning(session: Session, *, actor: Actor, request_id: int) -> None:
    """Record that the jobs of approved request ``request_id`` are queued (status provisioning) and commit."""
    request = session.get(CapacityRequest, request_id)
    if request is not None and request.status == RequestStatus.APPROVED:
        _move(session, request, RequestStatus.PROVISIONING, actor)
    requests.commit(session)


def reject(session: Session, *, actor: Actor, id: int, reason: str) -> CapacityRequest:
    """Reject request ``id`` with a reason the agency will read."""
    request = _lock_request(session, actor, id)
    request.decided_by = actor.username
    request.decision_reason = reason
    _move(session, request, RequestStatus.REJECTED, actor, reason)
    requests.commit(session)
    return request


def cancel(session: Session, *, actor: Actor, id: int, reason: str = "") -> CapacityRequest:
    """Cancel request ``id`` (its filer or an admin), releasing what an approval reserved but nobody built."""
    request = _lock_request(session, actor, id)
    if actor.role is not Role.ADMIN and request.requested_by != actor.username:
        raise PermissionDeniedError(f"only {request.requested_by} (who filed it) or an admin may cancel request {id}")
    for vm_id in request_vm_ids(session, id):
        vm = session.get(VirtualMachine, vm_id)
        if vm is not None and vm.state in (VMState.PROVISIONING, VMState.REQUESTED, VMState.FAILED):
            if vm.state == VMState.PROVISIONING and _busy(session, vm_id):
                raise ConflictError(f"VM {vm.name} is being provisioned; cancel its job first")
            virtual_machines.delete(session, actor=actor, id=vm_id, commit=False)
    _move(session, request, RequestStatus.CANCELLED, actor, reason)
    requests.commit(session)
    return request


def _busy(session: Session, vm_id: int) -> bool:
    """Tell whether a feature (provisioning) is working on the VM now."""
    return any(busy(session, vm_id) for busy in VM_BUSY.all())


def sync_status(session: Session, request: CapacityRequest, actor: Actor) -> CapacityRequest:
    """Bring a request in provisioning up to date with its VMs: fulfilled when all run, failed when one failed."""
    if request.status not in (RequestStatus.PROVISIONING, RequestStatus.FAILED, RequestStatus.APPROVED):
        return request
    states = [vm.state for vm in session.exec(
        select(VirtualMachine).join(CapacityRequestVM, col(CapacityRequestVM.vm_id) == col(VirtualMachine.id))
        .where(col(CapacityRequestVM.request_id) == request.id))]
    target: RequestStatus | None = None
    if states and all(s in (VMState.RUNNING, VMState.STOPPED) for s in states):
        target = RequestStatus.FULFILLED
    elif VMState.FAILED in states and VMState.PROVISIONING not in states:
        target = RequestStatus.FAILED
    elif request.status == RequestStatus.FAILED and VMState.PROVISIONING in states:
        target = RequestStatus.PROVISIONING
    if target is not None and target != request.status and target in TRANSITIONS[RequestStatus(request.status)]:
        _move(session, request, target, actor)
        requests.commit(session)
    return request
