"""Constructive packing heuristics on normalised sizes: first fit (decreasing) and bin-centric scores."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dcops.capacity.placement.model import EPS, Bins, HostShape, VMDemand, _matrix, _named
from dcops.exceptions import ValidationError


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


def first_fit(demands: Iterable[VMDemand], host: HostShape, *, sort: str | None = None) -> list[list[str]]:
    """First fit in arrival order (``sort=None``) or first-fit-decreasing by ``"sum"`` or ``"max"`` of sizes."""
    sizes, groups, keys = _matrix(demands, host)
    return _named(_first_fit(sizes, groups, _order(sizes, groups, sort)), keys)


def dot_product(demands: Iterable[VMDemand], host: HostShape) -> list[list[str]]:
    """Bin-centric dot-product heuristic alone (no FFD fallback, no improvement step)."""
    sizes, groups, keys = _matrix(demands, host)
    return _named(_dot_product(sizes, groups), keys)


