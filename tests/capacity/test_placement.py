"""Placement engine (pure): place() onto existing hosts, pack() onto identical empty hosts, the CP-SAT polish."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcops.capacity.exact import polish
from dcops.capacity.placement import (
    HostCapacity,
    HostShape,
    VMDemand,
    allocatable,
    dot_product,
    first_fit,
    lower_bound,
    pack,
    packing_errors,
    place,
)
from dcops.exceptions import ValidationError

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def host(i: int, cpu: float = 64, ram: float = 256, disk: float = 2000, **kw) -> HostCapacity:
    return HostCapacity(id=i, name=f"hv-{i:02d}", cluster_id=kw.pop("cluster_id", 1), vcpus=cpu, ram_gib=ram,
                        disk_gib=disk, cluster_name=kw.pop("cluster_name", "prod"), **kw)


def vm(key: str, cpu: float = 4, ram: float = 8, disk: float = 50, **kw) -> VMDemand:
    return VMDemand(key=key, vcpus=cpu, ram_gib=ram, disk_gib=disk, **kw)


# --- place(): examples ------------------------------------------------------------------------------------------

def test_pack_prefers_the_busiest_host_that_has_room_and_spread_the_emptiest() -> None:
    hosts = [host(1), host(2, used_vcpus=40, used_ram_gib=100), host(3, used_vcpus=60, used_ram_gib=250)]
    assert place(hosts, [vm("a")]).assignment == {"a": 2}  # host 3 has no RAM left for 8 GiB
    assert place(hosts, [vm("a")], strategy="spread").assignment == {"a": 1}


def test_pack_opens_an_empty_host_only_when_no_loaded_host_has_room() -> None:
    hosts = [host(1), host(2, used_vcpus=62)]
    assert place(hosts, [vm("a", cpu=2)]).assignment == {"a": 2}
    assert place(hosts, [vm("a", cpu=4)]).assignment == {"a": 1}


def test_unavailable_hosts_get_nothing_and_the_reason_says_so() -> None:
    hosts = [host(1, available=False), host(2, available=False)]
    result = place(hosts, [vm("a")])
    assert not result.ok() and result.assignment == {}
    assert result.unplaced[0].key == "a"
    assert "no available host" in result.unplaced[0].reason and "2 in maintenance" in result.unplaced[0].reason


def test_reason_names_the_missing_resource_how_much_and_the_best_host() -> None:
    hosts = [host(1, cpu=64, used_vcpus=60), host(2, cpu=64, used_vcpus=56), host(3, cpu=64, available=False)]
    result = place(hosts, [vm("big", cpu=16, ram=64, disk=200, cluster_id=1)])
    reason = result.unplaced[0].reason
    assert reason == ("needs 16 vCPU, 64 GiB RAM and 200 GiB disk: no available host in cluster 'prod' has room "
                      "(1 in maintenance or not active); best host 'hv-02' lacks 8 vCPU")


def test_reason_lists_every_missing_resource() -> None:
    result = place([host(1, cpu=8, ram=16, disk=100)], [vm("a", cpu=10, ram=20, disk=50)])
    assert result.unplaced[0].reason.endswith("best host 'hv-01' lacks 2 vCPU and 4 GiB RAM")


def test_anti_affinity_counts_groups_already_on_hosts() -> None:
    hosts = [host(1, anti_affinity=frozenset({"db"})), host(2)]
    result = place(hosts, [vm("db-1", anti_affinity="db"), vm("db-2", anti_affinity="db")])
    assert result.assignment == {"db-1": 2}
    assert result.unplaced[0].key == "db-2"
    assert "anti-affinity group 'db'" in result.unplaced[0].reason


def test_cluster_requirement_and_a_cluster_without_hosts() -> None:
    hosts = [host(1, cluster_id=1), host(2, cluster_id=2, cluster_name="dev")]
    result = place(hosts, [vm("a", cluster_id=2), vm("b", cluster_id=3)])
    assert result.assignment == {"a": 2}
    assert result.unplaced[0].reason.endswith("cluster '3' has no hosts")


def test_ha_reserve_refuses_what_would_not_survive_the_largest_host_failing() -> None:
    hosts = [host(i, cpu=100, ram=1024, disk=10_000, used_vcpus=u) for i, u in ((1, 75), (2, 75), (3, 0))]
    assert place(hosts, [vm("a", cpu=50)], ha_reserve_hosts=1).ok()  # 150 + 50 <= 300 - 100
    result = place(hosts, [vm("a", cpu=60)], ha_reserve_hosts=1)
    assert result.unplaced[0].reason == \
        "HA reserve: cluster 'prod' would allocate 210 of 200 vCPU usable with its largest host failed"
    assert place(hosts, [vm("a", cpu=60)]).ok()  # without the reserve it fits


def test_ha_reserve_counts_only_available_hosts_but_all_load() -> None:
    hosts = [host(1, cpu=100, used_vcpus=30), host(2, cpu=100, used_vcpus=20), host(3, cpu=100, available=False,
                                                                                     used_vcpus=10)]
    # usable with the largest available host failed: 100 vCPU; allocated 60 already (the host in maintenance too)
    assert place(hosts, [vm("a", cpu=40)], ha_reserve_hosts=1).ok()
    result = place(hosts, [vm("a", cpu=41)], ha_reserve_hosts=1)
    assert "would allocate 101 of 100 vCPU" in result.unplaced[0].reason
    result = place(hosts, [vm("a", cpu=1)], ha_reserve_hosts=2)
    assert result.unplaced[0].reason == ("HA reserve: cluster 'prod' would allocate 61 of 0 vCPU, 8 of 0 GiB RAM and "
                                         "50 of 0 GiB disk usable with its 2 largest hosts failed")


def test_ha_reserve_is_per_cluster() -> None:
    hosts = [host(1, cpu=10, cluster_id=1), host(2, cpu=10, cluster_id=1),
             host(3, cpu=10, cluster_id=2, cluster_name="dev"), host(4, cpu=10, cluster_id=2, cluster_name="dev")]
    result = place(hosts, [vm(f"v{i}", cpu=5, ram=1, disk=1) for i in range(5)], ha_reserve_hosts=1)
    assert len(result.assignment) == 4 and len(result.unplaced) == 1
    assert sorted(result.assignment.values()).count(1) + sorted(result.assignment.values()).count(2) == 2
    assert "cluster 'prod'" in result.unplaced[0].reason and "cluster 'dev'" in result.unplaced[0].reason


def test_allocatable_follows_placement_formula() -> None:
    assert allocatable(64, 0, 4.0) == 256
    assert allocatable(512, 16, 1.0) == 496
    assert allocatable(4, 8, 2.0) == 0


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValidationError):
        place([host(1)], [vm("a"), vm("a")])
    with pytest.raises(ValidationError):
        place([host(1)], [vm("a", cpu=-1)])
    with pytest.raises(ValidationError):
        place([host(1)], [vm("a")], strategy="random")
    with pytest.raises(ValidationError):
        place([host(1), host(1)], [vm("a")])
    with pytest.raises(ValidationError):
        pack([vm("a", cpu=300)], HostShape(256, 512, 8000))


# --- place(): invariants ----------------------------------------------------------------------------------------

@st.composite
def fleets(draw: st.DrawFn) -> tuple[list[HostCapacity], list[VMDemand], int, str]:
    n_hosts = draw(st.integers(1, 8))
    groups = ["a", "b", "c"]
    hosts = []
    for i in range(n_hosts):
        cap = (draw(st.sampled_from([16, 32, 64])), draw(st.sampled_from([32, 64, 128])),
               draw(st.sampled_from([200, 500, 1000])))
        used = [draw(st.integers(0, int(c * 0.9))) for c in cap]
        hosts.append(HostCapacity(id=draw(st.integers(1, 10_000)) * 10 + i, name=f"hv-{i}",
                                  cluster_id=draw(st.integers(1, 2)), vcpus=cap[0], ram_gib=cap[1], disk_gib=cap[2],
                                  used_vcpus=used[0], used_ram_gib=used[1], used_disk_gib=used[2],
                                  available=draw(st.booleans()) or i == 0,
                                  anti_affinity=frozenset(draw(st.lists(st.sampled_from(groups), max_size=2)))))
    demands = [VMDemand(key=f"vm{j}", vcpus=draw(st.integers(1, 16)), ram_gib=draw(st.integers(1, 48)),
                        disk_gib=draw(st.integers(0, 300)), anti_affinity=draw(st.sampled_from([None, None, *groups])),
                        cluster_id=draw(st.sampled_from([None, None, 1, 2, 3])))
               for j in range(draw(st.integers(0, 25)))]
    return hosts, demands, draw(st.integers(0, 2)), draw(st.sampled_from(["pack", "spread"]))


def _ha_usable(hosts: list[HostCapacity], cluster: int, k: int) -> np.ndarray:
    caps = np.array([h.capacity for h in hosts if h.cluster_id == cluster and h.available]).reshape(-1, 3)
    return np.sort(caps, axis=0)[::-1][k:].sum(axis=0)


@SETTINGS
@given(fleets())
def test_place_never_breaks_a_rule_and_every_refusal_is_true(case: tuple) -> None:
    hosts, demands, k, strategy = case
    result = place(hosts, demands, ha_reserve_hosts=k, strategy=strategy)
    by_id = {h.id: h for h in hosts}
    size = {d.key: np.array(d.size) for d in demands}
    placed = {d.key: d for d in demands if d.key in result.assignment}
    assert set(result.assignment) | {u.key for u in result.unplaced} == {d.key for d in demands}
    assert not set(result.assignment) & {u.key for u in result.unplaced}
    load = {h.id: np.array(h.used, float) for h in hosts}
    groups = {h.id: list(h.anti_affinity) for h in hosts}
    for key, hid in result.assignment.items():
        h, d = by_id[hid], placed[key]
        assert h.available, "an unavailable host got a VM"
        assert d.cluster_id in (None, h.cluster_id)
        load[hid] += size[key]
        if d.anti_affinity:
            groups[hid].append(d.anti_affinity)
    for h in hosts:
        added = load[h.id] - np.array(h.used)
        assert np.all(added <= np.maximum(np.array(h.capacity) - np.array(h.used), 0) + 1e-9), "overcommitted"
        assert len(groups[h.id]) == len(set(groups[h.id])), "anti-affinity broken"
    before = {}
    if k:
        for c in {h.cluster_id for h in hosts}:
            usable = _ha_usable(hosts, c, k)
            start = sum((np.array(h.used) for h in hosts if h.cluster_id == c), np.zeros(3))
            after = sum((load[h.id] for h in hosts if h.cluster_id == c), np.zeros(3))
            before[c] = (start, usable)
            if np.any(after > start + 1e-9):
                assert np.all(after <= usable + 1e-9), f"HA reserve broken in cluster {c}"
    # a refused demand truly fits nowhere in the final state, and the reason says which rule stopped it
    for u in result.unplaced:
        d = next(x for x in demands if x.key == u.key)
        assert u.reason and (any(unit in u.reason for unit in ("vCPU", "GiB RAM", "GiB disk")))
        for h in hosts:
            if not h.available or d.cluster_id not in (None, h.cluster_id):
                continue
            fits = np.all(load[h.id] + size[d.key] <= np.array(h.capacity) + 1e-9)
            free_group = d.anti_affinity is None or d.anti_affinity not in groups[h.id]
            ha = True
            if k:
                after = sum((load[x.id] for x in hosts if x.cluster_id == h.cluster_id), np.zeros(3))
                ha = bool(np.all(after + size[d.key] <= before[h.cluster_id][1] + 1e-9))
            assert not (fits and free_group and ha), f"{d.key} was refused but fits {h.name}: {u.reason}"


@SETTINGS
@given(fleets(), st.randoms(use_true_random=False))
def test_place_is_deterministic_whatever_the_input_order(case: tuple, rnd: random.Random) -> None:
    hosts, demands, k, strategy = case
    first = place(hosts, demands, ha_reserve_hosts=k, strategy=strategy)
    rnd.shuffle(hosts)
    rnd.shuffle(demands)
    second = place(hosts, demands, ha_reserve_hosts=k, strategy=strategy)
    assert first == second


# --- pack(): identical empty hosts ------------------------------------------------------------------------------

SHAPE = HostShape(vcpus=16, ram_gib=32, disk_gib=100)


def naive_first_fit(demands: list[VMDemand], shape: HostShape, order: list[int]) -> list[list[str]]:
    """First fit written the plain way, item by item, for comparison."""
    bins: list[tuple[list[float], set[str], list[str]]] = []
    cap = shape.capacity
    for i in order:
        d = demands[i]
        fitting = (b for b in bins if all(r >= s / c - 1e-9 for r, s, c in zip(b[0], d.size, cap, strict=True))
                   and (d.anti_affinity is None or d.anti_affinity not in b[1]))
        rem, groups, keys = next(fitting, None) or ([1.0, 1.0, 1.0], set(), [])
        if not keys:
            bins.append((rem, groups, keys))
        for r in range(3):
            rem[r] -= d.size[r] / cap[r]
        groups.add(d.anti_affinity)
        keys.append(d.key)
    return [keys for _, _, keys in bins]


@st.composite
def demand_sets(draw: st.DrawFn, max_size: int = 40) -> list[VMDemand]:
    flavours = draw(st.lists(st.tuples(st.integers(1, 16), st.integers(1, 32), st.integers(0, 100)),
                             min_size=1, max_size=6))
    n = draw(st.integers(0, max_size))
    return [VMDemand(key=f"vm{j:03d}", vcpus=f[0], ram_gib=f[1], disk_gib=f[2],
                     anti_affinity=draw(st.sampled_from([None, None, None, "g1", "g2"])))
            for j, f in enumerate(draw(st.lists(st.sampled_from(flavours), min_size=n, max_size=n)))]


@SETTINGS
@given(demand_sets())
def test_pack_is_valid_never_below_the_lower_bound_and_never_worse_than_ff_or_ffd(demands: list[VMDemand]) -> None:
    bins = pack(demands, SHAPE)
    assert packing_errors(bins, demands, SHAPE) == []
    lb = lower_bound(demands, SHAPE)
    assert len(bins) >= lb
    for sort in (None, "sum", "max"):
        ff = first_fit(demands, SHAPE, sort=sort)
        assert packing_errors(ff, demands, SHAPE) == []
        assert len(bins) <= len(ff)
    assert packing_errors(dot_product(demands, SHAPE), demands, SHAPE) == []
    assert pack(demands, SHAPE) == bins  # deterministic


@SETTINGS
@given(demand_sets(max_size=60))
def test_first_fit_batching_of_identical_items_matches_plain_first_fit(demands: list[VMDemand]) -> None:
    assert first_fit(demands, SHAPE) == naive_first_fit(demands, SHAPE, list(range(len(demands))))
    number: dict[str, int] = {}
    for d in demands:
        if d.anti_affinity is not None:
            number.setdefault(d.anti_affinity, len(number))
    for sort in ("sum", "max"):
        def key(i: int, sort: str = sort) -> tuple:  # decreasing, ties by size, group (numbered as met), position
            norm = [s / c for s, c in zip(demands[i].size, SHAPE.capacity, strict=True)]
            return (-(sum(norm) if sort == "sum" else max(norm)), *norm, number.get(demands[i].anti_affinity, -1), i)
        order = sorted(range(len(demands)), key=key)
        assert first_fit(demands, SHAPE, sort=sort) == naive_first_fit(demands, SHAPE, order)


def test_lower_bound_takes_the_largest_of_volume_groups_and_big_items() -> None:
    shape = HostShape(10, 10, 10)
    assert lower_bound([vm(f"v{i}", 3, 1, 1) for i in range(7)], shape) == 3  # 21 vCPU / 10
    assert lower_bound([vm(f"v{i}", 1, 1, 1, anti_affinity="g") for i in range(5)], shape) == 5
    assert lower_bound([vm(f"v{i}", 6, 1, 1) for i in range(3)], shape) == 3  # 18/10 -> 2, but no two share
    assert lower_bound([], shape) == 0


def test_pack_honours_anti_affinity_and_reaches_the_bound_on_an_easy_mix() -> None:
    demands = [vm(f"db{i}", 1, 1, 1, anti_affinity="db") for i in range(4)]
    demands += [vm(f"app{i:02d}", 4, 8, 20) for i in range(16)]  # 64 vCPU = 4 hosts of 16
    bins = pack(demands, SHAPE)
    assert packing_errors(bins, demands, SHAPE) == []
    assert len(bins) == lower_bound(demands, SHAPE) == 5  # 68 vCPU


def test_pack_beats_ffd_when_sorting_groups_vms_that_exhaust_the_same_resource() -> None:
    shape = HostShape(100, 100, 100)
    demands = [vm(f"c{i:02d}", 50, 10, 10) for i in range(20)] + [vm(f"r{i:02d}", 10, 50, 10) for i in range(20)]
    demands += [vm(f"d{i:02d}", 10, 10, 50) for i in range(20)]  # at best one of each kind per host: 20 hosts
    bins = pack(demands, shape)
    assert packing_errors(bins, demands, shape) == []
    assert len(bins) == 20 < len(first_fit(demands, shape, sort="sum")) == 30


# --- exact polish -----------------------------------------------------------------------------------------------

def brute_force_min_hosts(demands: list[VMDemand], shape: HostShape) -> int:
    """The fewest hosts by trying every assignment onto k hosts, k = 1, 2, ..."""
    cap = np.array(shape.capacity)
    for k in range(1, len(demands) + 1):
        for assignment in itertools.product(range(k), repeat=len(demands)):
            if assignment and assignment[0] != 0:
                break
            loads = np.zeros((k, 3))
            groups: list[set] = [set() for _ in range(k)]
            ok = True
            for d, b in zip(demands, assignment, strict=True):
                loads[b] += d.size
                if d.anti_affinity and d.anti_affinity in groups[b]:
                    ok = False
                groups[b].add(d.anti_affinity)
            if ok and np.all(loads <= cap + 1e-9):
                return k
    return 0


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9), st.sampled_from([None, "g"])),
                min_size=1, max_size=7))
def test_exact_polish_finds_the_true_optimum_on_small_instances(items: list) -> None:
    shape = HostShape(10, 10, 10)
    demands = [VMDemand(f"v{i}", a, b, c, g) for i, (a, b, c, g) in enumerate(items)]
    result = polish(demands, shape, time_limit=20, workers=1)
    assert packing_errors(result.bins, demands, shape) == []
    assert result.optimal, result.status
    assert len(result.bins) == brute_force_min_hosts(demands, shape)
    assert result.proven_bound == len(result.bins)


def test_exact_polish_improves_a_heuristic_start_and_proves_it() -> None:
    shape = HostShape(10, 10, 10)
    # a start of 3 hosts where 2 suffice: {6,4} twice in vCPU; the start pairs 6 with 6 badly
    demands = [vm("a", 6, 1, 1), vm("b", 6, 1, 1), vm("c", 4, 1, 1), vm("d", 4, 1, 1)]
    result = polish(demands, shape, start=[["a"], ["b"], ["c", "d"]], workers=1)
    assert result.status in ("OPTIMAL", "BOUND") and len(result.bins) == 2 and result.start_hosts == 3
    assert packing_errors(result.bins, demands, shape) == []
    assert math.isfinite(result.seconds)
