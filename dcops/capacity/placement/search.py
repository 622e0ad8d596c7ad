"""Local search on a packing: empty the lightest hosts into the others."""

from __future__ import annotations

import numpy as np

from dcops.capacity.placement.model import EPS, Bins


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




def _eliminate(sizes: np.ndarray, groups: np.ndarray, bins: Bins, floor: int, moves: int) -> Bins:
    """Pack into one host fewer, again and again, until the bound, a failed attempt or ``moves`` run out."""
    best = [b.copy() for b in bins]
    while len(best) > floor and moves > 0:
        found, used = _one_fewer(sizes, groups, best, moves)
        moves -= used
        if found is None:
            break
        best = found
    return best


_TRIU: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _pairs(members: list[int]) -> tuple[np.ndarray, np.ndarray]:
    m = len(members)
    if m < 2:
        return np.empty(0, int), np.empty(0, int)
    if m not in _TRIU:
        _TRIU[m] = np.triu_indices(m, 1)
    a, b = _TRIU[m]
    arr = np.array(members, int)
    return arr[a], arr[b]


def _one_fewer(sizes: np.ndarray, groups: np.ndarray, bins: Bins, moves: int) -> tuple[Bins | None, int]:
    """Empty the lightest host and reinsert its VMs into the others by ejection moves (a consistent search).

    A VM left out goes into a host where it fits, else into a host after ejecting one or two VMs of smaller
    weight (fewest weight first). When no such move exists the VM's weight grows and the cheapest move is
    made anyway; a VM just ejected from a host may not return to it for a while (tabu). Deterministic.
    """
    n = len(sizes)
    load_all = np.array([sizes[b].sum(axis=0) for b in bins]).reshape(len(bins), 3)
    victim = int(np.argmin(load_all.sum(axis=1)))
    keep = [j for j in range(len(bins)) if j != victim]
    k = len(keep)
    where = np.full(n, -1, int)
    members: list[list[int]] = []
    for nb, j in enumerate(keep):
        members.append(bins[j].tolist())
        where[bins[j]] = nb
    load = load_all[keep].copy()
    out = sorted(bins[victim].tolist(), key=lambda i: (-float(sizes[i].sum()), i))
    weight = sizes.sum(axis=1) + 1e-6
    grouped = groups >= 0
    pair_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    tabu: dict[int, dict[int, int]] = {}  # item -> {bin it may not re-enter: until which step}
    tenure = 7
    for step in range(moves):
        if not out:
            return [np.array(m, int) for m in members], step
        i = max(out, key=lambda x: (weight[x], -x))
        s = sizes[i]
        res = 1.0 - load
        holder = np.full(k, -1, int)
        if grouped[i]:
            mates = np.flatnonzero((groups == groups[i]) & (where >= 0))
            holder[where[mates]] = mates
        banned = np.zeros(k, bool)
        for b, until in tabu.get(i, {}).items():
            if until > step:
                banned[b] = True
        fit = np.all(res >= s - EPS, axis=1) & (holder < 0) & ~banned
        if fit.any():
            b = int(np.where(fit, (res - s).sum(axis=1), np.inf).argmin())
            out.remove(i)
            members[b].append(i)
            where[i], load[b] = b, load[b] + s
            pair_cache.pop(b, None)
            continue
        # one VM out: j in bin where[j]
        assigned = np.flatnonzero(where >= 0)
        bj = where[assigned]
        ok1 = np.all(res[bj] + sizes[assigned] >= s - EPS, axis=1) & ~banned[bj]
        ok1 &= (holder[bj] < 0) | (holder[bj] == assigned)
        cost1 = np.where(ok1, weight[assigned], np.inf)
        # two VMs out of one bin
        for b in range(k):
            if b not in pair_cache:
                pair_cache[b] = _pairs(members[b])
        pa = np.concatenate([pair_cache[b][0] for b in range(k)])
        pb = np.concatenate([pair_cache[b][1] for b in range(k)])
        if pa.size:
            bp = where[pa]
            ok2 = np.all(res[bp] + sizes[pa] + sizes[pb] >= s - EPS, axis=1) & ~banned[bp]
            ok2 &= (holder[bp] < 0) | (holder[bp] == pa) | (holder[bp] == pb)
            cost2 = np.where(ok2, weight[pa] + weight[pb], np.inf)
        else:
            cost2 = np.empty(0)
        c1 = int(cost1.argmin()) if cost1.size else -1
        c2 = int(cost2.argmin()) if cost2.size else -1
        best1 = cost1[c1] if c1 >= 0 else np.inf
        best2 = cost2[c2] if c2 >= 0 else np.inf
        if not np.isfinite(min(best1, best2)):
            weight[i] += 0.1
            tabu.clear()
            continue
        if min(best1, best2) >= weight[i]:
            weight[i] += 0.1  # stuck: make this VM dearer, then make the cheapest move anyway
        ejected = [int(assigned[c1])] if best1 <= best2 else [int(pa[c2]), int(pb[c2])]
        b = int(where[ejected[0]])
        for e in ejected:
            members[b].remove(e)
            where[e] = -1
            load[b] -= sizes[e]
            out.append(e)
            tabu.setdefault(e, {})[b] = step + tenure
        out.remove(i)
        members[b].append(i)
        where[i], load[b] = b, load[b] + s
        pair_cache.pop(b, None)
    return ([np.array(m, int) for m in members], moves) if not out else (None, moves)
