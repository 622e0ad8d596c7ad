"""The budget plan through the API and the CLI: the city case, bad input, access control and what-if."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import dcops.capacity.plan_models  # noqa: F401  (its table is emptied between tests with the others)

PLAN = "/api/v1/capacity/plan"
FLAVOURS = [(2, 4, 50), (4, 8, 100), (8, 32, 200), (16, 64, 500), (4, 16, 80)]
OLD = {"vcpus": 64 * 4, "ram_gib": 512, "disk_gib": 8 * 10**12 // 2**30}  # 7450 GiB
NEW = {"vcpus": 96 * 4, "ram_gib": 1024, "disk_gib": 1536 * 10**10 // 2**30}  # 14305 GiB
NEW_PRICE = 520_000_000


@pytest.fixture
def plan_client(app):
    """A client on the app; the capacity router serves the plan under /api/v1/capacity/plan."""
    from fastapi.testclient import TestClient

    assert PLAN in app.openapi()["paths"], "the plan routes are not mounted"
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def city(factory, session) -> dict[str, Any]:
    """A city's data center: 2 active hypervisors and 49 agencies' VMs (plus what must not count)."""
    site = factory.site(name="DC Kota")
    cluster = factory.cluster(name="KLASTER-KOTA", site_id=site.id, vcpu_ratio=4.0, ram_ratio=1.0, disk_ratio=1.0,
                              ha_reserve_hosts=1)
    old = factory.device_type(model="Old 1U", slug="old-1u", cpu_threads=64, ram_gib=512, storage_tb=8, u_height=1,
                              max_power_w=500)
    factory.device_type(model="Rack Server X2", slug="rack-x2", cpu_cores=48, cpu_threads=96, ram_gib=1024,
                        storage_tb=15.36, u_height=2, max_power_w=800, price_idr=NEW_PRICE)
    factory.device_type(model="Switch 48", slug="switch-48", cpu_sockets=0, cpu_cores=0, cpu_threads=0, ram_gib=0,
                        storage_tb=0)
    k01 = factory.rack(site=site, name="K01", power_budget_w=5000)
    factory.rack(site=site, name="K02", power_budget_w=1000)
    for n, status in ((1, "active"), (2, "active"), (3, "maintenance")):
        factory.device(rack=k01, dtype=old, name=f"hv-kota-{n:02d}", role="hypervisor", position=n,
                       cluster_id=cluster.id, status=status)
    agencies = [factory.agency(code=f"OPD{i:02d}", name=f"Perangkat Daerah {i:02d}") for i in range(1, 50)]
    demand: dict[str, list[int]] = {}
    for i, agency in enumerate(agencies):
        total = [0, 0, 0]
        for j in range(1 + i % 4):
            v, r, d = FLAVOURS[(i + j) % len(FLAVOURS)]
            factory.vm(agency, cluster, vcpus=v, ram_gib=r, disk_gib=d, state="running")
            total = [total[0] + v, total[1] + r, total[2] + d]
        demand[agency.code] = total
    # Not demand: a decommissioned and a failed VM, and a VM of another cluster.
    factory.vm(agencies[0], cluster, vcpus=64, ram_gib=256, disk_gib=4000, state="decommissioned")
    factory.vm(agencies[1], cluster, vcpus=64, ram_gib=256, disk_gib=4000, state="failed")
    factory.vm(agencies[2], factory.cluster(name="KLASTER-LAIN"), vcpus=64, ram_gib=256, disk_gib=4000)
    session.commit()
    return {"cluster": cluster, "agencies": agencies, "demand": demand}


def project(base: list[int], growth: dict[str, float] | float, years: int) -> list[float]:
    """An agency's demand after ``years``, from the growth assumption (percent, or amounts per year)."""
    if isinstance(growth, dict):
        return [max(0.0, b + years * growth[k]) for b, k in zip(base, ("vcpus", "ram_gib", "disk_gib"), strict=True)]
    return [max(0.0, b * (1 + growth / 100) ** years) for b in base]


