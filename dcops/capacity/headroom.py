"""Headroom per cluster and host, the largest standard VM that still fits, right-sizing hints, and rebalance."""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from dcops.capacity.hooks import MEASURED_USE
from dcops.capacity.hosts import LIVE_STATES, RESOURCES, HostView, load_hosts, usable_after_failure
from dcops.capacity.models import CapacityRequestVM
from dcops.capacity.placement import HostCapacity, VMDemand
from dcops.capacity.rebalance import rebalance as plan
from dcops.tenancy.models import Agency
from dcops.virtualization.models import VirtualMachine

log = logging.getLogger(__name__)

#: standard sizes offered to agencies: (name, vCPU, RAM GiB, disk GiB), smallest first
FLAVOURS: tuple[tuple[str, int, int, int], ...] = (
    ("small", 1, 2, 40), ("medium", 2, 4, 80), ("large", 4, 8, 160), ("xlarge", 8, 16, 320),
    ("2xlarge", 16, 32, 500), ("4xlarge", 32, 64, 1000), ("8xlarge", 64, 128, 2000),
)


class Resource(BaseModel):
    capacity: float
    allocated: float
    free: float
    percent: float


class HostHeadroom(BaseModel):
    id: int
    name: str
    status: str
    available: bool
    vms: int
    vcpus: Resource
    ram_gib: Resource
    disk_gib: Resource
    measured_cpu_percent: float | None = None
    measured_memory_percent: float | None = None


class ClusterHeadroom(BaseModel):
    id: int
    name: str
    ha_reserve_hosts: int
    hosts: list[HostHeadroom]
    #: per resource: capacity of all available hosts, what the HA reserve holds back, usable, allocated, free
    resources: dict[str, dict[str, float]]
    largest_standard_vm: str | None
    largest_standard_vm_count: int
    binding_resource: str | None


class RightSizingHint(BaseModel):
    agency_code: str
    vcpus_allocated: int
    ram_gib_allocated: int
    measured_cpu_percent: float
    measured_memory_percent: float
    hint: str


class Headroom(BaseModel):
    clusters: list[ClusterHeadroom]
    hints: list[RightSizingHint]


def _percent(allocated: float, capacity: float) -> float:
    """Return allocated/capacity in percent; 0 without capacity, never infinite (a tiny ratio would make it so)."""
    if capacity <= 1e-6:
        return 0.0
    value = 100 * allocated / capacity
    return round(min(value, 1e9), 1) if math.isfinite(value) else 0.0


def _resource(capacity: float, allocated: float) -> Resource:
    return Resource(capacity=round(capacity, 1), allocated=round(allocated, 1), free=round(capacity - allocated, 1),
                    percent=_percent(allocated, capacity))


def _fits(host: HostCapacity, vcpus: float, ram: float, disk: float) -> bool:
    return (host.available and host.vcpus - host.used_vcpus >= vcpus and host.ram_gib - host.used_ram_gib >= ram
            and host.disk_gib - host.used_disk_gib >= disk)


