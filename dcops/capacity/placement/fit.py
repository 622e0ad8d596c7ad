"""Whether one host can take (or keep, resized) one VM: the host's free room and its cluster's HA reserve (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from dcops.capacity.placement.model import HostCapacity

RESOURCES = ("vcpus", "ram_gib", "disk_gib")
_LABELS = (("vCPU", ""), ("RAM", " GiB"), ("disk", " GiB"))


def usable_after_failure(hosts: Sequence[HostCapacity], reserve: int) -> tuple[float, float, float]:
    """Return what a cluster offers per resource with its ``reserve`` largest available hosts failed (N+k)."""
    live = [h for h in hosts if h.available]
    out = []
    for attr in RESOURCES:
        sizes = sorted((getattr(h, attr) for h in live), reverse=True)
        out.append(sum(sizes[reserve:]))
    return out[0], out[1], out[2]


def host_shortfalls(cluster: Sequence[HostCapacity], host: HostCapacity, *, vcpus: float, ram_gib: float,
                    disk_gib: float, ha_reserve_hosts: int, status: str = "not active") -> list[str]:
    """Tell what ``host`` (one of ``cluster``'s hosts) lacks to take a VM of this size; empty when it fits.

    ``status`` names why an unavailable host takes nothing (its device status). The cluster's HA reserve is
    checked too: its whole allocation plus the VM must fit with its ``ha_reserve_hosts`` largest hosts failed.
    """
    problems = []
    if not host.available:
        problems.append(f"host '{host.name}' is {status}, not active")
    need = (vcpus, ram_gib, disk_gib)
    for i, (label, unit) in enumerate(_LABELS):
        free = host.capacity[i] - host.used[i]
        if need[i] > free + 1e-9:
            problems.append(f"{label}: host '{host.name}' has {free:g}{unit} free, {need[i]}{unit} needed "
                            f"({need[i] - free:g}{unit} missing)")
    usable = usable_after_failure(cluster, ha_reserve_hosts)
    for i, (label, unit) in enumerate(_LABELS):
        allocated = sum(h.used[i] for h in cluster)
        if allocated + need[i] > usable[i] + 1e-9:
            problems.append(
                f"HA reserve: cluster '{host.cluster_name}' would allocate {allocated + need[i]:g}{unit} {label} of "
                f"{usable[i]:g}{unit} usable with its {ha_reserve_hosts} largest host(s) failed")
    return problems
