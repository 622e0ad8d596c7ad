"""Lower bounds on the number of identical empty hosts a set of demands needs (sizes normalised to the host).

- volume: ``max_r ceil(sum of sizes in resource r)``;
- anti-affinity: the largest group (no two of its VMs share a host);
- Martello & Toth's L2 per resource: for a threshold ``K <= 1/2`` the items above ``1 - K`` and those in
  ``(1/2, 1 - K]`` each need a host of their own, and the items in ``[K, 1/2]`` must fill what those hosts
  leave or open new ones: ``|J1| + |J2| + max(0, ceil(sum J3 - (|J2| - sum J2)))``, maximised over ``K``;
- large items (the vector L2 of Caprara & Toth): a set of VMs no two of which fit together on one host (a
  clique of the conflict graph, found greedily from the largest) needs one host each; the other VMs that fit
  with none of them need, on top, at least the volume bound of their own sizes.

Every bound holds for any packing, so their maximum is never above the optimum.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from dcops.capacity.placement.model import EPS, HostShape, VMDemand, _matrix

CLIQUE_ITEMS = 400  # the conflict graph is built on at most this many of the largest items


def _volume(sizes: np.ndarray) -> int:
    return max(math.ceil(t - 1e-7) for t in sizes.sum(axis=0)) if len(sizes) else 0


def _l2_one(s: np.ndarray) -> int:
    """Martello-Toth L2 bound of one resource (sizes in [0, 1]), every threshold at once (vectorised)."""
    s = np.sort(s[s > EPS])
    if not s.size:
        return 0
    csum = np.concatenate(([0.0], np.cumsum(s)))  # csum[k] = sum of the k smallest
    n = s.size

    def above(x: np.ndarray) -> np.ndarray:  # how many sizes are > x
        return n - np.searchsorted(s, x + EPS, side="right")

    k = np.append(np.unique(s[s <= 0.5 + EPS]), 0.0)
    n1 = above(1 - k)  # J1: larger than 1 - K
    n12 = int(above(np.array([0.5]))[0])  # J1 and J2: larger than a half
    n123 = n - np.searchsorted(s, k - EPS, side="left")  # at least K
    lo12 = n - n12  # index of the smallest item above a half
    sum2 = csum[n - n1] - csum[lo12]  # J2 = items in (1/2, 1 - K]
    sum3 = csum[lo12] - csum[n - n123]  # J3 = items in [K, 1/2]
    extra = np.ceil(sum3 - ((n12 - n1) - sum2) - 1e-7)
    return int(n12 + np.maximum(0, extra).max())


def _conflicts(sizes: np.ndarray) -> np.ndarray:
    """Return a boolean matrix: items i and j cannot share a host."""
    return (sizes[:, None, :] + sizes[None, :, :] > 1 + EPS).any(axis=2)


def _large_items(sizes: np.ndarray) -> int:
    """Greedy clique of mutually incompatible items, plus the volume of the items that fit with none of them."""
    n = len(sizes)
    if n < 2:
        return n
    order = np.argsort(-sizes.max(axis=1), kind="stable")[:CLIQUE_ITEMS]
    sub = sizes[order]
    conflict = _conflicts(sub)
    best = 1
    for start_key in (sub.max(axis=1), sub.sum(axis=1), conflict.sum(axis=1).astype(float)):
        clique: list[int] = []
        ok = np.ones(len(sub), bool)
        for i in np.argsort(-start_key, kind="stable").tolist():
            if ok[i]:
                clique.append(i)
                ok &= conflict[i]
        rest = np.ones(n, bool)
        rest[order[clique]] = False
        alone = rest.copy()  # items (of all) that fit with no clique item
        alone &= (sizes[:, None, :] + sub[clique][None, :, :] > 1 + EPS).any(axis=2).all(axis=1)
        best = max(best, len(clique) + _volume(sizes[alone]))
    return best


def _lower_bound(sizes: np.ndarray, groups: np.ndarray) -> int:
    if not len(sizes):
        return 0
    group = int(np.bincount(groups[groups >= 0]).max()) if (groups >= 0).any() else 1
    per_resource = max(_l2_one(sizes[:, r]) for r in range(sizes.shape[1]))
    return max(_volume(sizes), group, per_resource, _large_items(sizes), 1)


def lower_bound(demands: Iterable[VMDemand], host: HostShape) -> int:
    """Return a number of hosts no packing of ``demands`` can go below (the best of the bounds above)."""
    sizes, groups, _ = _matrix(demands, host)
    return _lower_bound(sizes, groups)
