"""Placement quality invariants: place() never worse than first fit (decreasing), pack() never worse than FFD,
every result valid, lower bounds never above the true optimum, the forecast's packing check."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcops.capacity.forecast_packing import servers_by_packing, year_vms
from dcops.capacity.placement import (
    HostCapacity,
    HostShape,
    VMDemand,
    first_fit,
    lower_bound,
    pack,
    packing_errors,
    place,
)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SHAPE = HostShape(100, 100, 100)


def plain_first_fit(hosts: list[HostCapacity], demands: list[VMDemand], reserve: int) -> tuple[int, int]:
    """First fit over hosts by id, written plainly with every rule; return (VMs placed, empty hosts opened)."""
    used = {h.id: list(h.used) for h in hosts}
    groups = {h.id: set(h.anti_affinity) for h in hosts}
    clusters = {h.cluster_id for h in hosts}
    usable = {}
    alloc = {}
    for c in clusters:
        caps = sorted((h.capacity for h in hosts if h.cluster_id == c and h.available), key=lambda x: 0)
        cols = [sorted((x[r] for x in caps), reverse=True)[reserve:] for r in range(3)]
        usable[c] = [sum(col) for col in cols]
        alloc[c] = [sum(h.used[r] for h in hosts if h.cluster_id == c) for r in range(3)]
    loaded = {h.id for h in hosts if any(h.used) or h.anti_affinity}
    opened, placed = set(), 0
    for d in demands:
        for h in sorted(hosts, key=lambda h: h.id):
            if not h.available or d.cluster_id not in (None, h.cluster_id):
                continue
            if d.anti_affinity is not None and d.anti_affinity in groups[h.id]:
                continue
            if any(used[h.id][r] + d.size[r] > h.capacity[r] + 1e-9 for r in range(3)):
                continue
            if reserve and any(alloc[h.cluster_id][r] + d.size[r] > usable[h.cluster_id][r] + 1e-9 for r in range(3)):
                continue
            for r in range(3):
                used[h.id][r] += d.size[r]
                alloc[h.cluster_id][r] += d.size[r]
            groups[h.id].add(d.anti_affinity)
            placed += 1
            if h.id not in loaded:
                opened.add(h.id)
            break
    return placed, len(opened)


@st.composite
def fleets(draw: st.DrawFn) -> tuple[list[HostCapacity], list[VMDemand], int]:
    hosts = []
    for i in range(draw(st.integers(1, 8))):
        light = draw(st.booleans())
        hosts.append(HostCapacity(
            id=i + 1, name=f"hv-{i}", cluster_id=draw(st.integers(1, 2)), vcpus=64, ram_gib=256, disk_gib=1000,
            used_vcpus=0 if light else draw(st.integers(0, 48)), used_ram_gib=0 if light else draw(st.integers(0, 200)),
            available=draw(st.booleans()) or i == 0,
            anti_affinity=frozenset(draw(st.lists(st.sampled_from(["a", "b"]), max_size=1)))))
    demands = [VMDemand(key=f"vm{j:02d}", vcpus=draw(st.integers(1, 32)), ram_gib=draw(st.integers(1, 128)),
                        disk_gib=draw(st.integers(0, 400)), anti_affinity=draw(st.sampled_from([None, None, "a", "b"])),
                        cluster_id=draw(st.sampled_from([None, None, 1, 2])))
               for j in range(draw(st.integers(0, 30)))]
    return hosts, demands, draw(st.integers(0, 1))


def _score(hosts: list[HostCapacity], demands: list[VMDemand], reserve: int) -> tuple[int, int]:
    result = place(hosts, demands, ha_reserve_hosts=reserve)
    loaded = {h.id for h in hosts if any(h.used) or h.anti_affinity}
    return len(result.assignment), len(set(result.assignment.values()) - loaded)


@SETTINGS
@given(fleets())
def test_place_is_never_worse_than_first_fit_or_first_fit_decreasing(case: tuple) -> None:
    hosts, demands, reserve = case
    placed, opened = _score(hosts, demands, reserve)
    by_size = sorted(demands, key=lambda d: (-max(d.vcpus / 64, d.ram_gib / 256, d.disk_gib / 1000), d.key))
    for order in (sorted(demands, key=lambda d: d.key), by_size):
        ff_placed, ff_opened = plain_first_fit(hosts, order, reserve)
        assert placed > ff_placed or (placed == ff_placed and opened <= ff_opened), (placed, opened, ff_placed,
                                                                                     ff_opened)


@SETTINGS
@given(st.lists(st.tuples(st.integers(1, 100), st.integers(1, 100), st.integers(0, 100)), min_size=1, max_size=60))
def test_place_on_empty_hosts_is_as_tight_as_pack(sizes: list) -> None:
    demands = [VMDemand(f"v{i:02d}", *s) for i, s in enumerate(sizes)]
    hosts = [HostCapacity(id=i + 1, name=f"h{i}", cluster_id=1, vcpus=100, ram_gib=100, disk_gib=100)
             for i in range(len(demands))]
    result = place(hosts, demands)
    assert result.ok()
    bins = pack(sorted(demands, key=lambda d: (-max(d.size), -sum(d.size), d.key)), SHAPE)
    assert len(set(result.assignment.values())) <= len(bins)
    by_host: dict[int, list[str]] = {}
    for key, hid in result.assignment.items():
        by_host.setdefault(hid, []).append(key)
    assert packing_errors(list(by_host.values()), demands, SHAPE) == []


@SETTINGS
@given(st.lists(st.tuples(st.integers(1, 100), st.integers(1, 100), st.integers(1, 100),
                          st.sampled_from([None, None, None, "g"])), min_size=1, max_size=80))
def test_pack_is_valid_and_never_worse_than_ffd(items: list) -> None:
    demands = [VMDemand(f"v{i:02d}", a, b, c, g) for i, (a, b, c, g) in enumerate(items)]
    bins = pack(demands, SHAPE)
    assert packing_errors(bins, demands, SHAPE) == []
    assert lower_bound(demands, SHAPE) <= len(bins)
    for sort in ("sum", "max", None):
        assert len(bins) <= len(first_fit(demands, SHAPE, sort=sort))


def _optimum(sizes: list[tuple[int, int, int]]) -> int:
    cap = np.array(SHAPE.capacity)
    for k in range(1, len(sizes) + 1):
        for assignment in itertools.product(range(k), repeat=len(sizes)):
            if assignment[0] != 0:
                break
            loads = np.zeros((k, 3))
            for s, b in zip(sizes, assignment, strict=True):
                loads[b] += s
            if np.all(loads <= cap):
                return k
    return 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 100), st.integers(1, 100), st.integers(1, 100)), min_size=1, max_size=7))
def test_lower_bound_never_exceeds_the_true_optimum(sizes: list) -> None:
    demands = [VMDemand(f"v{i}", *s) for i, s in enumerate(sizes)]
    assert lower_bound(demands, SHAPE) <= _optimum(sizes) <= len(pack(demands, SHAPE))


def test_l2_and_large_item_bounds_beat_the_volume_bound() -> None:
    # 6 items of 60 % vCPU: volume says 4, but no two share a host
    assert lower_bound([VMDemand(f"a{i}", 60, 10, 10) for i in range(6)], SHAPE) == 6
    # 3 items of 45 % RAM with 3 of 60 % RAM: the 45s pair up, the 60s go alone: 3 + 2 = 5 (L2 per resource
    # gives 3 + ceil(1.35 - 3 * 0.4) = 4, the conflict clique {60, 60, 60, 45} then 2 x 45 alone gives 5 at most)
    mixed = [VMDemand(f"b{i}", 10, 60, 10) for i in range(3)] + [VMDemand(f"c{i}", 10, 45, 10) for i in range(3)]
    assert 4 <= lower_bound(mixed, SHAPE) <= 5 == len(pack(mixed, SHAPE))
    # vector conflicts: (60, 10, 10) and (10, 60, 10) fit together, (60, 60, 10) fits with neither of its kind
    crossed = [VMDemand(f"d{i}", 60, 60, 10) for i in range(4)]
    assert lower_bound(crossed, SHAPE) == 4


def test_forecast_packing_rounds_the_mix_and_can_need_more_than_the_volume() -> None:
    assert year_vms([(10, 10, 10)], [30, 30, 30]) == [(10, 10, 10)] * 3
    assert year_vms([(10, 10, 10)], [34, 34, 34]) == [(10, 10, 10)] * 3  # 3.4 VMs -> 3
    assert year_vms([], [10, 0, 0]) is None and year_vms([], [0, 0, 0]) == []
    # 3 VMs of 60 % of a host: the volume says 2 hosts (180 % -> 2), the packing needs 3
    assert servers_by_packing([(60, 60, 60)] * 3, [], (100, 100, 100), 0, 2) == 3
    # with existing hosts and an HA reserve of one: placed for real
    assert servers_by_packing([(60, 60, 60)] * 2, [(100, 100, 100)], (100, 100, 100), 1, 0) == 2
    assert servers_by_packing(None, [], (100, 100, 100), 0, 2) is None
