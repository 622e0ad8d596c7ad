"""What each hypervisor offers and has allocated, read from the inventory for the placement engine.

A host's capacity per resource is Placement's formula, ``total × allocation ratio`` of its cluster:
vCPU = hardware threads (cores when threads are unknown) × ``vcpu_ratio``; RAM GiB = ``ram_gib`` ×
``ram_ratio``; disk GiB = ``storage_tb`` (decimal TB, as on a spec sheet) × 931.32 × ``disk_ratio``.
Allocated is the sum over the host's live VMs (not failed, not decommissioned). A host receives new
VMs only while its status is ``active``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session

from dcops.capacity.placement import HostCapacity
from dcops.database import is_postgresql
from dcops.dcim.choices import DeviceRole, DeviceStatus
from dcops.dcim.models import Cluster, Device, DeviceType
from dcops.virtualization.models import VirtualMachine, VMState

#: GiB in one decimal terabyte
TB_GIB = 1e12 / 2**30
#: VM states that hold capacity on their host
LIVE_STATES = (VMState.REQUESTED, VMState.PROVISIONING, VMState.RUNNING, VMState.STOPPED)
RESOURCES = ("vcpus", "ram_gib", "disk_gib")


def capacity_of(dtype: DeviceType, cluster: Cluster) -> tuple[float, float, float]:
    """Return (vCPU, RAM GiB, disk GiB) one host of ``dtype`` offers in ``cluster``."""
    threads = dtype.cpu_threads or dtype.cpu_cores
    return (threads * cluster.vcpu_ratio, dtype.ram_gib * cluster.ram_ratio,
            round(dtype.storage_tb * TB_GIB * cluster.disk_ratio, 1))


@dataclass
class HostView:
    """A hypervisor with its cluster, capacity and allocation (what headroom and placement start from)."""

    device: Device
    cluster: Cluster
    capacity: HostCapacity
    vms: int


def lock_hosts(session: Session, cluster_ids: list[int] | None = None) -> None:
    """Lock the hypervisor rows (in id order) so concurrent approvals take turns on PostgreSQL.

    SQLite needs nothing: every transaction there begins with ``BEGIN IMMEDIATE`` and holds the write lock.
    """
    if not is_postgresql(session):
        return
    stmt = select(Device.id).where(Device.role == DeviceRole.HYPERVISOR, Device.cluster_id.is_not(None))
    if cluster_ids is not None:
        stmt = stmt.where(Device.cluster_id.in_(cluster_ids))
    session.execute(stmt.order_by(Device.id).with_for_update()).all()


def load_hosts(session: Session, *, cluster_ids: list[int] | None = None) -> list[HostView]:
    """Return every hypervisor in a cluster (decommissioned ones left out), ordered by id."""
    stmt = (
        select(Device, DeviceType, Cluster)
        .join(DeviceType, DeviceType.id == Device.device_type_id)
        .join(Cluster, Cluster.id == Device.cluster_id)
        .where(Device.role == DeviceRole.HYPERVISOR, Device.status != DeviceStatus.DECOMMISSIONED)
        .order_by(Device.id)
    )
    if cluster_ids is not None:
        stmt = stmt.where(Device.cluster_id.in_(cluster_ids))
    rows = session.execute(stmt).all()
    used = _allocations(session, [d.id for d, _, _ in rows])
    groups = _groups(session, [d.id for d, _, _ in rows])
    views = []
    for device, dtype, cluster in rows:
        vcpus, ram, disk = capacity_of(dtype, cluster)
        u = used.get(device.id, (0, 0, 0, 0))
        views.append(HostView(
            device=device, cluster=cluster, vms=u[3],
            capacity=HostCapacity(
                id=device.id, name=device.name, cluster_id=cluster.id, vcpus=vcpus, ram_gib=ram, disk_gib=disk,
                used_vcpus=u[0], used_ram_gib=u[1], used_disk_gib=u[2],
                available=device.status == DeviceStatus.ACTIVE,
                anti_affinity=frozenset(groups.get(device.id, ())), cluster_name=cluster.name,
            ),
        ))
    return views


def _allocations(session: Session, host_ids: list[int]) -> dict[int, tuple[int, int, int, int]]:
    if not host_ids:
        return {}
    vm = VirtualMachine
    rows = session.execute(
        select(vm.host_id, func.sum(vm.vcpus), func.sum(vm.ram_gib), func.sum(vm.disk_gib), func.count(vm.id))
        .where(vm.host_id.in_(host_ids), vm.state.in_(LIVE_STATES))
        .group_by(vm.host_id)
    ).all()
    return {h: (int(c), int(r), int(d), int(n)) for h, c, r, d, n in rows}


def _groups(session: Session, host_ids: list[int]) -> dict[int, set[str]]:
    from dcops.capacity.models import CapacityRequestVM

    if not host_ids:
        return {}
    rows = session.execute(
        select(VirtualMachine.host_id, CapacityRequestVM.anti_affinity_group)
        .join(CapacityRequestVM, CapacityRequestVM.vm_id == VirtualMachine.id)
        .where(VirtualMachine.host_id.in_(host_ids), VirtualMachine.state.in_(LIVE_STATES),
               CapacityRequestVM.anti_affinity_group.is_not(None))
    ).all()
    out: dict[int, set[str]] = {}
    for host_id, group in rows:
        out.setdefault(host_id, set()).add(group)
    return out


def usable_after_failure(hosts: list[HostCapacity], reserve: int) -> tuple[float, float, float]:
    """Return what a cluster offers per resource with its ``reserve`` largest available hosts failed (N+k)."""
    live = [h for h in hosts if h.available]
    out = []
    for attr in RESOURCES:
        sizes = sorted((getattr(h, attr) for h in live), reverse=True)
        out.append(sum(sizes[reserve:]))
    return out[0], out[1], out[2]


def host_fits(session: Session, *, host_id: int, vcpus: int, ram_gib: int, disk_gib: int,
              exclude_vm_id: int | None = None) -> list[str]:
    """Tell what a host lacks to take (or keep, resized) a VM of this size; empty when it fits.

    ``exclude_vm_id`` leaves that VM's current allocation out (resize, retry). The cluster's HA reserve
    is checked too. Call it inside the transaction that writes, after :func:`lock_hosts`.
    """
    device = session.get(Device, host_id)
    if device is None or device.cluster_id is None:
        return [f"host {host_id} is not a hypervisor in a cluster"]
    views = load_hosts(session, cluster_ids=[device.cluster_id])
    if exclude_vm_id is not None:
        vm = session.get(VirtualMachine, exclude_vm_id)
        if vm is not None and vm.host_id is not None and vm.state in LIVE_STATES:
            views = [_release(v, vm) for v in views]
    view = next((v for v in views if v.device.id == host_id), None)
    if view is None:
        return [f"host '{device.name}' is decommissioned"]
    problems = []
    if not view.capacity.available:
        problems.append(f"host '{device.name}' is {device.status}, not active")
    cap = view.capacity
    for label, unit, free, need in (
        ("vCPU", "", cap.vcpus - cap.used_vcpus, vcpus),
        ("RAM", " GiB", cap.ram_gib - cap.used_ram_gib, ram_gib),
        ("disk", " GiB", cap.disk_gib - cap.used_disk_gib, disk_gib),
    ):
        if need > free + 1e-9:
            problems.append(f"{label}: host '{device.name}' has {free:g}{unit} free, {need}{unit} needed "
                            f"({need - free:g}{unit} missing)")
    cluster = view.cluster
    usable = usable_after_failure([v.capacity for v in views], cluster.ha_reserve_hosts)
    for label, unit, i, need in (("vCPU", "", 0, vcpus), ("RAM", " GiB", 1, ram_gib), ("disk", " GiB", 2, disk_gib)):
        allocated = sum(getattr(v.capacity, "used_" + RESOURCES[i]) for v in views)
        if allocated + need > usable[i] + 1e-9:
            problems.append(
                f"HA reserve: cluster '{cluster.name}' would allocate {allocated + need:g}{unit} {label} of "
                f"{usable[i]:g}{unit} usable with its {cluster.ha_reserve_hosts} largest host(s) failed")
    return problems


def _release(view: HostView, vm: VirtualMachine) -> HostView:
    from dataclasses import replace

    if view.device.id != vm.host_id:
        return view
    cap = view.capacity
    return HostView(device=view.device, cluster=view.cluster, vms=view.vms - 1, capacity=replace(
        cap, used_vcpus=cap.used_vcpus - vm.vcpus, used_ram_gib=cap.used_ram_gib - vm.ram_gib,
        used_disk_gib=cap.used_disk_gib - vm.disk_gib))
