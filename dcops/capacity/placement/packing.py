"""``pack()``: a portfolio of heuristics, then local search, onto as few identical empty hosts as possible."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from dcops.capacity.placement.bounds import _lower_bound
from dcops.capacity.placement.heuristics import _dot_product, _first_fit, _order
from dcops.capacity.placement.model import EPS, Bins, HostShape, VMDemand, _matrix, _named
from dcops.capacity.placement.search import _eliminate, _improve

MOVES = 3000  # ejection moves of the local search, at most
WORK = 20_000_000  # and at most this many (VMs + same-host pairs + 20 x hosts) x moves: what a move costs


def pack(demands: Iterable[VMDemand], host: HostShape, *, improve: bool = True,
         effort: float = 1.0, target: int = 0) -> list[list[str]]:
    """Pack demands onto as few identical empty hosts as possible; return the demand keys per host.

    ``effort`` scales the local search's move budget (1.0: the default; 0 skips it), deterministically.
    ``target``: the search stops as soon as the packing uses at most this many hosts (a caller that only asks
    whether the demands fit onto ``target`` hosts); 0 searches down to the lower bound.
    """
    sizes, groups, keys = _matrix(demands, host)
    if not len(sizes):
        return []
    floor = max(_lower_bound(sizes, groups), target)
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
    if improve and len(best) > floor:
        cost = len(sizes) + sum(len(b) * (len(b) - 1) // 2 for b in best) + 20 * len(best)
        best = _eliminate(sizes, groups, best, floor, int(effort * min(MOVES, WORK / cost)))
    return _named(best, keys)