def expected_years(demand: dict[str, list[int]], growth: dict[str, Any], years: int) -> list[dict[str, Any]]:
    """Recompute the plan independently: per resource, the least fleet that carries the demand without its
    largest host (N+1). The new model is larger than the old on every resource, so with k >= 1 new servers the
    largest host is a new one: 2 * OLD + (k - 1) * NEW >= demand; with none, one OLD host remains."""
    rows, previous = [], 0
    for i in range(1, years + 1):
        grown = [project(base, growth[code], i) for code, base in demand.items()]
        total = {r: math.ceil(round(sum(g[n] for g in grown), 6)) for n, r in enumerate(("vcpus", "ram_gib",
                                                                                            "disk_gib"))}
        lower = {r: 0 if total[r] <= OLD[r] else 1 + max(0, math.ceil((total[r] - 2 * OLD[r]) / NEW[r]))
                 for r in total}
        new_total = max(previous, *lower.values())
        rows.append({"demand": total, "lower": lower, "new_total": new_total, "buy": new_total - previous})
        previous = new_total
    return rows


# K01: U1-U3 taken by three 1U hosts, 39 free units -> 19 slots of 2U, power (5000 - 1500) // 800 = 4 servers;
# K02: 21 slots, 1000 // 800 = 1 server. The room holds 5 new servers; power headroom 4.5 kW.
ROOM_HOLDS, SLOTS, HEADROOM_W = 5, 40, 4500


def test_city_case_three_year_plan_matches_an_independent_lower_bound(plan_client, tokens, city):
    overrides = {"OPD01": {"percent": 100}, "OPD02": {"vcpus_per_year": 16, "ram_gib_per_year": 64,
                                                      "disk_gib_per_year": 500}}
    response = plan_client.post(PLAN, headers=tokens.headers("planner"),
                                json={"years": 3, "model": "rack-x2", "agency_growth": overrides})
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["cluster"] == "KLASTER-KOTA"  # the cluster with the most active hypervisors
    assert [h["name"] for h in plan["existing_hosts"]] == ["hv-kota-01", "hv-kota-02"]  # not the one in maintenance
    assert plan["per_new_server"] == NEW
    assert len(plan["agencies"]) == 49
    assert plan["baseline_demand"] == {r: sum(d[n] for d in city["demand"].values())
                                       for n, r in enumerate(("vcpus", "ram_gib", "disk_gib"))}
    growth: dict[str, Any] = {code: 20.0 for code in city["demand"]}
    growth["OPD01"] = 100.0
    growth["OPD02"] = {"vcpus": 16, "ram_gib": 64, "disk_gib": 500}
    expected = expected_years(city["demand"], growth, 3)
    assert len(plan["fiscal_years"]) == 3
    previous = 0
    for year, exp, fy in zip(plan["fiscal_years"], expected, (1, 2, 3), strict=True):
        assert year["fiscal_year"] == plan["baseline_year"] + fy
        assert year["demand"] == exp["demand"]
        assert {r["resource"]: r["new_servers_needed"] for r in year["resources"]} == exp["lower"]
        # the volume rule is a lower bound; the VMs placed for real may need more, and then the packing decides
        assert year["servers_by_volume"] == max(exp["lower"].values())
        packed = year["servers_by_packing"]
        assert packed is not None and packed >= year["servers_by_volume"]
        assert year["decided_by"] == ("packing" if packed > year["servers_by_volume"] else "volume")
        exp["new_total"] = max(previous, packed)
        exp["buy"], previous = exp["new_total"] - previous, exp["new_total"]
        assert year["new_servers_total"] == exp["new_total"]
        assert year["hosts_total"] == 2 + exp["new_total"]
        assert year["servers_to_buy"] == exp["buy"]
        assert year["cost_idr"] == exp["buy"] * NEW_PRICE
        assert year["rack_units_needed"] == 2 * exp["buy"]
        assert year["power_kw_needed"] == pytest.approx(0.8 * exp["buy"])
        assert year["binding_resource"] == max(exp["lower"], key=lambda r: exp["lower"][r])
        assert year["servers_room_holds"] == ROOM_HOLDS
        assert year["room_holds"] == (exp["new_total"] <= ROOM_HOLDS)
        assert year["space_holds"] == (exp["new_total"] <= SLOTS)
        assert year["power_holds"] == (exp["new_total"] * 800 <= HEADROOM_W)
        assert year["servers_unplaceable"] == max(0, exp["new_total"] - ROOM_HOLDS)
        assert year["rack_units_free"] == SLOTS * 2
        assert year["power_kw_free"] == pytest.approx(HEADROOM_W / 1000)
    assert plan["totals"]["servers_to_buy"] == expected[-1]["new_total"] > 0
    assert plan["totals"]["cost_idr"] == expected[-1]["new_total"] * NEW_PRICE
    assert not plan["fiscal_years"][-1]["room_holds"]  # by year 3 the room is short: the plan says by how much
    opd02 = next(a for a in plan["agencies"] if a["code"] == "OPD02")
    assert opd02["growth_source"] == "override" and opd02["growth_added"]["vcpus"] == 16


