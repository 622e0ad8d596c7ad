"""Capacity requests: file, preview, approve (reserving capacity atomically), reject, cancel, and read.

Approval is the one write that must never overcommit a host. It runs in one transaction that locks,
in this order, the request, its agency and the hypervisor rows (PostgreSQL ``FOR UPDATE``; SQLite
serialises writers with ``BEGIN IMMEDIATE``), then re-checks quota and placement against what is
allocated now, creates the VMs on their hosts with their addresses, and commits. A concurrent approval
waits for the locks and then sees the first one's VMs, so it is refused with the resource that ran out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from dcops.auth.actor import Actor
from dcops.auth.choices import ChangeAction, Role
from dcops.auth.scopes import require_serves
from dcops.capacity.hosts import HostView, host_fits, load_hosts, lock_hosts
from dcops.capacity.models import (
    TRANSITIONS,
    CapacityRequest,
    CapacityRequestCreate,
    CapacityRequestEvent,
    CapacityRequestItem,
    CapacityRequestVM,
    PlannedVM,
    PreviewPublic,
    RequestStatus,
    VMSpec,
)
from dcops.capacity.placement import HostCapacity, VMDemand, place
from dcops.crud import Resource, jsonable, record_change
from dcops.database import is_postgresql, utcnow
from dcops.dcim.models import Cluster
from dcops.exceptions import CapacityError, ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from dcops.ipam.models import Prefix, PrefixPurpose
from dcops.ipam.service import next_free_address
from dcops.tenancy.models import Agency
from dcops.tenancy.service import quota_shortfalls, quota_use
from dcops.virtualization.models import VirtualMachine, VMState
from dcops.virtualization.service import virtual_machines

__all__ = ["approve", "cancel", "file_request", "get", "get_all", "host_fits", "preview", "preview_draft", "provision",
           "reject"]

log = logging.getLogger(__name__)

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


# --- planning a request (no writes) ----------------------------------------------------------


@dataclass
class Plan:
    """The VMs a request would create: (spec, VM name, host view or None), and why some cannot be placed."""

    vms: list[tuple[VMSpec, str, HostView | None]]
    problems: list[str]

    @property
    def fits(self) -> bool:
        return not self.problems


def _vm_names(session: Session, items: Sequence[VMSpec]) -> list[list[str]]:
    """Name each VM of each line ``<prefix>-NN``, skipping numbers already taken."""
    out = []
    for item in items:
        taken = set(session.execute(
            select(VirtualMachine.name).where(VirtualMachine.name.like(f"{item.name_prefix}-%"))
        ).scalars())
        names, n = [], 1
        pattern = re.compile(rf"^{re.escape(item.name_prefix)}-(\d+)$")
        taken_numbers = {int(m.group(1)) for name in taken if (m := pattern.match(name))}
        while len(names) < item.count:
            if n not in taken_numbers:
                names.append(f"{item.name_prefix}-{n:02d}")
            n += 1
        out.append(names)
    return out


def _describe(spec: VMSpec) -> str:
    return f"{spec.vcpus} vCPU, {spec.ram_gib} GiB RAM, {spec.disk_gib} GiB disk"


def plan_request(session: Session, agency: Agency, items: Sequence[VMSpec], cluster_id: int | None) -> Plan:
    """Place every VM of ``items`` on the hosts as they are now; all of them or report why not."""
    views = load_hosts(session)
    if not views:
        return Plan([], ["no hypervisor is registered in any cluster; add hosts first"])
    by_id = {v.device.id: v for v in views}
    clusters = {v.cluster.id: v.cluster for v in views}
    names = _vm_names(session, items)
    # every demand, keyed by its VM name; anti-affinity groups are per agency
    specs: dict[str, VMSpec] = {}
    wanted: dict[int | None, list[VMDemand]] = {}
    for item, item_names in zip(items, names, strict=True):
        target = item.cluster_id or cluster_id
        if target is not None and target not in clusters:
            return Plan([], [f"cluster {target} has no hypervisor; choose another cluster"])
        group = f"{agency.code}:{item.anti_affinity_group}" if item.anti_affinity_group else None
        for name in item_names:
            specs[name] = item
            wanted.setdefault(target, []).append(
                VMDemand(key=name, vcpus=item.vcpus, ram_gib=item.ram_gib, disk_gib=item.disk_gib,
                         anti_affinity=group, cluster_id=target))
    hosts = [v.capacity for v in views]
    assignment: dict[str, int] = {}
    problems: list[str] = []
    # lines bound to a cluster first, then the others in the cluster with the most free vCPU that takes them all
    for target in sorted(wanted, key=lambda c: (c is None, c or 0)):
        demands = wanted[target]
        order = [target] if target is not None else sorted(
            clusters, key=lambda c: (-_free_vcpus(hosts, c), c))
        attempts = []
        for cid in order:
            result = place([h for h in hosts if h.cluster_id == cid], demands,
                           ha_reserve_hosts=clusters[cid].ha_reserve_hosts)
            attempts.append((cid, result))
            if result.ok():
                break
        cid, result = attempts[-1] if attempts[-1][1].ok() else max(attempts, key=lambda a: len(a[1].assignment))
        if not result.ok():
            where = f"cluster '{clusters[cid].name}'" if len(attempts) == 1 else "any cluster"
            for miss in result.unplaced:
                problems.append(f"{miss.key} ({_describe(specs[miss.key])}) does not fit in {where}: {miss.reason}")
            continue
        assignment.update(result.assignment)
        hosts = _consume(hosts, demands, result.assignment)
    vms = [(specs[name], name, by_id[assignment[name]] if name in assignment else None)
           for item_names in names for name in item_names]
    return Plan(vms, problems)


def _free_vcpus(hosts: list[HostCapacity], cluster_id: int) -> float:
    return sum(h.vcpus - h.used_vcpus for h in hosts if h.cluster_id == cluster_id and h.available)


def _consume(hosts: list[HostCapacity], demands: list[VMDemand], assignment: dict[str, int]) -> list[HostCapacity]:
    """Return ``hosts`` with the placed demands added to their allocation."""
    extra: dict[int, list[VMDemand]] = {}
    for d in demands:
        if d.key in assignment:
            extra.setdefault(assignment[d.key], []).append(d)
    out = []
    for h in hosts:
        added = extra.get(h.id, [])
        if added:
            h = replace(h, used_vcpus=h.used_vcpus + sum(d.vcpus for d in added),
                        used_ram_gib=h.used_ram_gib + sum(d.ram_gib for d in added),
                        used_disk_gib=h.used_disk_gib + sum(d.disk_gib for d in added),
                        anti_affinity=h.anti_affinity | {d.anti_affinity for d in added if d.anti_affinity})
        out.append(h)
    return out


def _quota_problems(session: Session, agency: Agency, items: Sequence[VMSpec]) -> list[str]:
    use = quota_use(session, agency.id)  # type: ignore[arg-type]
    problems = quota_shortfalls(
        agency, use,
        vcpus=sum(i.vcpus * i.count for i in items), ram_gib=sum(i.ram_gib * i.count for i in items),
        disk_gib=sum(i.disk_gib * i.count for i in items), vms=sum(i.count for i in items),
    )
    return [f"agency {agency.code} quota exceeded: {p}" for p in problems]


def _preview(plan: Plan, quota: list[str]) -> PreviewPublic:
    return PreviewPublic(
        fits=plan.fits and not quota,
        problems=quota + plan.problems,
        placements=[
            PlannedVM(name=name, vcpus=spec.vcpus, ram_gib=spec.ram_gib, disk_gib=spec.disk_gib,
                      cluster=view.cluster.name if view else None, host_id=view.device.id if view else None,
                      host=view.device.name if view else None)
            for spec, name, view in plan.vms
        ],
    )


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
        return _preview(plan_request(session, agency, data.items, data.cluster_id),
                        _quota_problems(session, agency, data.items))
    finally:
        session.rollback()  # reads only: end the transaction (SQLite holds its write lock until then)


def preview(session: Session, *, actor: Actor, id: int) -> PreviewPublic:
    """Show where filed request ``id`` would go now."""
    request = get(session, actor=actor, id=id)
    agency = session.get(Agency, request.agency_id)
    assert agency is not None
    try:
        items = _items(session, request.id)  # type: ignore[arg-type]
        return _preview(plan_request(session, agency, items, request.cluster_id),
                        _quota_problems(session, agency, items))
    finally:
        session.rollback()


# --- the request's life ---------------------------------------------------------------------------


def _items(session: Session, request_id: int) -> list[CapacityRequestItem]:
    return list(session.execute(
        select(CapacityRequestItem).where(CapacityRequestItem.request_id == request_id)
        .order_by(CapacityRequestItem.id)
    ).scalars())


def _move(session: Session, request: CapacityRequest, to: RequestStatus, actor: Actor, note: str = "") -> None:
    """Move ``request`` to ``to`` (refusing moves its status does not allow) and log the step."""
    current = RequestStatus(request.status)
    if to not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (it is final)"
        raise ConflictError(f"capacity request {request.id} is {current}: it cannot become {to} "
                            f"(allowed: {allowed})")
    session.add(CapacityRequestEvent(request_id=request.id, username=actor.username,  # type: ignore[arg-type]
                                     from_status=current, to_status=to, note=note))
    before = {"status": current.value}
    request.status = to
    request.updated_at = utcnow()
    record_change(session, actor=actor, action=ChangeAction.UPDATE, object_type="capacity request",
                  object_id=request.id, object_repr=f"request {request.id}",  # type: ignore[arg-type]
                  before=before, after={"status": to.value, "note": note} if note else {"status": to.value})


def file_request(session: Session, *, actor: Actor, data: CapacityRequestCreate) -> tuple[CapacityRequest, list[str]]:
    """File a request for an agency; refused at once when over quota or when it cannot be placed."""
    agency = _agency(session, actor, data.agency_id)
    require_serves(session, actor, agency.id)
    _check_clusters(session, data)
    quota = _quota_problems(session, agency, data.items)
    if quota:
        raise CapacityError("; ".join(quota) + ". Raise the quota or ask for less")
    plan = plan_request(session, agency, data.items, data.cluster_id)
    if not plan.fits:
        raise CapacityError("cannot be placed: " + "; ".join(plan.problems))
    request = CapacityRequest(agency_id=agency.id, justification=data.justification,  # type: ignore[arg-type]
                              cluster_id=data.cluster_id, requested_by=actor.username)
    session.add(request)
    session.flush()
    for item in data.items:
        session.add(CapacityRequestItem(request_id=request.id, **item.model_dump()))  # type: ignore[arg-type]
    session.add(CapacityRequestEvent(request_id=request.id, username=actor.username,  # type: ignore[arg-type]
                                     to_status=RequestStatus.REQUESTED, note=data.justification[:200]))
    record_change(session, actor=actor, action=ChangeAction.CREATE, object_type="capacity request",
                  object_id=request.id, object_repr=f"request {request.id}",  # type: ignore[arg-type]
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
    """Approve request ``id``: reserve its capacity by creating its VMs on their hosts, all or nothing."""
    request = _lock_request(session, actor, id)
    if request.status != RequestStatus.REQUESTED:
        _move(session, request, RequestStatus.APPROVED, actor)  # raises, naming the allowed moves
    agency = session.get(Agency, request.agency_id, with_for_update=is_postgresql(session) or None)
    assert agency is not None
    lock_hosts(session)
    items = _items(session, request.id)  # type: ignore[arg-type]
    problems = _quota_problems(session, agency, items)
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
            session.add(CapacityRequestVM(vm_id=vm.id, request_id=id, anti_affinity_group=group))  # type: ignore
        request.decided_by = actor.username
        request.decision_reason = note
        _move(session, request, RequestStatus.APPROVED, actor, note)
        requests.commit(session)
    except BaseException:
        session.rollback()
        raise
    warnings += launch_provisioning(session, actor=actor, request=request)
    return request, warnings


def _tenant_prefix(session: Session, agency: Agency) -> Prefix | None:
    return session.execute(
        select(Prefix).where(Prefix.agency_id == agency.id, Prefix.purpose == PrefixPurpose.TENANT)
        .order_by(Prefix.id)
    ).scalars().first()


def request_vm_ids(session: Session, request_id: int) -> list[int]:
    """Return the ids of the VMs an approval created for request ``request_id``."""
    return list(session.execute(
        select(CapacityRequestVM.vm_id).where(CapacityRequestVM.request_id == request_id)
        .order_by(CapacityRequestVM.vm_id)
    ).scalars())


def provision(session: Session, *, actor: Actor, id: int) -> tuple[CapacityRequest, list[str]]:
    """Launch the provisioning jobs of approved request ``id`` (when approval does not do it by itself)."""
    request = get(session, actor=actor, id=id)
    require_serves(session, actor, request.agency_id)
    if request.status != RequestStatus.APPROVED:
        raise ConflictError(f"capacity request {id} is {request.status}: only an approved request is provisioned "
                            "(a failed VM is retried from its job)")
    problems = launch_provisioning(session, actor=actor, request=request, explicit=True)
    if problems:
        raise ConflictError("; ".join(problems))
    return get(session, actor=actor, id=id), []


def launch_provisioning(session: Session, *, actor: Actor, request: CapacityRequest,
                        explicit: bool = False) -> list[str]:
    """Start the provisioning jobs of an approved request (when the setting asks for it); return warnings."""
    from dcops.config import get_settings

    if not explicit and not get_settings().auto_provision:
        return [f"provisioning is manual (DCOPS_AUTO_PROVISION=false): launch it with 'dcops request provision "
                f"{request.id}' or POST /api/v1/capacity/requests/{request.id}/provision"]
    try:
        from dcops.provisioning.service import launch
    except ImportError:
        return ["provisioning is not installed: the VMs stay reserved until provisioned"]
    request_id = request.id
    try:
        vm_ids = request_vm_ids(session, request.id)  # type: ignore[arg-type]
        for vm_id in vm_ids:  # reserved -> provisioning, in the transaction that queues the jobs
            vm = session.get(VirtualMachine, vm_id)
            if vm is not None and vm.state == VMState.REQUESTED:
                vm.state = VMState.PROVISIONING
                session.add(vm)
        launch(session, actor=actor, vm_ids=vm_ids, action="provision", request_id=request.id)
        request = session.get(CapacityRequest, request.id)  # type: ignore[assignment]
        if request is not None and request.status == RequestStatus.APPROVED:
            _move(session, request, RequestStatus.PROVISIONING, actor)
        requests.commit(session)
    except (ConflictError, ValidationError, NotFoundError) as exc:
        session.rollback()
        log.warning("provisioning of capacity request %s not launched: %s", request_id, exc.message)
        note_launch_problem(session, request_id, actor, exc.message)  # type: ignore[arg-type]
        return [f"provisioning not launched: {exc.message}"]
    return []


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
    last = session.execute(select(CapacityRequestEvent).where(CapacityRequestEvent.request_id == request.id)
                           .order_by(CapacityRequestEvent.id.desc()).limit(1)).scalars().first()
    if last is not None and last.note.startswith(LAUNCH_PROBLEM):
        return last.note[len(LAUNCH_PROBLEM):]
    return None


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
            if vm.state == VMState.PROVISIONING and _has_active_job(session, vm_id):
                raise ConflictError(f"VM {vm.name} is being provisioned; cancel its job first")
            virtual_machines.delete(session, actor=actor, id=vm_id, commit=False)
    _move(session, request, RequestStatus.CANCELLED, actor, reason)
    requests.commit(session)
    return request


def _has_active_job(session: Session, vm_id: int) -> bool:
    try:
        from dcops.provisioning.service import has_active_job
    except ImportError:
        return False
    return bool(has_active_job(session, vm_id))


def sync_status(session: Session, request: CapacityRequest, actor: Actor) -> CapacityRequest:
    """Bring a request in provisioning up to date with its VMs: fulfilled when all run, failed when one failed."""
    if request.status not in (RequestStatus.PROVISIONING, RequestStatus.FAILED, RequestStatus.APPROVED):
        return request
    states = [vm.state for vm in session.execute(
        select(VirtualMachine).join(CapacityRequestVM, CapacityRequestVM.vm_id == VirtualMachine.id)
        .where(CapacityRequestVM.request_id == request.id)).scalars()]
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
