"""Exact polish (pure) of ``placement.pack`` with OR-tools CP-SAT, for instances of up to a few hundred VMs.

``polish(demands, host, *, time_limit=10.0, start=None, workers=2) -> ExactResult``
    Starts from ``start`` (default: ``placement.pack``) and asks CP-SAT for a packing onto fewer identical empty
    hosts. ``time_limit`` (seconds) bounds the whole call: the start, the model build (abandoned, status
    ``"UNKNOWN"``, when it would overrun) and the solve, which gets what is left. ``ExactResult.status`` is

    - ``"OPTIMAL"``: the solver proved ``len(bins)`` is the minimum;
    - ``"BOUND"``: the start already meets ``placement.lower_bound``, so it is optimal without a solve;
    - ``"FEASIBLE"``: the time ran out; ``bins`` is the best found (never worse than ``start``) and
      ``proven_bound`` the best lower bound the solver proved;
    - ``"UNKNOWN"``: nothing better than ``start`` and no bound beyond the simple one within the time.

    Sizes that are not whole numbers are scaled by 1000 and rounded up (capacities down), so an answer is
    always feasible in the real sizes but a packing that fills a host to the last thousandth may be missed.
    With more than one worker a time-limited answer can differ from run to run; ``workers=1`` is repeatable.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from dcops.capacity.placement import HostShape, VMDemand, check_demands, lower_bound, pack
from dcops.exceptions import ValidationError

MAX_ITEMS = 500


@dataclass
class ExactResult:
    """The polished packing, how sure the solver is about it, and what it cost."""

    bins: list[list[str]]
    status: str
    start_hosts: int
    lower_bound: int
    proven_bound: int
    seconds: float

    @property
    def optimal(self) -> bool:
        return self.status in ("OPTIMAL", "BOUND")


def _integers(values: np.ndarray, capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return integer sizes and capacities per resource, scaling non-integer resources by 1000."""
    sizes, caps = values.copy(), capacity.copy()
    for r in range(3):
        column = np.append(values[:, r], capacity[r])
        if not np.all(column == np.round(column)):
            sizes[:, r] = np.ceil(values[:, r] * 1000 - 1e-9)
            caps[r] = np.floor(capacity[r] * 1000 + 1e-9)
    return sizes.astype(np.int64), caps.astype(np.int64)


def polish(demands: Iterable[VMDemand], host: HostShape, *, time_limit: float = 10.0,
           start: list[list[str]] | None = None, workers: int = 2) -> ExactResult:
    """Search for a packing onto fewer hosts than ``start`` with CP-SAT; report whether it is proven optimal."""
    from ortools.sat.python import cp_model

    t0 = time.perf_counter()
    items = check_demands(demands)
    if len(items) > MAX_ITEMS:
        raise ValidationError(f"exact polish takes at most {MAX_ITEMS} demands, got {len(items)}", field="demands")
    start = pack(items, host, effort=min(1.0, time_limit / 2)) if start is None else start
    floor = lower_bound(items, host)
    if len(start) <= floor:
        return ExactResult(start, "BOUND", len(start), floor, floor, time.perf_counter() - t0)
    # decreasing size, so that item i may only use bins 0..i (every packing can be relabelled that way)
    cap = np.array(host.capacity, float)
    raw = np.array([d.size for d in items], float).reshape(len(items), 3)
    order = sorted(range(len(items)), key=lambda i: (-float((raw[i] / cap).sum()), items[i].key))
    items = [items[i] for i in order]
    size, capacity = _integers(raw[order], cap)
    n, nbins = len(items), len(start) - 1  # ask for at least one host fewer than the start
    deadline = t0 + max(0.05, time_limit)

    def out_of_time() -> ExactResult:
        return ExactResult(start, "UNKNOWN", len(start), floor, floor, time.perf_counter() - t0)

    # the build costs about one microsecond per (item, bin) variable and constraint term; give up early
    if time.perf_counter() + 2e-5 * n * nbins > deadline:
        return out_of_time()
    m = cp_model.CpModel()
    x = {}
    for i in range(n):
        for b in range(min(i + 1, nbins)):
            x[i, b] = m.new_bool_var(f"x{i}_{b}")
        if i % 32 == 0 and time.perf_counter() > deadline:
            return out_of_time()
    used = [m.new_bool_var(f"y{b}") for b in range(nbins)]
    for i in range(n):
        m.add_exactly_one(x[i, b] for b in range(min(i + 1, nbins)))
    for b in range(nbins):
        if time.perf_counter() > deadline:
            return out_of_time()
        members = list(range(b, n))
        for r in range(3):
            m.add(sum(int(size[i, r]) * x[i, b] for i in members) <= int(capacity[r]) * used[b])
        for i in members:
            m.add_implication(x[i, b], used[b])
        if b:
            m.add_implication(used[b], used[b - 1])
    groups: dict[str, list[int]] = {}
    for i, d in enumerate(items):
        if d.anti_affinity is not None:
            groups.setdefault(d.anti_affinity, []).append(i)
    for members in groups.values():
        if len(members) > 1:
            for b in range(nbins):
                m.add_at_most_one(x[i, b] for i in members if (i, b) in x)
    m.add(sum(used) >= floor)
    m.minimize(sum(used))
    solver = cp_model.CpSolver()
    left = deadline - time.perf_counter()
    if left <= 0.01:
        return out_of_time()
    solver.parameters.max_time_in_seconds = left
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = 1
    code = solver.solve(m)
    status = solver.status_name(code)
    seconds = time.perf_counter() - t0
    if code == cp_model.INFEASIBLE:  # no packing onto fewer hosts than the start: the start is optimal
        return ExactResult(start, "OPTIMAL", len(start), floor, len(start), seconds)
    bound = solver.best_objective_bound
    proven = min(len(start), max(floor, int(np.ceil(bound - 1e-6)) if np.isfinite(bound) else floor))
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return ExactResult(start, "UNKNOWN", len(start), floor, proven, seconds)
    bins: list[list[str]] = [[] for _ in range(nbins)]
    for (i, b), var in x.items():
        if solver.value(var):
            bins[b].append(items[i].key)
    bins = [b for b in bins if b]
    if code == cp_model.OPTIMAL:
        proven = len(bins)
    return ExactResult(bins, status, len(start), floor, proven, seconds)
