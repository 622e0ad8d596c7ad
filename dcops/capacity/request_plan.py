"""Where a capacity request's VMs would go, read-only: names, placement over the hosts as they are now, quota.

The approval in :mod:`dcops.capacity.service` runs the same plan inside its locking transaction, so a preview
and an approval agree when nothing changed between them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlmodel import Session, col, select

from dcops.capacity.hosts import HostView, load_hosts
from dcops.capacity.models import PlannedVM, PreviewPublic, VMSpec
from dcops.capacity.placement import HostCapacity, VMDemand, place
from dcops.tenancy.models import Agency
from dcops.tenancy.service import quota_shortfalls, quota_use
from dcops.virtualization.models import VirtualMachine

__all__ = ["Plan", "plan_request", "preview_of", "quota_problems"]


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
        taken = set(session.exec(
            select(col(VirtualMachine.name)).where(col(VirtualMachine.name).like(f"{item.name_prefix}-%"))
        ))
        names: list[str] = []
        n = 1
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
    by_id = {v.capacity.id: v for v in views}
    clusters = {v.capacity.cluster_id: v.cluster for v in views}
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


def quota_problems(session: Session, agency: Agency, items: Sequence[VMSpec]) -> list[str]:
    """Say how the VMs of ``items`` would take the agency over its quota; empty when they fit."""
    assert agency.id is not None, "a stored agency"
    use = quota_use(session, agency.id)
    problems = quota_shortfalls(
        agency, use,
        vcpus=sum(i.vcpus * i.count for i in items), ram_gib=sum(i.ram_gib * i.count for i in items),
        disk_gib=sum(i.disk_gib * i.count for i in items), vms=sum(i.count for i in items),
    )
    return [f"agency {agency.code} quota exceeded: {p}" for p in problems]


def preview_of(plan: Plan, quota: list[str]) -> PreviewPublic:
    """Render a plan and the quota problems as the preview the API and pages show."""
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