def test_default_growth_and_get_equals_post(plan_client, tokens, city):
    headers = tokens.headers("auditor")
    got = plan_client.get(PLAN, params={"years": 2, "model": "Rack Server X2"}, headers=headers)
    posted = plan_client.post(PLAN, json={"years": 2, "model": "rack-x2"}, headers=headers)
    assert got.status_code == posted.status_code == 200, got.text
    assert got.json() == posted.json()
    expected = expected_years(city["demand"], {code: 20.0 for code in city["demand"]}, 2)
    assert [y["new_servers_total"] for y in got.json()["fiscal_years"]] == [e["new_total"] for e in expected]
    assert {a["growth_source"] for a in got.json()["agencies"]} == {"default"}  # every VM is new: no history


def test_history_sets_the_default_growth(plan_client, tokens, factory, session):
    from dcops.database import utcnow
    from dcops.virtualization.models import VirtualMachine

    cluster = factory.cluster(name="K")
    factory.device_type(slug="rack-x2", model="X2")
    agency = factory.agency(code="DINKES", name="Dinas Kesehatan")
    old = factory.vm(agency, cluster, vcpus=4, ram_gib=8, disk_gib=100)
    factory.vm(agency, cluster, vcpus=4, ram_gib=8, disk_gib=100)
    factory.vm(agency, cluster, vcpus=8, ram_gib=16, disk_gib=200)
    row = session.get(VirtualMachine, old.id)
    row.created_at = utcnow() - timedelta(days=2 * 366)  # 4 vCPU two years ago, 16 now: doubled each year
    session.commit()
    plan = plan_client.get(PLAN, params={"model": "rack-x2"}, headers=tokens.headers("planner")).json()
    assert plan["agencies"][0]["growth_source"] == "history"
    assert plan["agencies"][0]["growth_percent"] == pytest.approx(100.0)
    assert plan["fiscal_years"][0]["demand"]["vcpus"] == 32
    what_if = plan_client.get(PLAN, params={"model": "rack-x2", "growth_percent": 0},
                              headers=tokens.headers("planner")).json()
    assert what_if["agencies"][0]["growth_source"] == "what-if"
    assert what_if["fiscal_years"][-1]["demand"]["vcpus"] == 16


@pytest.mark.parametrize("params, field", [
    ({"model": "nope"}, "model"),
    ({"model": "switch-48"}, "model"),
    ({"model": "rack-x2", "years": 0}, "years"),
    ({"model": "rack-x2", "years": 11}, "years"),
    ({"model": "rack-x2", "growth_percent": -100.5}, "growth_percent"),
    ({"model": "rack-x2", "cluster": "NOPE"}, "cluster"),
    ({"model": "rack-x2", "vcpu_ratio": 0}, "vcpu_ratio"),
])
def test_bad_query_is_422_naming_the_field(plan_client, tokens, city, params, field):
    response = plan_client.get(PLAN, params=params, headers=tokens.headers("planner"))
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]


@pytest.mark.parametrize("body, field", [
    ({"model": "rack-x2", "agency_growth": {"OPD01": {"percent": -120}}}, "agency_growth"),
    ({"model": "rack-x2", "agency_growth": {"NOPE": {"percent": 10}}}, "agency_growth"),
    ({"model": "rack-x2", "agency_growth": {"OPD01": {"percent": 10, "vcpus_per_year": 4}}}, "agency_growth"),
    ({"model": "rack-x2", "years": 12}, "years"),
    ({"years": 3}, "model"),
])
def test_bad_body_is_422_naming_the_field(plan_client, tokens, city, body, field):
    response = plan_client.post(PLAN, json=body, headers=tokens.headers("planner"))
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]


