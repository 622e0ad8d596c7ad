"""Placement engine (pure): vector bin packing of VMs over vCPU, RAM and disk.

Plain data in, plain data out: no database, no HTTP. Bad input (negative or non-finite sizes, duplicate
demand keys, unknown strategy, a VM larger than an empty host in ``pack``) raises
``dcops.exceptions.ValidationError`` (422).

``place(hosts, demands, *, ha_reserve_hosts=0, strategy="pack") -> Placement``
    Places a capacity request (a few to a few hundred VMs) onto EXISTING hosts with their existing load.

    - ``hosts``: one ``HostCapacity`` per hypervisor. ``vcpus``/``ram_gib``/``disk_gib`` are what the scheduler
      may allocate, already ``allocatable(total, reserved, ratio)`` = ``(total - reserved) * allocation_ratio``
      (OpenStack Placement's formula), e.g. 64 cores at 4:1 -> 256 vCPU; ``used_*``
      is what is allocated on it now; ``available=False`` (maintenance, not active) receives nothing;
      ``anti_affinity`` holds the groups of the VMs already on it; ``cluster_name`` (optional) names the cluster
      in reasons, else its id is used.
    - ``demands``: one ``VMDemand`` per VM (unique ``key``). ``cluster_id`` restricts it to that cluster's
      hosts; ``anti_affinity`` keeps two VMs of one group (including those already placed) off the same host.
    - ``ha_reserve_hosts=k`` (N+k): per cluster, after placement the cluster's total allocation (of every host,
      those in maintenance included, since their VMs must run somewhere) must still fit, resource by resource,
      into the capacity of its available hosts minus its k largest available ones.
    - ``strategy``: ``"pack"`` puts each VM on the busiest host it fits (best fit; an empty host only when no
      loaded one has room, so hosts stay free); ``"spread"`` puts it where its fullest resource ends least used.

    ``Placement.assignment`` maps demand key -> host id; ``Placement.unplaced`` lists the others (in key order)
    with a sentence naming the resource, how much is missing and where. All-or-nothing is the caller's choice:
    ``Placement.ok()``. Deterministic: demands are placed largest first, then by key; ties go to the lowest
    host id.

``pack(demands, host: HostShape) -> list[list[str]]``
    Packs demands onto as few identical EMPTY hosts as possible (benchmark, forecast), honouring anti-affinity;
    returns the keys per host. It runs the bin-centric dot-product heuristic (Panigrahy et al. 2011: open one
    host, repeatedly add the VM whose normalised size best aligns with the host's remaining capacity), the same
    aimed at each host's fair share of the total demand (so a resource that is not binding is not exhausted
    early), first-fit-decreasing by sum and by max of the normalised sizes and first fit in arrival order; keeps
    the fewest hosts (stopping early at the lower bound), then tries to empty its lightest hosts into the others.
    About 0.3 s of CPU for 10,000 VMs (``python -m tests.benchmarks.bench_placement``).
    Deterministic for the same input sequence. ``first_fit`` and ``dot_product`` expose the single algorithms.

``lower_bound(demands, host) -> int``
    No packing uses fewer hosts: the largest of ceil(total demand / host capacity) over the resources, the
    largest anti-affinity group, and the number of VMs taking more than half a host in one same resource.

Helpers: ``allocatable(total, reserved, ratio)``; ``packing_errors(bins, demands, host)`` (what is wrong with a
packing, [] when valid); ``amounts(size)`` formats '16 vCPU, 64 GiB RAM and 200 GiB disk' for messages.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
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


# ---------------------------------------------------------------------------------------------------------------
# place(): a request onto existing hosts


class _Fleet:
    """The hosts as arrays (rows sorted by host id) plus per-cluster HA figures, updated as VMs are placed."""

    def __init__(self, hosts: list[HostCapacity], reserve: int) -> None:
        self.hosts = hosts
        n = len(hosts)
        self.cap = np.array([h.capacity for h in hosts], float).reshape(n, 3)
        self.used = np.array([h.used for h in hosts], float).reshape(n, 3)
        self.avail = np.array([h.available for h in hosts], bool)
        self.cluster = np.array([h.cluster_id for h in hosts], int)
        self.clusters = sorted(set(self.cluster.tolist()))
        self.cidx = np.searchsorted(self.clusters, self.cluster)
        self.names = {h.cluster_id: h.cluster_name for h in hosts if h.cluster_name}
        self.groups: dict[str, set[int]] = {}
        for i, h in enumerate(hosts):
            for g in h.anti_affinity:
                self.groups.setdefault(g, set()).add(i)
        self.loaded = self.used.any(axis=1) | np.array([bool(h.anti_affinity) for h in hosts], bool)
        top = self.cap.max(axis=0) if n else np.ones(3)
        self.scale = np.where(top > 0, top, 1.0)
        self.reserve = reserve
        self.usable = np.zeros((len(self.clusters), 3))
        self.alloc = np.zeros((len(self.clusters), 3))
        for c in range(len(self.clusters)):
            member = self.cidx == c
            caps = np.sort(self.cap[member & self.avail], axis=0)[::-1]
            self.usable[c] = caps[reserve:].sum(axis=0)
            self.alloc[c] = self.used[member].sum(axis=0)

    def cluster_label(self, cid: int) -> str:
        return f"cluster '{self.names.get(cid, cid)}'"

    def choose(self, d: VMDemand, strategy: str) -> tuple[int | None, str]:
        """Return the row of the host for ``d``, or None and why no host can take it."""
        size = np.array(d.size, float)
        n = len(self.hosts)
        in_cluster = np.ones(n, bool) if d.cluster_id is None else self.cluster == d.cluster_id
        eligible = in_cluster & self.avail
        blocked = np.zeros(n, bool)
        if d.anti_affinity is not None and d.anti_affinity in self.groups:
            blocked[list(self.groups[d.anti_affinity])] = True
        free = self.cap - self.used
        fits = np.all(free >= size - EPS, axis=1)
        ha_ok = np.all(self.alloc + size <= self.usable + EPS, axis=1) if self.reserve else None
        cand = eligible & ~blocked & fits
        if ha_ok is not None:
            cand &= ha_ok[self.cidx]
        if cand.any():
            if strategy == "pack":
                score = ((free - size) / self.scale) ** 2
                score = score.sum(axis=1) + np.where(self.loaded, 0.0, 1e6)
            else:
                util = (self.used + size) / np.where(self.cap > 0, self.cap, 1.0)
                score = util.max(axis=1) + 1e-3 * util.sum(axis=1)
            return int(np.where(cand, score, np.inf).argmin()), ""
        return None, self._why(d, size, in_cluster, eligible, blocked, free, fits, ha_ok)

    def assign(self, row: int, d: VMDemand) -> None:
        size = np.array(d.size, float)
        self.used[row] += size
        self.alloc[self.cidx[row]] += size
        self.loaded[row] = True
        if d.anti_affinity is not None:
            self.groups.setdefault(d.anti_affinity, set()).add(row)

    def _why(self, d: VMDemand, size: np.ndarray, in_cluster: np.ndarray, eligible: np.ndarray,
             blocked: np.ndarray, free: np.ndarray, fits: np.ndarray, ha_ok: np.ndarray | None) -> str:
        needs = f"needs {amounts(size)}"
        where = f" in {self.cluster_label(d.cluster_id)}" if d.cluster_id is not None else ""
        if not in_cluster.any():
            return f"{needs}: {where.removeprefix(' in ')} has no hosts" if where else f"{needs}: no hosts"
        down = int((in_cluster & ~self.avail).sum())
        if not eligible.any():
            return f"{needs}: no available host{where} ({down} in maintenance or not active)"
        open_ = eligible & ~blocked
        if not open_.any():
            return f"{needs}: every available host{where} already holds anti-affinity group '{d.anti_affinity}'"
        roomy = open_ & fits
        if roomy.any() and ha_ok is not None:
            failed = sorted({int(c) for c in self.cidx[roomy]})
            return "; ".join(self._ha_text(c, size) for c in failed)
        notes = []
        if down:
            notes.append(f"{down} in maintenance or not active")
        if (eligible & blocked).any():
            notes.append(f"{int((eligible & blocked).sum())} holding anti-affinity group '{d.anti_affinity}'")
        shortfall = (np.maximum(size - free, 0) / self.scale).sum(axis=1)
        best = int(np.where(open_, shortfall, np.inf).argmin())
        lack = amounts(np.maximum(size - free[best], 0), only_positive=True)
        note = f" ({'; '.join(notes)})" if notes else ""
        return f"{needs}: no available host{where} has room{note}; best host '{self.hosts[best].name}' lacks {lack}"

    def _ha_text(self, c: int, size: np.ndarray) -> str:
        after = self.alloc[c] + size
        over = [f"{num(after[r])} of {num(self.usable[c][r])} {UNITS[r]}" for r in range(3)
                if after[r] > self.usable[c][r] + EPS]
        largest = "its largest host" if self.reserve == 1 else f"its {self.reserve} largest hosts"
        what = ", ".join(over[:-1]) + " and " + over[-1] if len(over) > 1 else over[0]
        return f"HA reserve: {self.cluster_label(self.clusters[c])} would allocate {what} usable with {largest} failed"


def place(hosts: Iterable[HostCapacity], demands: Iterable[VMDemand], *, ha_reserve_hosts: int = 0,
          strategy: str = "pack") -> Placement:
    """Place demands onto existing hosts; return the assignment and, for the rest, why they do not fit."""
    if strategy not in STRATEGIES:
        raise ValidationError(f"unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)}", field="strategy")
    if ha_reserve_hosts < 0:
        raise ValidationError("ha_reserve_hosts must be >= 0", field="ha_reserve_hosts")
    fleet = _Fleet(check_hosts(hosts), ha_reserve_hosts)
    todo = check_demands(demands)
    norm = {d.key: np.array(d.size) / fleet.scale for d in todo}
    todo.sort(key=lambda d: (-float(norm[d.key].max()), -float(norm[d.key].sum()), d.key))
    result = Placement()
    for d in todo:
        row, reason = fleet.choose(d, strategy)
        if row is None:
            result.unplaced.append(Unplaced(d.key, reason))
        else:
            fleet.assign(row, d)
            result.assignment[d.key] = fleet.hosts[row].id
    result.unplaced.sort(key=lambda u: u.key)
    return result


# ---------------------------------------------------------------------------------------------------------------
# pack(): as few identical empty hosts as possible

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


def _lower_bound(sizes: np.ndarray, groups: np.ndarray) -> int:
    if not len(sizes):
        return 0
    volume = max(math.ceil(t - 1e-7) for t in sizes.sum(axis=0))
    group = int(np.bincount(groups[groups >= 0]).max()) if (groups >= 0).any() else 1
    big = int((sizes > 0.5 + EPS).sum(axis=0).max())
    return max(volume, group, big, 1)


def lower_bound(demands: Iterable[VMDemand], host: HostShape) -> int:
    """Return a number of hosts no packing of ``demands`` can go below."""
    sizes, groups, _ = _matrix(demands, host)
    return _lower_bound(sizes, groups)


def _order(sizes: np.ndarray, groups: np.ndarray, sort: str | None) -> np.ndarray:
    """Arrival order, or decreasing by sum/max of normalised size (identical items kept next to each other)."""
    if sort is None:
        return np.arange(len(sizes))
    if sort not in ("sum", "max"):
        raise ValidationError(f"unknown sort {sort!r}: use sum or max", field="sort")
    key = sizes.sum(axis=1) if sort == "sum" else sizes.max(axis=1)
    return np.lexsort((np.arange(len(sizes)), groups, sizes[:, 2], sizes[:, 1], sizes[:, 0], -key))


def _first_fit(sizes: np.ndarray, groups: np.ndarray, order: np.ndarray) -> Bins:
    """First fit in ``order``; a run of identical items fills bins in one step (same result, far fewer steps)."""
    n = len(order)
    if not n:
        return []
    so, go = sizes[order], groups[order]
    rem = np.zeros((3, n))  # remaining capacity of bin j in column j; at most n bins
    where = np.empty(n, int)
    suffix_min = np.minimum.accumulate(so[::-1], axis=0)[::-1]
    same = np.all(so[1:] == so[:-1], axis=1) & (go[1:] == go[:-1])
    starts = np.flatnonzero(np.concatenate(([True], ~same)))
    ends = np.append(starts[1:], n)
    group_bins: dict[int, list[int]] = {}
    nb = first_live = 0
    lo = (so - EPS).tolist()
    dead_below = (suffix_min - EPS).tolist()
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        s, g, m = so[a], int(go[a]), b - a
        # bins that cannot take even the smallest item still to come are skipped for good
        floor = dead_below[a]
        while first_live < nb:
            col = rem[:, first_live].tolist()
            if col[0] >= floor[0] and col[1] >= floor[1] and col[2] >= floor[2]:
                break
            first_live += 1
        if m == 1:  # the common case in arrival order, kept lean
            low = lo[a]
            ok = (rem[0, first_live:nb] >= low[0]) & (rem[1, first_live:nb] >= low[1])
            ok &= rem[2, first_live:nb] >= low[2]
            if g >= 0:
                for j in group_bins.get(g, ()):
                    if j >= first_live:
                        ok[j - first_live] = False
            hit = int(ok.argmax()) + first_live if ok.size else nb
            if hit < nb and ok[hit - first_live]:
                rem[:, hit] -= s
            else:
                hit, nb = nb, nb + 1
                rem[:, hit] = 1.0 - s
            where[a] = hit
            if g >= 0:
                group_bins.setdefault(g, []).append(hit)
            continue
        r = rem[:, first_live:nb]
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(s[:, None] > 0, np.floor((r + EPS) / s[:, None]), np.inf).min(axis=0)
        room = np.minimum(room, n).astype(int)
        if g >= 0:
            room = np.minimum(room, 1)
            for j in group_bins.get(g, ()):
                if j >= first_live:
                    room[j - first_live] = 0
        before = np.cumsum(room) - room
        take = np.clip(m - before, 0, room)
        hits = np.flatnonzero(take)
        pos = a
        for j, t in zip((hits + first_live).tolist(), take[hits].tolist(), strict=True):
            rem[:, j] -= t * s
            where[pos:pos + t] = j
            pos += t
            if g >= 0:
                group_bins.setdefault(g, []).append(j)
        left = b - pos
        if left:
            with np.errstate(divide="ignore"):
                per = int(min(np.floor((1 + EPS) / s[s > 0]).min() if (s > 0).any() else n, n))
            per = 1 if g >= 0 else max(per, 1)
            while left:
                t = min(per, left)
                rem[:, nb] = 1.0 - t * s
                where[pos:pos + t] = nb
                if g >= 0:
                    group_bins.setdefault(g, []).append(nb)
                nb, pos, left = nb + 1, pos + t, left - t
    by_bin = np.argsort(where, kind="stable")
    cuts = np.flatnonzero(np.diff(where[by_bin])) + 1
    return [order[idx] for idx in np.split(by_bin, cuts)]


def _dot_product(sizes: np.ndarray, groups: np.ndarray, weights: np.ndarray | None = None,
                 target: np.ndarray | None = None) -> Bins:
    """Bin-centric dot product: fill one bin at a time with the item best aligned to its remaining capacity.

    The score of an item is ``sum(weights * size * (target - used))``: with the defaults (ones) that is
    Panigrahy's dot product with the remaining capacity; a ``target`` below 1 aims each bin at its fair share.
    """
    n = len(sizes)
    if not n:
        return []
    w = np.ones(3) if weights is None else np.asarray(weights, float)
    tgt = np.ones(3) if target is None else np.asarray(target, float)
    # items of one size are interchangeable but for their group: work on size classes; members with a group
    # come first (the most constrained), each class hands out its first member whose group is not in the bin
    classes, inverse = np.unique(sizes, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    by_class = np.lexsort((np.arange(n), groups < 0, inverse))
    count = np.bincount(inverse, minlength=len(classes))
    pending = [chunk.tolist() for chunk in np.split(by_class, np.cumsum(count)[:-1])]
    grouped = (groups >= 0).tolist()
    group_of = groups.tolist()
    left = count.copy()
    c0, c1, c2 = (np.ascontiguousarray(classes[:, k]) for k in range(3))
    alive = np.arange(len(classes))
    bins: Bins = []
    while alive.size:
        cand = alive
        a0, a1, a2 = c0[cand], c1[cand], c2[cand]
        big = (a0.max(), a1.max(), a2.max())  # while the remaining capacity is above this, everything fits
        ok = np.ones(cand.size, bool)
        r0 = r1 = r2 = 1.0
        t0, t1, t2 = w * tgt
        chosen: list[int] = []
        in_bin: set[int] = set()
        while True:
            score = np.where(ok, a0 * t0 + a1 * t1 + a2 * t2, -np.inf)
            j = int(score.argmax())
            if not ok[j]:
                break
            c = int(cand[j])
            members = pending[c]
            pick = next((k for k, i in enumerate(members) if not grouped[i] or group_of[i] not in in_bin), None)
            if pick is None:  # every member left is in a group the bin already holds
                ok[j] = False
                continue
            item = members.pop(pick)
            left[c] -= 1
            chosen.append(item)
            if grouped[item]:
                in_bin.add(group_of[item])
            r0, r1, r2 = r0 - a0[j], r1 - a1[j], r2 - a2[j]
            t0, t1, t2 = t0 - w[0] * a0[j], t1 - w[1] * a1[j], t2 - w[2] * a2[j]
            if not members:
                ok[j] = False
            if r0 < big[0] or r1 < big[1] or r2 < big[2]:
                ok &= (a0 <= r0 + EPS) & (a1 <= r1 + EPS) & (a2 <= r2 + EPS)
                live = int(np.count_nonzero(ok))
                if not live:
                    break
                if cand.size > 64 and live < cand.size // 4:
                    cand, a0, a1, a2 = cand[ok], a0[ok], a1[ok], a2[ok]
                    ok = np.ones(cand.size, bool)
                    big = (a0.max(), a1.max(), a2.max())
        bins.append(np.array(chosen, int))
        alive = alive[left[alive] > 0]
    return bins


def _improve(sizes: np.ndarray, groups: np.ndarray, bins: Bins, floor: int, attempts: int = 20) -> Bins:
    """Try to empty the lightest bins into the others (best fit); keep every bin that cannot be emptied."""
    members = [b.tolist() for b in bins]
    rem = np.array([1.0 - sizes[b].sum(axis=0) for b in bins]).reshape(len(bins), 3)
    alive = np.ones(len(bins), bool)
    tried = np.zeros(len(bins), bool)
    group_bins: dict[int, set[int]] = {}
    for j, b in enumerate(members):
        for i in b:
            if groups[i] >= 0:
                group_bins.setdefault(int(groups[i]), set()).add(j)
    for _ in range(attempts):
        if int(alive.sum()) <= floor:
            break
        load = np.where(alive & ~tried, 3.0 - rem.sum(axis=1), np.inf)
        victim = int(load.argmin())
        if not np.isfinite(load[victim]):
            break
        tried[victim] = True
        trial = rem.copy()
        moves: list[tuple[int, int]] = []
        for i in sorted(members[victim], key=lambda i: (-sizes[i].sum(), i)):
            ok = alive & np.all(trial >= sizes[i] - EPS, axis=1)
            ok[victim] = False
            g = int(groups[i])
            if g >= 0:
                ok[list(group_bins[g] | {j for k, j in moves if groups[k] == g})] = False
            if not ok.any():
                break
            j = int(np.where(ok, ((trial - sizes[i]) ** 2).sum(axis=1), np.inf).argmin())
            trial[j] -= sizes[i]
            moves.append((i, j))
        if len(moves) < len(members[victim]):
            continue
        rem, alive[victim] = trial, False
        for i, j in moves:
            members[j].append(i)
            if groups[i] >= 0:
                group_bins[int(groups[i])].discard(victim)
                group_bins[int(groups[i])].add(j)
    return [np.array(members[j], int) for j in np.flatnonzero(alive).tolist()]


def _named(bins: Bins, keys: list[str]) -> list[list[str]]:
    return [[keys[i] for i in b.tolist()] for b in bins]


def first_fit(demands: Iterable[VMDemand], host: HostShape, *, sort: str | None = None) -> list[list[str]]:
    """First fit in arrival order (``sort=None``) or first-fit-decreasing by ``"sum"`` or ``"max"`` of sizes."""
    sizes, groups, keys = _matrix(demands, host)
    return _named(_first_fit(sizes, groups, _order(sizes, groups, sort)), keys)


def dot_product(demands: Iterable[VMDemand], host: HostShape) -> list[list[str]]:
    """Bin-centric dot-product heuristic alone (no FFD fallback, no improvement step)."""
    sizes, groups, keys = _matrix(demands, host)
    return _named(_dot_product(sizes, groups), keys)


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


def pack(demands: Iterable[VMDemand], host: HostShape, *, improve: bool = True) -> list[list[str]]:
    """Pack demands onto as few identical empty hosts as possible; return the demand keys per host."""
    sizes, groups, keys = _matrix(demands, host)
    if not len(sizes):
        return []
    floor = _lower_bound(sizes, groups)
    share = np.minimum(sizes.sum(axis=0) / floor, 1.0)  # each host's fair share of the demand, per resource
    runs: list[Callable[[], Bins]] = [
        lambda: _dot_product(sizes, groups),
        lambda: _dot_product(sizes, groups, weights=1 / np.maximum(share, EPS), target=share),
        lambda: _first_fit(sizes, groups, _order(sizes, groups, "sum")),
        lambda: _first_fit(sizes, groups, _order(sizes, groups, "max")),
        lambda: _first_fit(sizes, groups, _order(sizes, groups, None)),
    ]
    best: Bins | None = None
    for run in runs:
        bins = run()
        if best is None or len(bins) < len(best):
            best = bins
        if len(best) <= floor:
            break
    assert best is not None
    if improve and len(best) > floor:
        best = _improve(sizes, groups, best, floor)
    return _named(best, keys)
