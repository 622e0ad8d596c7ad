"""Rebalance planner (pure): every step feasible in order, the end state valid, no more hosts used."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcops.capacity.placement import HostCapacity, VMDemand, place
from dcops.capacity.rebalance import plan_rebalance, rebalance, violations
from dcops.exceptions import ValidationError

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def host(i: int, cpu: float = 32, ram: float = 64, disk: float = 1000, **kw) -> HostCapacity:
    return HostCapacity(id=i, name=f"hv-{i}", cluster_id=kw.pop("cluster_id", 1), vcpus=cpu, ram_gib=ram,
                        disk_gib=disk, **kw)


def vm(key: str, cpu: float = 4, ram: float = 8, disk: float = 50, **kw) -> VMDemand:
    return VMDemand(key=key, vcpus=cpu, ram_gib=ram, disk_gib=disk, **kw)


def replay(hosts, placements, vms, migrations):
    """Apply the migrations one by one, checking each is possible right then; return the end state."""
    by_id = {h.id: h for h in hosts}
    load = {h.id: np.array(h.used, float) for h in hosts}
    groups = {h.id: Counter(h.anti_affinity) for h in hosts}
    where = dict(placements)
    for key, hid in where.items():
        load[hid] += vms[key].size
        groups[hid][vms[key].anti_affinity] += 1
    for m in migrations:
        d, target = vms[m.vm_key], by_id[m.to_host]
        assert where[m.vm_key] == m.from_host != m.to_host, m
        assert target.available, f"{m} targets an unavailable host"
        assert np.all(load[m.to_host] + d.size <= np.array(target.capacity) + 1e-9), f"{m}: no room"
        assert d.anti_affinity is None or groups[m.to_host][d.anti_affinity] == 0, f"{m}: anti-affinity"
        assert target.cluster_id == (d.cluster_id if d.cluster_id is not None else by_id[m.from_host].cluster_id)
        assert m.reason
        load[m.from_host] -= d.size
        groups[m.from_host][d.anti_affinity] -= 1
        load[m.to_host] += d.size
        groups[m.to_host][d.anti_affinity] += 1
        where[m.vm_key] = m.to_host
    return where


def broken(hosts, where, vms) -> list[str]:
    """Rules the state breaks, counted independently of the planner."""
    out = []
    for h in hosts:
        mine = [k for k, hid in where.items() if hid == h.id]
        load = np.array(h.used, float) + sum((np.array(vms[k].size) for k in mine), np.zeros(3))
        if mine and not h.available:
            out.append(f"VMs on unavailable {h.name}")
        if np.any(load > np.array(h.capacity) + 1e-9):
            out.append(f"{h.name} overcommitted")
        groups = [vms[k].anti_affinity for k in mine if vms[k].anti_affinity] + list(h.anti_affinity)
        if len(groups) != len(set(groups)):
            out.append(f"anti-affinity on {h.name}")
    return out


def hosts_used(hosts, where) -> int:
    return sum(1 for h in hosts if h.id in where.values() or any(h.used) or h.anti_affinity)


# --- examples ---------------------------------------------------------------------------------------------------

def test_drains_the_least_loaded_host_onto_the_others() -> None:
    hosts = [host(1), host(2), host(3)]
    vms = {"a": vm("a"), "b": vm("b"), "c": vm("c"), "d": vm("d"), "e": vm("e", cpu=2)}
    placements = {"a": 1, "b": 1, "c": 2, "d": 2, "e": 3}
    plan = rebalance(hosts, placements, vms)
    assert plan.freed_hosts[0] == 3 and plan.migrations[0].vm_key == "e"
    assert plan.migrations[0].reason == "drain 'hv-3' to free it"
    where = replay(hosts, placements, vms, plan.migrations)
    assert broken(hosts, where, vms) == []
    assert plan.hosts_used_before == 3 and plan.hosts_used_after == hosts_used(hosts, where) == 1
    assert plan_rebalance(hosts, placements, vms) == plan.migrations


def test_never_drains_onto_an_empty_host_nor_a_host_with_pinned_load() -> None:
    hosts = [host(1), host(2, used_vcpus=30), host(3)]
    vms = {"a": vm("a", cpu=20), "b": vm("b", cpu=20)}
    placements = {"a": 1}
    assert plan_rebalance(hosts, placements, vms) == []  # 2 has no room, 3 is empty: nothing gained
    plan = rebalance([host(1), host(2, used_vcpus=10)], placements, vms)
    assert [(m.vm_key, m.to_host) for m in plan.migrations] == [("a", 2)] and plan.freed_hosts == [1]


def test_fix_moves_vms_off_maintenance_splits_groups_and_relieves_overcommit() -> None:
    hosts = [host(1, available=False), host(2, cpu=16), host(3), host(4)]
    vms = {"m1": vm("m1"), "db1": vm("db1", anti_affinity="db"), "db2": vm("db2", anti_affinity="db"),
           "x1": vm("x1", cpu=10), "x2": vm("x2", cpu=10)}
    placements = {"m1": 1, "db1": 3, "db2": 3, "x1": 2, "x2": 2}
    assert len(violations(hosts, placements, vms)) == 3
    plan = rebalance(hosts, placements, vms, goal="fix")
    reasons = [m.reason for m in plan.migrations]
    assert reasons == ["'hv-1' is in maintenance or not active", "anti-affinity group 'db' is 2 times on 'hv-3'",
                       "'hv-2' is overcommitted by 4 vCPU"]
    where = replay(hosts, placements, vms, plan.migrations)
    assert broken(hosts, where, vms) == [] and plan.unresolved == []
    assert violations(hosts, where, vms) == []


def test_fix_reports_what_it_cannot_fix() -> None:
    hosts = [host(1, available=False), host(2, cpu=4, used_vcpus=4)]
    vms = {"a": vm("a")}
    plan = rebalance(hosts, {"a": 1}, vms, goal="fix")
    assert plan.migrations == []
    assert plan.unresolved == ["a stays on 'hv-1' (in maintenance or not active): no available host in its cluster "
                               "has room for 4 vCPU, 8 GiB RAM and 50 GiB disk"]


def test_vms_stay_in_their_cluster_unless_allowed_to_cross() -> None:
    hosts = [host(1, cluster_id=1), host(2, cluster_id=2)]
    vms = {"a": vm("a"), "b": vm("b")}
    assert plan_rebalance(hosts, {"a": 1, "b": 2}, vms) == []
    moves = plan_rebalance(hosts, {"a": 1, "b": 2}, vms, cross_cluster=True)
    assert [(m.vm_key, m.from_host, m.to_host) for m in moves] == [("a", 1, 2)]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValidationError):
        rebalance([host(1)], {"a": 9}, {"a": vm("a")})
    with pytest.raises(ValidationError):
        rebalance([host(1)], {"zz": 1}, {"a": vm("a")})
    with pytest.raises(ValidationError):
        rebalance([host(1)], {}, {}, goal="shuffle")


# --- invariants -------------------------------------------------------------------------------------------------

@st.composite
def valid_states(draw: st.DrawFn):
    hosts = [HostCapacity(id=i + 1, name=f"hv-{i + 1}", cluster_id=draw(st.integers(1, 2)),
                          vcpus=draw(st.sampled_from([16, 32, 64])), ram_gib=draw(st.sampled_from([32, 64, 128])),
                          disk_gib=draw(st.sampled_from([300, 1000])),
                          used_vcpus=draw(st.sampled_from([0, 0, 0, 2])),
                          anti_affinity=frozenset(draw(st.lists(st.sampled_from(["a", "b"]), max_size=1))))
             for i in range(draw(st.integers(1, 7)))]
    demands = [VMDemand(key=f"vm{j:02d}", vcpus=draw(st.integers(1, 12)), ram_gib=draw(st.integers(1, 32)),
                        disk_gib=draw(st.integers(0, 200)), anti_affinity=draw(st.sampled_from([None, None, "a", "b"])),
                        cluster_id=draw(st.sampled_from([None, None, 1, 2])))
               for j in range(draw(st.integers(0, 30)))]
    placed = place(hosts, demands, strategy="spread").assignment
    return hosts, placed, {d.key: d for d in demands}


@SETTINGS
@given(valid_states())
def test_free_hosts_plan_is_feasible_step_by_step_and_never_uses_more_hosts(state) -> None:
    hosts, placements, vms = state
    assert broken(hosts, placements, vms) == []
    plan = rebalance(hosts, placements, vms)
    where = replay(hosts, placements, vms, plan.migrations)
    assert broken(hosts, where, vms) == []
    assert plan.unresolved == []
    assert hosts_used(hosts, where) == plan.hosts_used_after <= plan.hosts_used_before == hosts_used(hosts, placements)
    assert plan.hosts_used_before - plan.hosts_used_after == len(plan.freed_hosts)
    assert all(h not in where.values() for h in plan.freed_hosts)
    assert rebalance(hosts, placements, vms) == plan  # deterministic


@st.composite
def messy_states(draw: st.DrawFn):
    hosts = [HostCapacity(id=i + 1, name=f"hv-{i + 1}", cluster_id=1, vcpus=draw(st.sampled_from([16, 32])),
                          ram_gib=64, disk_gib=500, available=draw(st.booleans()) or i == 0,
                          anti_affinity=frozenset(draw(st.lists(st.sampled_from(["a", "b"]), max_size=1))))
             for i in range(draw(st.integers(1, 6)))]
    vms = {f"vm{j:02d}": VMDemand(key=f"vm{j:02d}", vcpus=draw(st.integers(1, 12)), ram_gib=draw(st.integers(1, 24)),
                                  disk_gib=draw(st.integers(0, 100)),
                                  anti_affinity=draw(st.sampled_from([None, None, "a", "b"])))
           for j in range(draw(st.integers(0, 20)))}
    placements = {k: draw(st.sampled_from([h.id for h in hosts])) for k in vms}
    return hosts, placements, vms


@SETTINGS
@given(messy_states(), st.sampled_from(["fix", "free-hosts"]))
def test_fix_plan_is_feasible_and_fixes_everything_it_does_not_report(state, goal: str) -> None:
    hosts, placements, vms = state
    plan = rebalance(hosts, placements, vms, goal=goal)
    where = replay(hosts, placements, vms, plan.migrations)
    left = broken(hosts, where, vms)
    assert bool(left) == bool(plan.unresolved), (left, plan.unresolved)
    assert bool(violations(hosts, where, vms)) == bool(left)
