"""Placement data: hosts, demands, host shapes, results, input checks and the packing verifier."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from dcops.exceptions import ValidationError

EPS = 1e-9
UNITS = ("vCPU", "GiB RAM", "GiB disk")
STRATEGIES = ("pack", "spread")


@dataclass(frozen=True)
class HostCapacity:
    """One hypervisor as the scheduler sees it: allocatable capacity, current allocation, whether it takes VMs."""

    id: int
    name: str
    cluster_id: int
    vcpus: float
    ram_gib: float
    disk_gib: float
    used_vcpus: float = 0
    used_ram_gib: float = 0
    used_disk_gib: float = 0
    available: bool = True
    anti_affinity: frozenset[str] = frozenset()
    cluster_name: str = ""

    @property
    def capacity(self) -> tuple[float, float, float]:
        return (self.vcpus, self.ram_gib, self.disk_gib)

    @property
    def used(self) -> tuple[float, float, float]:
        return (self.used_vcpus, self.used_ram_gib, self.used_disk_gib)


@dataclass(frozen=True)
class VMDemand:
    """One VM to place: its size, its anti-affinity group and the cluster it must go to, if any."""

    key: str
    vcpus: float
    ram_gib: float
    disk_gib: float
    anti_affinity: str | None = None
    cluster_id: int | None = None

    @property
    def size(self) -> tuple[float, float, float]:
        return (self.vcpus, self.ram_gib, self.disk_gib)


@dataclass(frozen=True)
class HostShape:
    """The capacity of one empty host of a model (after allocation ratios), for ``pack``."""

    vcpus: float
    ram_gib: float
    disk_gib: float

    @property
    def capacity(self) -> tuple[float, float, float]:
        return (self.vcpus, self.ram_gib, self.disk_gib)


@dataclass
class Unplaced:
    """A demand that could not be placed, with the reason in one sentence."""

    key: str
    reason: str


@dataclass
class Placement:
    """Where each placed demand goes (key -> host id) and why the others could not go anywhere."""

    assignment: dict[str, int] = field(default_factory=dict)
    unplaced: list[Unplaced] = field(default_factory=list)

    def ok(self) -> bool:
        """Return True when every demand was placed."""
        return not self.unplaced


def allocatable(total: float, reserved: float = 0, ratio: float = 1.0) -> float:
    """Return what the scheduler may allocate of a resource: (total - reserved) * allocation ratio, never < 0."""
    return max(0.0, (total - reserved) * ratio)


def num(x: float) -> str:
    """Format an amount for a sentence: 16, 0.5, 1.25."""
    return f"{x:.2f}".rstrip("0").rstrip(".") if not float(x).is_integer() else str(int(x))


def amounts(size: Sequence[float] | np.ndarray, *, only_positive: bool = False) -> str:
    """Format a size vector as '16 vCPU, 64 GiB RAM and 200 GiB disk'."""
    parts = [f"{num(v)} {u}" for v, u in zip(list(size), UNITS, strict=True) if v > EPS or not only_positive]
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)


def check_demands(demands: Iterable[VMDemand]) -> list[VMDemand]:
    """Return the demands as a list, refusing duplicate keys and negative or non-finite sizes."""
    out, seen = list(demands), set()
    for d in out:
        if d.key in seen:
            raise ValidationError(f"demand key {d.key!r} appears twice", field="demands")
        seen.add(d.key)
        if not all(math.isfinite(v) and v >= 0 for v in d.size):
            raise ValidationError(f"demand {d.key!r}: sizes must be finite and >= 0, got {d.size}", field="demands")
    return out


def check_hosts(hosts: Iterable[HostCapacity]) -> list[HostCapacity]:
    """Return the hosts sorted by id, refusing duplicate ids and negative or non-finite figures."""
    out = sorted(hosts, key=lambda h: h.id)
    for a, b in zip(out, out[1:], strict=False):
        if a.id == b.id:
            raise ValidationError(f"host id {a.id} appears twice", field="hosts")
    for h in out:
        if not all(math.isfinite(v) and v >= 0 for v in h.capacity + h.used):
            raise ValidationError(f"host {h.name!r}: capacity and use must be finite and >= 0", field="hosts")
    return out



Bins = list[np.ndarray]  # item indices per host


def _matrix(demands: Iterable[VMDemand], host: HostShape) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Return sizes normalised by the host (n x 3), group numbers (-1: none) and keys."""
    items = check_demands(demands)
    cap = np.array(host.capacity, float)
    if not (np.isfinite(cap).all() and (cap > 0).all()):
        raise ValidationError(f"host shape must be positive in every resource, got {host.capacity}", field="host")
    sizes = np.array([d.size for d in items], float).reshape(len(items), 3) / cap
    names: dict[str, int] = {}
    groups = np.array([-1 if d.anti_affinity is None else names.setdefault(d.anti_affinity, len(names))
                       for d in items], int)
    too_big = np.flatnonzero((sizes > 1 + EPS).any(axis=1))
    if too_big.size:
        keys = ", ".join(items[i].key for i in too_big[:5])
        raise ValidationError(f"{too_big.size} demand(s) larger than an empty host {amounts(cap)}: {keys}",
                              field="demands")
    return sizes, groups, [d.key for d in items]



def _named(bins: Bins, keys: list[str]) -> list[list[str]]:
    return [[keys[i] for i in b.tolist()] for b in bins]



def packing_errors(bins: Sequence[Sequence[str]], demands: Iterable[VMDemand], host: HostShape) -> list[str]:
    """Return what is wrong with a packing: a VM missing or twice, a host over capacity, an anti-affinity breach."""
    items = {d.key: d for d in check_demands(demands)}
    errors, seen = [], set()
    for n, keys in enumerate(bins):
        total, groups = np.zeros(3), set()
        for k in keys:
            if k not in items or k in seen:
                errors.append(f"host {n}: {k!r} is {'placed twice' if k in seen else 'not a demand'}")
                continue
            seen.add(k)
            total += items[k].size
            g = items[k].anti_affinity
            if g is not None and g in groups:
                errors.append(f"host {n}: anti-affinity group {g!r} twice")
            groups.add(g)
        if np.any(total > np.array(host.capacity) * (1 + 1e-9) + EPS):
            errors.append(f"host {n}: {amounts(total)} exceeds {amounts(host.capacity)}")
    errors += [f"{k!r} is not placed" for k in items if k not in seen]
    return errors