@pytest.mark.parametrize("body, field", [
    ({"models": []}, "models"),
    ({"models": [""]}, "models"),
    ({"models": ["rack-x2", "nope"]}, "model"),
])
def test_bad_comparison_is_422_naming_the_field(plan_client, tokens, city, body, field):
    response = plan_client.post(f"{PLAN}/compare", json=body, headers=tokens.headers("planner"))
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]


def test_unknown_export_format_is_422(plan_client, tokens, city):
    response = plan_client.get(f"{PLAN}/export", params={"model": "rack-x2", "format": "pdf"},
                               headers=tokens.headers("planner"))
    assert response.status_code == 422 and "format" in response.json()["detail"]


def test_who_may_read_and_export_the_plan(plan_client, tokens, city):
    agency_id = city["agencies"][0].id
    params = {"model": "rack-x2", "years": 1}
    for role in ("admin", "operator", "planner", "auditor"):
        headers = tokens.headers(role)
        assert plan_client.get(PLAN, params=params, headers=headers).status_code == 200, role
        exported = plan_client.get(f"{PLAN}/export", params=params | {"format": "csv"}, headers=headers)
        assert exported.status_code == 200, role
    for role, agency in (("oncall", None), ("agency-viewer", agency_id)):
        headers = tokens.headers(role, agency)
        for method, url, kwargs in (("GET", PLAN, {"params": params}), ("POST", PLAN, {"json": params}),
                                    ("GET", f"{PLAN}/export", {"params": params}),
                                    ("POST", f"{PLAN}/compare", {"json": {"models": ["rack-x2"]}})):
            response = plan_client.request(method, url, headers=headers, **kwargs)
            assert response.status_code == 403, (role, url, response.text)
            assert "OPD" not in response.text
    assert plan_client.get(PLAN, params=params).status_code == 401


