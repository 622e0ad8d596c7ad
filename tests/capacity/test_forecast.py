"""The pure forecast: capacity units, the HA-reserve rule, room checks, growth, and what-if monotonicity."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcops.capacity.forecast import (
    AgencyDemand,
    ExistingHost,
    Growth,
    PlanInput,
    RackSpace,
    Ratios,
    ServerModel,
    Vector,
    host_capacity,
    new_servers_for,
    plan,
    server_slots,
    usable,
)
from dcops.capacity.planning import historical_growth
from dcops.exceptions import ValidationError

SMALL = ServerModel("small", "Small 1U", cpu_threads=64, ram_gib=512, storage_tb=8, u_height=1, max_power_w=500,
                    price_idr=350_000_000)
BIG = ServerModel("big", "Big 2U", cpu_threads=96, ram_gib=1024, storage_tb=15.36, u_height=2, max_power_w=800,
                  price_idr=520_000_000)


def _input(agencies, *, model=BIG, existing=(), racks=(), reserve=1, years=3, ratios=Ratios()):
    return PlanInput(agencies=list(agencies), model=model, ratios=ratios, ha_reserve_hosts=reserve,
                     existing=[ExistingHost(f"hv-{i}", m) for i, m in enumerate(existing)], racks=list(racks),
                     baseline_year=2026, years=years)


def test_host_capacity_units_are_explicit():
    cap = host_capacity(SMALL, Ratios(vcpu_ratio=4, ram_ratio=1, disk_ratio=1))
    assert cap == {"vcpus": 256, "ram_gib": 512, "disk_gib": 7450}  # 8 TB = 8e12 B = 7450.58 GiB, floored
    assert host_capacity(BIG, Ratios(2.5, 1.5, 2))["vcpus"] == 240
    assert host_capacity(BIG, Ratios(2.5, 1.5, 2))["ram_gib"] == 1536
    assert host_capacity(BIG, Ratios(2.5, 1.5, 2))["disk_gib"] == math.floor(15.36e12 / 2**30 * 2)


def test_without_existing_hosts_the_count_is_the_textbook_lower_bound_plus_reserve():
    for demand in (0, 1, 255, 256, 257, 10_000):
        for reserve in (0, 1, 2):
            expected = math.ceil(demand / 256) + reserve if demand else 0
            assert new_servers_for(demand, [], 256, reserve) == expected, (demand, reserve)


def test_existing_hosts_count_with_their_own_capacity():
    # Two small hosts (256 vCPU each) and big new ones (384 vCPU), N+1.
    assert usable([256, 256], 384, 0, 1) == 256
    assert new_servers_for(256, [256, 256], 384, 1) == 0
    assert new_servers_for(257, [256, 256], 384, 1) == 1  # 512 + 384 - 384 = 512
    assert new_servers_for(512, [256, 256], 384, 1) == 1
    assert new_servers_for(513, [256, 256], 384, 1) == 2
    # New servers smaller than the existing: the largest existing host is the one held in reserve.
    assert usable([1000], 100, 3, 1) == 300
    assert new_servers_for(301, [1000], 100, 1) == 4
    assert new_servers_for(5, [], 0, 1) is None


@given(existing=st.lists(st.integers(0, 2000), max_size=6), new_cap=st.integers(1, 1500),
       demand=st.integers(0, 20_000), reserve=st.integers(0, 3))
@settings(max_examples=300, deadline=None)
def test_new_server_count_is_the_least_that_carries_the_demand(existing, new_cap, demand, reserve):
    k = new_servers_for(demand, existing, new_cap, reserve)

    def brute_usable(n):
        caps = sorted(existing + [new_cap] * n, reverse=True)
        return sum(caps) - sum(caps[:reserve])

    assert brute_usable(k) >= demand
    assert k == 0 or brute_usable(k - 1) < demand


def test_growth_percent_and_absolute():
    base = Vector(100, 200, 1000)
    assert Growth(percent=10).project(base, 2) == Vector(pytest.approx(121), pytest.approx(242), pytest.approx(1210))
    assert Growth(percent=-100).project(base, 1) == Vector(0, 0, 0)
    grown = Growth(percent=None, added=Vector(8, 16, -2000)).project(base, 3)
    assert grown == Vector(124, 248, 0)  # never below zero


def test_a_plan_year_by_year_with_purchases_cost_room_and_binding():
    agencies = [AgencyDemand("DINKES", "Dinas Kesehatan", Vector(300, 800, 20000), Growth(percent=50)),
                AgencyDemand("DISDIK", "Dinas Pendidikan", Vector(100, 300, 2000), Growth(percent=None,
                                                                                       added=Vector(40, 200, 0)))]
    racks = [RackSpace("A01", 10, frozenset({(1, "front"), (1, "rear"), (2, "front")}), 3000, 500),
             RackSpace("A02", 4, frozenset(), 1000, 0)]
    result = plan(_input(agencies, existing=[SMALL, SMALL], racks=racks))
    cap_small, cap_big = host_capacity(SMALL, Ratios()), host_capacity(BIG, Ratios())
    previous = 0
    for i, year in enumerate(result.fiscal_years, start=1):
        exact = {"vcpus": 300 * 1.5**i + 100 + 40 * i, "ram_gib": 800 * 1.5**i + 300 + 200 * i,
                 "disk_gib": 20000 * 1.5**i + 2000}
        demand = {r: math.ceil(round(v, 6)) for r, v in exact.items()}
        assert year.demand == demand
        need = {r: 0 if demand[r] <= cap_small[r] else 1 + max(0, math.ceil((demand[r] - 2 * cap_small[r])
                                                                             / cap_big[r])) for r in demand}
        total = max(previous, max(need.values()))
        assert year.new_servers_total == total and year.hosts_total == 2 + total
        assert year.servers_to_buy == total - previous
        assert year.cost_idr == (total - previous) * 520_000_000
        assert year.binding_resource == max(need, key=lambda r: (need[r], -list(need).index(r)))
        # A01: free 2U slots in U3-U10 (U2 front taken) = 4, power (3000-500)//800 = 3; A02: 2 slots, 1 by power.
        assert year.servers_room_holds == 3 + 1
        assert year.room_holds == (total <= 4)
        assert year.space_holds == (total <= 6)
        assert year.power_holds == (total * 800 <= 3500)
        assert year.power_kw_short == pytest.approx(max(0, total * 800 - 3500) / 1000)
        assert year.servers_unplaceable == max(0, total - 4)
        previous = total
    assert result.totals["servers_to_buy"] == previous
    assert result.totals["cost_idr"] == sum(y.cost_idr for y in result.fiscal_years)
    assert not result.fiscal_years[-1].room_holds  # the scenario runs out of room by year 3


def test_rack_slots_pack_from_the_bottom_and_respect_depth():
    rack = RackSpace("R", 10, frozenset({(3, "front"), (7, "rear")}), 0, 0)
    assert server_slots(rack, BIG) == 3  # U1-2, U4-5, U8-9 (full depth: U3 front and U7 rear block)
    half = ServerModel("h", "Half", 8, 8, 1, 2, 100, 1, is_full_depth=False)
    assert server_slots(rack, half) == 4  # front only: U1-2, U4-5, U6-7, U8-9


def test_years_out_of_range_and_a_model_without_cpu_are_refused():
    agencies = [AgencyDemand("A", "A", Vector(1, 1, 1), Growth())]
    for years in (0, 11):
        with pytest.raises(ValidationError) as err:
            plan(_input(agencies, years=years))
        assert err.value.field == "years"
    no_cpu = ServerModel("nas", "NAS", 0, 64, 100, 2, 300, 1)
    with pytest.raises(ValidationError) as err:
        plan(_input(agencies, model=no_cpu))
    assert err.value.field == "model"


agency_st = st.builds(
    lambda v, r, d: Vector(v, r, d), st.integers(0, 400), st.integers(0, 2000), st.integers(0, 20_000))


@given(bases=st.lists(agency_st, min_size=1, max_size=8), low=st.floats(-100, 300), extra=st.floats(0, 300),
       reserve=st.integers(0, 2), existing=st.integers(0, 3), years=st.integers(1, 5))
@settings(max_examples=150, deadline=None)
def test_more_growth_never_needs_fewer_servers(bases, low, extra, reserve, existing, years):
    def servers(percent):
        agencies = [AgencyDemand(f"A{i}", f"A{i}", b, Growth(percent=percent)) for i, b in enumerate(bases)]
        result = plan(_input(agencies, existing=[SMALL] * existing, reserve=reserve, years=years))
        return [y.new_servers_total for y in result.fiscal_years], result.totals["cost_idr"]

    (fewer, cost_low), (more, cost_high) = servers(low), servers(min(1000.0, low + extra))
    assert all(a <= b for a, b in zip(fewer, more, strict=True))
    assert cost_low <= cost_high


@given(bases=st.lists(agency_st, min_size=1, max_size=6), ratio=st.floats(1, 8), extra=st.floats(0, 8),
       reserve=st.integers(0, 3), more_reserve=st.integers(0, 2))
@settings(max_examples=100, deadline=None)
def test_higher_ratios_never_need_more_servers_and_more_reserve_never_fewer(bases, ratio, extra, reserve,
                                                                            more_reserve):
    agencies = [AgencyDemand(f"A{i}", f"A{i}", b, Growth(percent=20)) for i, b in enumerate(bases)]

    def total(r, res):
        return plan(_input(agencies, existing=[SMALL], reserve=res, ratios=Ratios(r, 1, 1))).totals["servers_to_buy"]

    assert total(ratio + extra, reserve) <= total(ratio, reserve)
    assert total(ratio, reserve + more_reserve) >= total(ratio, reserve)


def test_history_growth_takes_the_oldest_year_with_data():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    old = now - timedelta(days=3 * 366)
    recent = now - timedelta(days=30)
    rows = [(old, Vector(10, 20, 100)), (recent, Vector(10, 20, 100))]
    # Doubled in three years: 2 ** (1/3) - 1 = 26.0 %
    assert historical_growth(rows, now) == pytest.approx(26.0)
    assert historical_growth([(recent, Vector(4, 8, 40))], now) is None
    one_year = now - timedelta(days=400)
    assert historical_growth([(one_year, Vector(1, 1, 1)), (recent, Vector(10, 10, 10))], now) == 100.0  # capped