def largest_flavour(hosts: list[HostCapacity], reserve: int) -> tuple[str | None, int]:
    """Return the largest standard size that still fits (on one host, HA reserve kept) and how many of it fit."""
    usable = usable_after_failure(hosts, reserve)
    allocated = [sum(getattr(h, "used_" + r) for h in hosts) for r in RESOURCES]
    for name, vcpus, ram, disk in reversed(FLAVOURS):
        size = (vcpus, ram, disk)
        by_reserve = min(int((usable[i] - allocated[i]) // size[i]) for i in range(3))
        by_hosts = sum(
            min(int((h.vcpus - h.used_vcpus) // vcpus), int((h.ram_gib - h.used_ram_gib) // ram),
                int((h.disk_gib - h.used_disk_gib) // disk))
            for h in hosts if h.available and _fits(h, vcpus, ram, disk))
        count = min(by_reserve, by_hosts)
        if count > 0:
            return name, count
    return None, 0


def _measured(session: Session, host_ids: list[int]) -> dict[int, dict[str, float]]:
    """Latest measured CPU and memory use of the hosts, where monitoring has polled them."""
    provider = MEASURED_USE.first()
    if provider is None or not host_ids:
        return {}
    try:
        return provider(session, host_ids)
    except SQLAlchemyError:  # monitoring's tables missing or unreadable: headroom still answers, without hints
        log.warning("headroom without measured use: monitoring data could not be read", exc_info=True)
        return {}


def headroom(session: Session) -> Headroom:
    """Allocated against capacity per cluster and host, HA reserve included, with right-sizing hints."""
    views = load_hosts(session)
    measured = _measured(session, [v.capacity.id for v in views])
    clusters: dict[int, list[HostView]] = {}
    for v in views:
        clusters.setdefault(v.capacity.cluster_id, []).append(v)
    out = []
    for members in clusters.values():
        cluster = members[0].cluster
        caps = [v.capacity for v in members]
        usable = usable_after_failure(caps, cluster.ha_reserve_hosts)
        resources: dict[str, dict[str, float]] = {}
        for i, r in enumerate(RESOURCES):
            total = sum(getattr(h, r) for h in caps if h.available)
            allocated = sum(getattr(h, "used_" + r) for h in caps)
            resources[r] = {"capacity": round(total, 1), "ha_reserve": round(total - usable[i], 1),
                            "usable": round(usable[i], 1), "allocated": round(allocated, 1),
                            "free": round(usable[i] - allocated, 1),
                            "percent": _percent(allocated, usable[i])}
        binding = max(RESOURCES, key=lambda r: resources[r]["percent"]) if caps else None
        name, count = largest_flavour(caps, cluster.ha_reserve_hosts)
        out.append(ClusterHeadroom(
            id=members[0].capacity.cluster_id, name=cluster.name, ha_reserve_hosts=cluster.ha_reserve_hosts,
            resources=resources, largest_standard_vm=name, largest_standard_vm_count=count, binding_resource=binding,
            hosts=[HostHeadroom(
                id=v.capacity.id, name=v.device.name, status=v.device.status, available=v.capacity.available,
                vms=v.vms, vcpus=_resource(v.capacity.vcpus, v.capacity.used_vcpus),
                ram_gib=_resource(v.capacity.ram_gib, v.capacity.used_ram_gib),
                disk_gib=_resource(v.capacity.disk_gib, v.capacity.used_disk_gib),
                measured_cpu_percent=measured.get(v.capacity.id, {}).get("cpu_load_percent"),
                measured_memory_percent=measured.get(v.capacity.id, {}).get("memory_used_percent"),
            ) for v in members],
        ))
    return Headroom(clusters=out, hints=_hints(session, measured))


def _hints(session: Session, measured: dict[int, dict[str, float]]) -> list[RightSizingHint]:
    """Agencies whose VMs sit on hosts measured far below what is allocated there: candidates to shrink."""
    if not measured:
        return []
    vm = VirtualMachine
    rows = session.exec(
        select(col(Agency.code), col(vm.host_id), func.sum(col(vm.vcpus)), func.sum(col(vm.ram_gib)))
        .join(Agency, col(Agency.id) == col(vm.agency_id))
        .where(col(vm.state).in_(LIVE_STATES), col(vm.host_id).in_(list(measured)))
        .group_by(col(Agency.code), col(vm.host_id))
    ).all()
    per_agency: dict[str, list[Any]] = {}
    for code, host_id, vcpus, ram in rows:
        per_agency.setdefault(code, []).append((host_id, int(vcpus), int(ram)))
    hints = []
    for code, parts in sorted(per_agency.items()):
        vcpus = sum(p[1] for p in parts)
        ram = sum(p[2] for p in parts)
        cpu = sum(measured[p[0]].get("cpu_load_percent", 0.0) * p[1] for p in parts) / max(vcpus, 1)
        mem = sum(measured[p[0]].get("memory_used_percent", 0.0) * p[2] for p in parts) / max(ram, 1)
        if cpu < 20 and vcpus >= 4:
            hint = f"hosts of its VMs average {cpu:.0f}% CPU: about {max(1, round(vcpus * cpu / 50))} vCPU would do"
        elif cpu > 85:
            hint = f"hosts of its VMs run at {cpu:.0f}% CPU: its VMs may need more vCPU or another host"
        else:
            continue
        hints.append(RightSizingHint(agency_code=code, vcpus_allocated=vcpus, ram_gib_allocated=ram,
                                     measured_cpu_percent=round(cpu, 1), measured_memory_percent=round(mem, 1),
                                     hint=hint))
    return hints


class MigrationStep(BaseModel):
    step: int
    vm: str
    from_host: str
    to_host: str
    reason: str


class RebalancePlan(BaseModel):
    goal: str
    steps: list[MigrationStep]
    hosts_in_use_before: int
    hosts_in_use_after: int
    unresolved: list[str] = []
    note: str = "a proposal only: nothing is migrated"


def rebalance(session: Session, *, goal: str = "free-hosts", cluster_id: int | None = None) -> RebalancePlan:
    """Propose live migrations that free the most hosts (or fix violated constraints), without executing them."""
    views = load_hosts(session, cluster_ids=[cluster_id] if cluster_id is not None else None)
    names = {v.device.id: v.device.name for v in views}
    rows = session.exec(
        select(VirtualMachine, col(CapacityRequestVM.anti_affinity_group))
        .outerjoin(CapacityRequestVM, col(CapacityRequestVM.vm_id) == col(VirtualMachine.id))
        .where(col(VirtualMachine.state).in_(LIVE_STATES), col(VirtualMachine.host_id).in_(list(names)))
        .order_by(col(VirtualMachine.id))
    ).all()
    placements = {vm.name: vm.host_id for vm, _ in rows if vm.host_id is not None}  # the query wants a host
    vms = {vm.name: VMDemand(key=vm.name, vcpus=vm.vcpus, ram_gib=vm.ram_gib, disk_gib=vm.disk_gib,
                             anti_affinity=group, cluster_id=vm.cluster_id) for vm, group in rows}
    # every live VM is listed, so the hosts start empty (the planner adds the listed VMs itself)
    empty = [replace(v.capacity, used_vcpus=0, used_ram_gib=0, used_disk_gib=0, anti_affinity=frozenset())
             for v in views]
    result = plan(empty, placements, vms, goal=goal)
    return RebalancePlan(
        goal=goal, hosts_in_use_before=result.hosts_used_before, hosts_in_use_after=result.hosts_used_after,
        unresolved=result.unresolved,
        steps=[MigrationStep(step=i + 1, vm=s.vm_key, from_host=names.get(s.from_host, str(s.from_host)),
                             to_host=names.get(s.to_host, str(s.to_host)), reason=s.reason)
               for i, s in enumerate(result.migrations)],
    )