def test_what_if_moves_the_answer_in_the_expected_direction(plan_client, tokens, city):
    headers = tokens.headers("planner")

    def total(**what_if):
        response = plan_client.post(PLAN, json={"model": "rack-x2", "years": 3} | what_if, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()["totals"]["servers_to_buy"]

    assert total(growth_percent=5) <= total(growth_percent=20) < total(growth_percent=80)
    assert total(ram_ratio=2.0, vcpu_ratio=8) < total()
    assert total(ha_reserve_hosts=2) == total() + 1  # one more new server held in reserve (NEW > OLD)
    compared = plan_client.post(f"{PLAN}/compare", json={"models": ["rack-x2", "old-1u"], "years": 3},
                                headers=headers)
    assert compared.status_code == 200, compared.text
    by_model = {row["model"]: row for row in compared.json()["summary"]}
    assert by_model["old-1u"]["servers_to_buy"] > by_model["rack-x2"]["servers_to_buy"]
    assert [p["model"]["slug"] for p in compared.json()["plans"]] == ["rack-x2", "old-1u"]


@pytest.fixture
def plan_cli():
    from dcops.capacity.plan_cli import app as plan_app

    root = typer.Typer()
    root.add_typer(plan_app, name="plan")
    return root


def test_cli_show_and_export(plan_cli, plan_client, tokens, city, tmp_path):
    runner = CliRunner()
    shown = runner.invoke(plan_cli, ["plan", "show", "--years", "3", "--model", "rack-x2", "--json"])
    assert shown.exit_code == 0, shown.output
    api = plan_client.get(PLAN, params={"model": "rack-x2"}, headers=tokens.headers("planner")).json()
    assert json.loads(shown.output) == api
    table = runner.invoke(plan_cli, ["plan", "show", "--model", "rack-x2", "--model", "old-1u",
                                     "--growth-percent", "30"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "Server models compared" in table.output and "Rp 520.000.000" in table.output
    out = tmp_path / "plan.xlsx"
    exported = runner.invoke(plan_cli, ["plan", "export", "--years", "3", "--model", "Rack Server X2",
                                        "--format", "xlsx", "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    from openpyxl import load_workbook

    summary = load_workbook(out)["Summary"]
    assert summary.cell(row=5, column=1).value == "Total"
    assert summary.cell(row=5, column=9).value == api["totals"]["servers_to_buy"]
    bad = runner.invoke(plan_cli, ["plan", "export", "--model", "nope", "-o", str(tmp_path / "x.csv")])
    assert bad.exit_code != 0 and not (tmp_path / "x.csv").exists()



def test_stored_growth_assumptions_feed_the_plan(plan_client, plan_cli, tokens, city):
    planner = tokens.headers("planner")
    stored = plan_client.put(f"{PLAN}/growth/opd03", json={"percent": 50, "note": "new e-health system"},
                             headers=planner)
    assert stored.status_code == 200, stored.text
    assert stored.json()["agency_code"] == "OPD03" and stored.json()["updated_by"].startswith("planner")
    absolute = {"vcpus_per_year": 8, "ram_gib_per_year": 32, "disk_gib_per_year": 0}
    assert plan_client.put(f"{PLAN}/growth/OPD04", json=absolute, headers=planner).status_code == 200
    assert plan_client.put(f"{PLAN}/growth/OPD03", json={"percent": 5}, headers=tokens.headers("operator")
                           ).status_code == 403
    assert plan_client.delete(f"{PLAN}/growth/OPD03", headers=tokens.headers("auditor")).status_code == 403
    listed = plan_client.get(f"{PLAN}/growth", headers=tokens.headers("auditor"))
    assert [(a["agency_code"], a["percent"]) for a in listed.json()] == [("OPD03", 50), ("OPD04", None)]

    plan = plan_client.get(PLAN, params={"model": "rack-x2"}, headers=planner).json()
    growth: dict[str, Any] = {code: 20.0 for code in city["demand"]}
    growth["OPD03"] = 50.0
    growth["OPD04"] = {"vcpus": 8, "ram_gib": 32, "disk_gib": 0}
    expected = expected_years(city["demand"], growth, 3)
    assert [y["demand"] for y in plan["fiscal_years"]] == [e["demand"] for e in expected]
    assert [y["new_servers_total"] for y in plan["fiscal_years"]] == [e["new_total"] for e in expected]
    sources = {a["code"]: a["growth_source"] for a in plan["agencies"]}
    assert sources["OPD03"] == sources["OPD04"] == "assumption" and sources["OPD05"] == "default"
    what_if = plan_client.get(PLAN, params={"model": "rack-x2", "growth_percent": 10}, headers=planner).json()
    assert {a["growth_source"] for a in what_if["agencies"]} == {"what-if"}

    for body, status in (({"percent": 10, "vcpus_per_year": 1}, 422), ({"percent": -150}, 422), ({}, 422)):
        assert plan_client.put(f"{PLAN}/growth/OPD03", json=body, headers=planner).status_code == status, body
    assert plan_client.put(f"{PLAN}/growth/NOPE", json={"percent": 1}, headers=planner).status_code == 404
    replaced = plan_client.put(f"{PLAN}/growth/OPD03", json={"percent": 30}, headers=planner)
    assert replaced.json()["percent"] == 30
    changes = plan_client.get("/api/v1/changelog", params={"object_type": "growth assumption"},
                              headers=tokens.headers("admin"))
    assert changes.status_code == 200, changes.text  # the change log records who changed an assumption, and when
    assert changes.json()["count"] == 3 and {c["action"] for c in changes.json()["data"]} == {"create", "update"}
    assert plan_client.delete(f"{PLAN}/growth/OPD03", headers=planner).status_code == 204
    assert plan_client.delete(f"{PLAN}/growth/OPD03", headers=planner).status_code == 404

    runner = CliRunner()
    result = runner.invoke(plan_cli, ["plan", "growth", "set", "opd05", "--percent", "12", "--note", "merger"])
    assert result.exit_code == 0, result.output
    listed_cli = json.loads(runner.invoke(plan_cli, ["plan", "growth", "list", "--json"]).output)
    assert {a["agency_code"]: a["percent"] for a in listed_cli} == {"OPD04": None, "OPD05": 12}
    assert runner.invoke(plan_cli, ["plan", "growth", "clear", "OPD05"]).exit_code == 0
    assert [a["agency_code"] for a in plan_client.get(f"{PLAN}/growth", headers=planner).json()] == ["OPD04"]
