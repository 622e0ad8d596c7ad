"""What each hypervisor offers and has allocated, read from the inventory for the placement engine.

A host's capacity per resource is Placement's formula, ``total × allocation ratio`` of its cluster:
vCPU = hardware threads (cores when threads are unknown) × ``vcpu_ratio``; RAM GiB = ``ram_gib`` ×
``ram_ratio``; disk GiB = ``storage_tb`` (decimal TB, as on a spec sheet) × 931.32 × ``disk_ratio``.
Allocated is the sum over the host's live VMs (not failed, not decommissioned). A host receives new
VMs only while its status is ``active``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from dcops.capacity.models import CapacityRequestVM
from dcops.capacity.placement import HostCapacity
from dcops.capacity.placement.fit import RESOURCES, host_shortfalls, usable_after_failure
from dcops.database import is_postgresql
from dcops.dcim.choices import DeviceRole, DeviceStatus
from dcops.dcim.models import Cluster, Device, DeviceType
from dcops.virtualization.models import VirtualMachine, VMState

#: GiB in one decimal terabyte
TB_GIB = 1e12 / 2**30
__all__ = ["LIVE_STATES", "RESOURCES", "TB_GIB", "HostView", "capacity_of", "host_fits", "load_hosts", "lock_hosts",
           "usable_after_failure"]

#: VM states that hold capacity on their host
LIVE_STATES = (VMState.REQUESTED, VMState.PROVISIONING, VMState.RUNNING, VMState.STOPPED)


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
    stmt = select(col(Device.id)).where(col(Device.role) == DeviceRole.HYPERVISOR, col(Device.cluster_id).is_not(None))
    if cluster_ids is not None:
        stmt = stmt.where(col(Device.cluster_id).in_(cluster_ids))
    session.exec(stmt.order_by(col(Device.id)).with_for_update()).all()


def load_hosts(session: Session, *, cluster_ids: list[int] | None = None) -> list[HostView]:
    """Return every hypervisor in a cluster (decommissioned ones left out), ordered by id."""
    stmt = (
        select(Device, DeviceType, Cluster)
        .join(DeviceType, col(DeviceType.id) == col(Device.device_type_id))
        .join(Cluster, col(Cluster.id) == col(Device.cluster_id))
        .where(col(Device.role) == DeviceRole.HYPERVISOR, col(Device.status) != DeviceStatus.DECOMMISSIONED)
        .order_by(col(Device.id))
    )
    if cluster_ids is not None:
        stmt = stmt.where(col(Device.cluster_id).in_(cluster_ids))
    rows = session.exec(stmt).all()
    ids = [d.id for d, _, _ in rows if d.id is not None]
    used = _allocations(session, ids)
    groups = _groups(session, ids)
    views = []
    for device, dtype, cluster in rows:
        host_id, cluster_id = device.id or 0, cluster.id or 0  # stored rows: never None
        vcpus, ram, disk = capacity_of(dtype, cluster)
        u = used.get(host_id, (0, 0, 0, 0))
        views.append(HostView(
            device=device, cluster=cluster, vms=u[3],
            capacity=HostCapacity(
                id=host_id, name=device.name, cluster_id=cluster_id, vcpus=vcpus, ram_gib=ram, disk_gib=disk,
                used_vcpus=u[0], used_ram_gib=u[1], used_disk_gib=u[2],
                available=device.status == DeviceStatus.ACTIVE,
                anti_affinity=frozenset(groups.get(host_id, ())), cluster_name=cluster.name,
            ),
        ))
    return views


def _allocations(session: Session, host_ids: list[int]) -> dict[int, tuple[int, int, int, int]]:
    if not host_ids:
        return {}
    vm = VirtualMachine
    rows = session.execute(  # five columns: more than sqlmodel's typed select() takes
        sa_select(col(vm.host_id), func.sum(col(vm.vcpus)), func.sum(col(vm.ram_gib)), func.sum(col(vm.disk_gib)),
               func.count(col(vm.id)))
        .where(col(vm.host_id).in_(host_ids), col(vm.state).in_(LIVE_STATES))
        .group_by(col(vm.host_id))
    ).all()
    return {h: (int(c), int(r), int(d), int(n)) for h, c, r, d, n in rows}


def _groups(session: Session, host_ids: list[int]) -> dict[int, set[str]]:
    if not host_ids:
        return {}
    rows = session.exec(
        select(col(VirtualMachine.host_id), col(CapacityRequestVM.anti_affinity_group))
        .join(CapacityRequestVM, col(CapacityRequestVM.vm_id) == col(VirtualMachine.id))
        .where(col(VirtualMachine.host_id).in_(host_ids), col(VirtualMachine.state).in_(LIVE_STATES),
               col(CapacityRequestVM.anti_affinity_group).is_not(None))
    ).all()
    out: dict[int, set[str]] = {}
    for host_id, group in rows:
        if host_id is not None and group is not None:
            out.setdefault(host_id, set()).add(group)
    return out


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
    return host_shortfalls([v.capacity for v in views], view.capacity, vcpus=vcpus, ram_gib=ram_gib,
                           disk_gib=disk_gib, ha_reserve_hosts=view.cluster.ha_reserve_hosts,
                           status=f"{device.status}")


def _release(view: HostView, vm: VirtualMachine) -> HostView:
    if view.device.id != vm.host_id:
        return view
    cap = view.capacity
    return HostView(device=view.device, cluster=view.cluster, vms=view.vms - 1, capacity=replace(
        cap, used_vcpus=cap.used_vcpus - vm.vcpus, used_ram_gib=cap.used_ram_gib - vm.ram_gib,
        used_disk_gib=cap.used_disk_gib - vm.disk_gib))
