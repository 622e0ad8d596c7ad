"""Rebalance planner (pure): a sequence of live migrations that fixes violations and frees hosts. Executes nothing.

``plan_rebalance(hosts, placements, vms, *, goal="free-hosts", cross_cluster=False) -> list[Migration]``
``rebalance(...) -> RebalancePlan`` (the same, plus what could not be fixed and host counts)

- ``hosts``: ``placement.HostCapacity`` rows. Their ``used_*`` and ``anti_affinity`` describe load that is NOT in
  ``placements`` (pinned: it stays where it is); pass zeros and an empty set when every VM is listed.
- ``placements``: VM key -> host id, where each VM runs now; ``vms``: VM key -> ``placement.VMDemand`` (its size,
  anti-affinity group and required cluster). VMs in ``vms`` but not in ``placements`` are ignored.
- ``goal="fix"``: move VMs off unavailable hosts (maintenance / not active), split anti-affinity groups sharing a
  host, and relieve overcommitted hosts. ``goal="free-hosts"``: the same, then drain hosts, least loaded first,
  onto hosts that already carry load (never onto empty ones), keeping each drain only if the whole host empties.
- A VM moves within its cluster (``VMDemand.cluster_id`` if set, else its current host's cluster) unless
  ``cross_cluster=True``. Migrations leave each cluster's total capacity as it is, so the HA reserve is unaffected.

Each ``Migration`` is feasible in the state left by the ones before it: the target is available, has room in every
resource for the VM and holds no VM of its anti-affinity group. The same input gives the same plan.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from dcops.capacity.placement import EPS, HostCapacity, VMDemand, amounts, check_hosts
from dcops.exceptions import ValidationError

GOALS = ("free-hosts", "fix")


@dataclass(frozen=True)
class Migration:
    """Move one VM from one host to another, and why."""

    vm_key: str
    from_host: int
    to_host: int
    reason: str


@dataclass
class RebalancePlan:
    """The migrations in order, the violations they could not fix, and the hosts carrying load before and after."""

    migrations: list[Migration] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    hosts_used_before: int = 0
    hosts_used_after: int = 0
    freed_hosts: list[int] = field(default_factory=list)


class _State:
    """Where every VM is and what each host carries, updated migration by migration."""

    def __init__(self, hosts: list[HostCapacity], placements: Mapping[str, int], vms: Mapping[str, VMDemand]) -> None:
        self.hosts = hosts
        self.row = {h.id: r for r, h in enumerate(hosts)}
        self.vms = vms
        self.cap = np.array([h.capacity for h in hosts], float).reshape(len(hosts), 3)
        self.load = np.array([h.used for h in hosts], float).reshape(len(hosts), 3)
        self.avail = np.array([h.available for h in hosts], bool)
        self.cluster = np.array([h.cluster_id for h in hosts], int)
        top = self.cap.max(axis=0) if len(hosts) else np.ones(3)
        self.scale = np.where(top > 0, top, 1.0)
        self.pinned = np.array([h.used != (0, 0, 0) or bool(h.anti_affinity) for h in hosts], bool)
        self.on: list[set[str]] = [set() for _ in hosts]
        self.groups: list[Counter[str]] = [Counter(h.anti_affinity) for h in hosts]
        self.where: dict[str, int] = {}
        for key in sorted(placements):
            if key not in vms:
                raise ValidationError(f"placement of {key!r} names no known VM", field="placements")
            if placements[key] not in self.row:
                raise ValidationError(f"VM {key!r} is placed on unknown host {placements[key]}", field="placements")
            self._put(key, self.row[placements[key]])

    def _put(self, key: str, r: int) -> None:
        vm = self.vms[key]
        self.where[key] = r
        self.on[r].add(key)
        self.load[r] += vm.size
        if vm.anti_affinity is not None:
            self.groups[r][vm.anti_affinity] += 1

    def _take(self, key: str) -> int:
        vm, r = self.vms[key], self.where.pop(key)
        self.on[r].discard(key)
        self.load[r] -= vm.size
        if vm.anti_affinity is not None:
            self.groups[r][vm.anti_affinity] -= 1
        return r

    def move(self, key: str, r: int) -> None:
        self._take(key)
        self._put(key, r)

    def used(self) -> np.ndarray:
        return self.pinned | np.array([bool(s) for s in self.on], bool)

    def over(self, r: int) -> np.ndarray:
        return np.maximum(self.load[r] - self.cap[r], 0)

    def name(self, r: int) -> str:
        return self.hosts[r].name

    def target(self, key: str, *, cross_cluster: bool, allow_empty: bool, exclude: Iterable[int] = ()) -> int | None:
        """Return the row of the fullest host that can take ``key`` now, or None."""
        vm, src = self.vms[key], self.where[key]
        size = np.array(vm.size, float)
        ok = self.avail & np.all(self.load + size <= self.cap + EPS, axis=1)
        if vm.cluster_id is not None:
            ok &= self.cluster == vm.cluster_id
        elif not cross_cluster:
            ok &= self.cluster == self.cluster[src]
        ok[src] = False
        for r in exclude:
            ok[r] = False
        if vm.anti_affinity is not None:
            for r in np.flatnonzero(ok).tolist():
                if self.groups[r][vm.anti_affinity] > 0:
                    ok[r] = False
        used = self.used()
        if not allow_empty:
            ok &= used
        if not ok.any():
            return None
        score = (((self.cap - self.load - size) / self.scale) ** 2).sum(axis=1) + np.where(used, 0.0, 1e6)
        return int(np.where(ok, score, np.inf).argmin())


def _by_size(state: _State, keys: Iterable[str]) -> list[str]:
    """Largest first (by normalised size), then by key."""
    return sorted(keys, key=lambda k: (-float((np.array(state.vms[k].size) / state.scale).sum()), k))


def violations(hosts: Iterable[HostCapacity], placements: Mapping[str, int], vms: Mapping[str, VMDemand]) -> list[str]:
    """Return every broken rule of a state: VMs on unavailable hosts, overcommitted hosts, anti-affinity breaches."""
    state = _State(check_hosts(hosts), placements, vms)
    out = []
    for r in range(len(state.hosts)):
        if state.on[r] and not state.avail[r]:
            out.append(f"{len(state.on[r])} VM(s) on '{state.name(r)}', which is in maintenance or not active")
        if state.over(r).any():
            out.append(f"'{state.name(r)}' is overcommitted by {amounts(state.over(r), only_positive=True)}")
        out += [f"anti-affinity group '{g}' {n} times on '{state.name(r)}'"
                for g, n in sorted(state.groups[r].items()) if n > 1]
    return out


def _fix(state: _State, plan: RebalancePlan, cross_cluster: bool) -> list[tuple[Callable[[], bool], str]]:
    """Fix what can be fixed; return each failure with a check of whether it still holds at the end."""
    hosts = state.hosts
    failures: list[tuple[Callable[[], bool], str]] = []

    def still_down(key: str) -> Callable[[], bool]:
        return lambda: not state.avail[state.where[key]]

    def still_shared(key: str, g: str) -> Callable[[], bool]:
        return lambda: state.groups[state.where[key]][g] > 1

    def still_over(r: int) -> Callable[[], bool]:
        return lambda: bool(state.over(r).any())

    def go(key: str, reason: str) -> bool:
        r = state.target(key, cross_cluster=cross_cluster, allow_empty=True)
        if r is None:
            return False
        src = state.where[key]
        state.move(key, r)
        plan.migrations.append(Migration(key, hosts[src].id, hosts[r].id, reason))
        return True

    for r in range(len(hosts)):
        if not state.avail[r]:
            why = f"'{state.name(r)}' is in maintenance or not active"
            for key in _by_size(state, state.on[r]):
                if not go(key, why):
                    need = amounts(state.vms[key].size)
                    failures.append((still_down(key),
                                     f"{key} stays on '{state.name(r)}' (in maintenance or not active): "
                                     f"no available host in its cluster has room for {need}"))
    for r in range(len(hosts)):
        pinned = set(hosts[r].anti_affinity)
        for g in sorted(g for g, n in state.groups[r].items() if n > 1):
            mine = sorted(k for k in state.on[r] if state.vms[k].anti_affinity == g)
            extra = mine if g in pinned else mine[1:]
            for key in extra:
                if not go(key, f"anti-affinity group '{g}' is {len(mine) + (g in pinned)} times on '{state.name(r)}'"):
                    failures.append((still_shared(key, g),
                                     f"{key} stays on '{state.name(r)}' beside another VM of anti-affinity "
                                     f"group '{g}': no other host in its cluster can take it"))
    for r in range(len(hosts)):
        while state.over(r).any():
            over = state.over(r)
            why = f"'{state.name(r)}' is overcommitted by {amounts(over, only_positive=True)}"
            sizes = {k: np.array(state.vms[k].size, float) for k in state.on[r]}
            # the smallest VM that clears the whole excess, else the biggest in the most overcommitted resource
            worst = int((over / state.scale).argmax())
            order = sorted(sizes, key=lambda k: (not np.all(sizes[k] >= over - EPS),
                                                 float((sizes[k] / state.scale).sum()) if np.all(sizes[k] >= over - EPS)
                                                 else -float(sizes[k][worst]), k))
            if not any(go(k, why) for k in order if sizes[k][worst] > EPS):
                failures.append((still_over(r),
                                 f"{why} and no VM on it can move: other hosts in its cluster lack room"))
                break
    return failures


def _drain(state: _State, plan: RebalancePlan, cross_cluster: bool) -> None:
    hosts = state.hosts
    tried: set[int] = set()
    while True:
        load = (state.load / state.scale).sum(axis=1)
        cands = [r for r in range(len(hosts)) if state.on[r] and state.avail[r] and not state.pinned[r]
                 and r not in tried]
        if not cands:
            return
        r = min(cands, key=lambda r: (load[r], hosts[r].id))
        tried.add(r)
        done: list[tuple[str, int]] = []
        for key in _by_size(state, state.on[r]):
            t = state.target(key, cross_cluster=cross_cluster, allow_empty=False, exclude={r})
            if t is None:
                break
            state.move(key, t)
            done.append((key, t))
        if state.on[r]:  # could not empty it: undo, newest first
            for key, _ in reversed(done):
                state.move(key, r)
            continue
        why = f"drain '{state.name(r)}' to free it"
        plan.migrations += [Migration(key, hosts[r].id, hosts[t].id, why) for key, t in done]
        plan.freed_hosts.append(hosts[r].id)


def rebalance(hosts: Iterable[HostCapacity], placements: Mapping[str, int], vms: Mapping[str, VMDemand], *,
              goal: str = "free-hosts", cross_cluster: bool = False) -> RebalancePlan:
    """Plan migrations towards ``goal``; return them with what stays unresolved and the host counts."""
    if goal not in GOALS:
        raise ValidationError(f"unknown goal {goal!r}: use one of {', '.join(GOALS)}", field="goal")
    state = _State(check_hosts(hosts), placements, vms)
    plan = RebalancePlan(hosts_used_before=int(state.used().sum()))
    failures = _fix(state, plan, cross_cluster)
    if goal == "free-hosts":
        _drain(state, plan, cross_cluster)
    # a later move can settle an earlier failure (an overcommit fix moving a VM's group partner away)
    plan.unresolved = [message for holds, message in failures if holds()]
    plan.hosts_used_after = int(state.used().sum())
    return plan


def plan_rebalance(hosts: Iterable[HostCapacity], placements: Mapping[str, int], vms: Mapping[str, VMDemand], *,
                   goal: str = "free-hosts", cross_cluster: bool = False) -> list[Migration]:
    """Return the live migrations, in order, that reach ``goal``; see ``rebalance`` for what stays unresolved."""
    return rebalance(hosts, placements, vms, goal=goal, cross_cluster=cross_cluster).migrations

