"""The forecast's packing check (pure): the year's demand as VMs, placed for real onto the fleet.

The volume rule of ``forecast`` (per resource, capacity after the HA reserve) is a lower bound: VMs do not
split across hosts. Each agency's projected demand is turned into VMs of its current mix (its live VMs,
repeated in size order while a resource of the projection is short by more than half the next VM, i.e. the
count rounded to the nearest VM, so that small agencies are not inflated by a whole extra VM). With no existing
hosts the check is ``len(placement.pack(...))`` onto the new model (its HA reserve is the volume rule's); with
existing hosts,
the least number of new servers with which ``placement.place`` (strategy ``pack``, the same HA reserve)
places every VM onto the existing hosts plus the new ones. The check is skipped (None) when an agency with
demand has no VMs to take a mix from, or beyond ``MAX_VMS`` VMs. ``forecast.plan`` takes the larger of the two
and says which one decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from dcops.capacity.placement import HostCapacity, HostShape, VMDemand, pack, place

RESOURCES = ("vcpus", "ram_gib", "disk_gib")
MAX_VMS = 2000  # beyond this many VMs the check is skipped (the volume bound decides) to keep a plan fast
MAX_PLACED = 400  # with existing hosts (place() per candidate count) at most this many


Size = tuple[float, float, float]


def year_vms(mix: Sequence[Size], target: Sequence[float]) -> list[Size] | None:
    """Return VM sizes of ``mix`` (repeated, largest first) amounting to ``target``, to the nearest VM.

    None when there is demand but no mix (or the mix lacks a resource the target needs).
    """
    if not any(t > 0 for t in target):
        return []
    if not mix or any(t > 0 and not any(v[r] > 0 for v in mix) for r, t in enumerate(target)):
        return None
    ordered = sorted(mix, key=lambda v: (-sum(v), v))
    out: list[tuple[float, float, float]] = []
    total = [0.0, 0.0, 0.0]
    while len(out) <= MAX_VMS:
        v = ordered[len(out) % len(ordered)]
        if not any(total[r] + v[r] / 2 < target[r] - 1e-9 for r in range(3)):
            break
        out.append(v)
        total = [total[r] + v[r] for r in range(3)]
    return out


def servers_by_packing(vms: list[Size] | None, existing: list[Size], new: Size, reserve: int,
                       start: int) -> int | None:
    """Return the least number (>= ``start``) of new servers onto which every VM is placed, or None if skipped.

    Pure, so remembered per input: a plan page, its export and the wave comparisons ask the same question of
    the same inventory many times (each answer costs up to a second of packing for a few hundred VMs).
    """
    return _servers_by_packing(None if vms is None else tuple(vms), tuple(existing), new, reserve, start)


@lru_cache(maxsize=512)
def _servers_by_packing(vms: tuple[Size, ...] | None, existing: tuple[Size, ...], new: Size, reserve: int,
                        start: int) -> int | None:
    if vms is None or len(vms) > (MAX_PLACED if existing else MAX_VMS) or min(new) <= 0:
        return None
    if not vms:
        return start
    if any(v[r] > new[r] + 1e-9 for v in vms for r in range(3)):
        return None
    demands = [VMDemand(f"vm{i:05d}", *v) for i, v in enumerate(vms)]
    if not existing:
        return max(start, len(pack(demands, HostShape(*new))))
    hosts = [HostCapacity(id=i + 1, name=f"existing-{i + 1}", cluster_id=1, vcpus=c[0], ram_gib=c[1], disk_gib=c[2])
             for i, c in enumerate(existing)]
    k = start
    while k <= start + len(vms) + reserve:
        fleet = hosts + [HostCapacity(id=len(existing) + j + 1, name=f"new-{j + 1}", cluster_id=1, vcpus=new[0],
                                      ram_gib=new[1], disk_gib=new[2]) for j in range(k)]
        if place(fleet, demands, ha_reserve_hosts=reserve, fits_only=True).ok():
            return k
        k += 1
    return None
