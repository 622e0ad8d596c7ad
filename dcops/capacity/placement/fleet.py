"""``place()``: a capacity request onto existing hosts with their load, anti-affinity and the HA reserve."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dcops.capacity.placement.model import (
    EPS,
    STRATEGIES,
    UNITS,
    HostCapacity,
    Placement,
    Unplaced,
    VMDemand,
    amounts,
    check_demands,
    check_hosts,
    num,
)
from dcops.exceptions import ValidationError


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
        self.placed: list[list[str]] = [[] for _ in hosts]
        self.usable = np.zeros((len(self.clusters), 3))
        self.alloc = np.zeros((len(self.clusters), 3))
        for c in range(len(self.clusters)):
            member = self.cidx == c
            caps = np.sort(self.cap[member & self.avail], axis=0)[::-1]
            self.usable[c] = caps[reserve:].sum(axis=0)
            self.alloc[c] = self.used[member].sum(axis=0)

    def cluster_label(self, cid: int) -> str:
        return f"cluster '{self.names.get(cid, cid)}'"

    def choose(self, d: VMDemand, strategy: str, only: np.ndarray | None = None) -> tuple[int | None, str]:
        """Return the row of the host for ``d``, or None and why no host can take it.

        ``strategy`` is ``"pack"`` (best fit, loaded hosts first), ``"spread"`` or ``"first"`` (the lowest host
        id that fits: first fit); ``only`` restricts the choice to some rows.
        """
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
        if only is not None:
            cand &= only
        if cand.any():
            if strategy == "first":
                return int(cand.argmax()), ""
            if strategy == "pack":
                score = ((free - size) / self.scale) ** 2
                score = score.sum(axis=1) + np.where(self.loaded, 0.0, 1e6)
            else:
                util = (self.used + size) / np.where(self.cap > 0, self.cap, 1.0)
                score = util.max(axis=1) + 1e-3 * util.sum(axis=1)
            return int(np.where(cand, score, np.inf).argmin()), ""
        if only is not None:
            return None, ""  # a restricted try: the reason is given by the unrestricted one
        return None, self._why(d, size, in_cluster, eligible, blocked, free, fits, ha_ok)

    def can(self, row: int, d: VMDemand) -> bool:
        """Return True when host ``row`` may take ``d`` now (room, availability, cluster, group, HA reserve)."""
        size = np.array(d.size, float)
        if not self.avail[row] or (d.cluster_id is not None and self.cluster[row] != d.cluster_id):
            return False
        if d.anti_affinity is not None and row in self.groups.get(d.anti_affinity, ()):
            return False
        if not np.all(self.cap[row] - self.used[row] >= size - EPS):
            return False
        c = self.cidx[row]
        return not self.reserve or bool(np.all(self.alloc[c] + size <= self.usable[c] + EPS))

    def assign(self, row: int, d: VMDemand) -> None:
        size = np.array(d.size, float)
        self.used[row] += size
        self.alloc[self.cidx[row]] += size
        self.loaded[row] = True
        self.placed[row].append(d.key)
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


def _largest_first(todo: list[VMDemand], scale: np.ndarray) -> list[VMDemand]:
    norm = {d.key: np.array(d.size) / scale for d in todo}
    return sorted(todo, key=lambda d: (-float(norm[d.key].max()), -float(norm[d.key].sum()), d.key))


def _greedy(fleet: _Fleet, todo: list[VMDemand], strategy: str, only: np.ndarray | None = None) -> list[VMDemand]:
    """Place ``todo`` one by one in its order with ``fleet.choose``; return those that found no host."""
    left = []
    for d in todo:
        row, _ = fleet.choose(d, strategy, only)
        if row is None:
            left.append(d)
        else:
            fleet.assign(row, d)
    return left


def _pack_empty(fleet: _Fleet, todo: list[VMDemand], fits_only: bool = False) -> list[VMDemand]:
    """Fill the loaded hosts by best fit, then pack what is left onto the empty hosts with ``pack()``.

    Empty available hosts are grouped by cluster and shape (largest first); each group receives the packing
    of the demands allowed there, fullest packed host first, one host per packed host while hosts last.
    ``fits_only``: a packing that fits the group's hosts is enough: a quarter of the search for fewer hosts,
    stopped as soon as they suffice.
    """
    from dcops.capacity.placement.model import HostShape
    from dcops.capacity.placement.packing import pack

    left = _greedy(fleet, todo, "pack", only=fleet.loaded & fleet.avail)
    empty = np.flatnonzero(fleet.avail & ~fleet.loaded)
    shapes: dict[tuple[int, tuple[float, ...]], list[int]] = {}
    for row in empty.tolist():
        shapes.setdefault((int(fleet.cluster[row]), tuple(fleet.cap[row].tolist())), []).append(row)
    order = sorted(shapes, key=lambda g: (-float((np.array(g[1]) / fleet.scale).sum()), g[0], shapes[g][0]))
    for cluster, cap in order:
        rows = [r for r in shapes[cluster, cap] if not fleet.loaded[r]]
        fits = [d for d in left if d.cluster_id in (None, cluster)
                and all(s <= c + EPS for s, c in zip(d.size, cap, strict=True))]
        if not fits or not rows or min(cap) <= 0:
            continue
        by_key = {d.key: d for d in fits}
        # fits_only: a quarter of the search, stopped once the group's hosts suffice
        bins = pack(fits, HostShape(*cap), target=len(rows) if fits_only else 0, effort=0.25 if fits_only else 1.0)
        norm = np.array(cap)
        bins.sort(key=lambda b: -float(sum((np.array(by_key[k].size) / norm).sum() for k in b)))
        placed: set[str] = set()
        for row, keys in zip(rows, bins, strict=False):
            for key in keys:
                if fleet.can(row, by_key[key]):
                    fleet.assign(row, by_key[key])
                    placed.add(key)
        left = [d for d in left if d.key not in placed]
    return left


def _opened(fleet: _Fleet, before: np.ndarray) -> int:
    return int(np.count_nonzero(fleet.loaded & ~before))


def place(hosts: Iterable[HostCapacity], demands: Iterable[VMDemand], *, ha_reserve_hosts: int = 0,
          strategy: str = "pack", fits_only: bool = False) -> Placement:
    """Place demands onto existing hosts; return the assignment and, for the rest, why they do not fit.

    Several placements are tried and the best kept: the strategy's own greedy order (largest first), first fit
    decreasing, first fit in key order and, for ``"pack"``, best fit into the loaded hosts followed by
    ``pack()`` of the rest onto the empty hosts. The best places the most VMs, then (``"pack"``) opens the
    fewest empty hosts; ties go to that order. So it is never worse than first fit or first fit decreasing.
    ``fits_only`` (the forecast's question "do these VMs fit onto these hosts?"): the packing of the empty
    hosts stops searching for fewer hosts once it fits them, so the answer costs a fraction of a full placement.
    """
    if strategy not in STRATEGIES:
        raise ValidationError(f"unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)}", field="strategy")
    if ha_reserve_hosts < 0:
        raise ValidationError("ha_reserve_hosts must be >= 0", field="ha_reserve_hosts")
    checked = check_hosts(hosts)
    todo = sorted(check_demands(demands), key=lambda d: d.key)
    scale = _Fleet(checked, ha_reserve_hosts).scale
    big_first = _largest_first(todo, scale)
    # classic FFD: largest normalised dimension first, ties by key (the tie-break changes results)
    ffd = sorted(todo, key=lambda d: (-float((np.array(d.size) / scale).max()), d.key))
    runs = [lambda f: _greedy(f, big_first, strategy), lambda f: _greedy(f, big_first, "first"),
            lambda f: _greedy(f, ffd, "first"), lambda f: _greedy(f, todo, "first")]
    if strategy == "pack" and todo:
        runs.insert(1, lambda f: _pack_empty(f, big_first, fits_only))
    best: tuple[tuple[int, int], int, _Fleet] | None = None
    for n, run in enumerate(runs):
        fleet = _Fleet(checked, ha_reserve_hosts)
        before = fleet.loaded.copy()
        left = run(fleet)
        score = (len(left), _opened(fleet, before) if strategy == "pack" else 0)
        if best is None or score < best[0]:
            best = (score, n, fleet)
    assert best is not None
    fleet = best[2]
    result = Placement()
    rows = {key: row for row, keys in enumerate(fleet.placed) for key in keys}
    for d in big_first:
        if d.key in rows:
            result.assignment[d.key] = fleet.hosts[rows[d.key]].id
            continue
        row, reason = fleet.choose(d, strategy)  # whatever still fits somewhere goes there
        if row is None:
            result.unplaced.append(Unplaced(d.key, reason))
        else:
            fleet.assign(row, d)
            result.assignment[d.key] = fleet.hosts[row].id
    result.unplaced.sort(key=lambda u: u.key)
    return result
