"""Consolidation on a small data center: migration through a capacity request, plan demand, showback, XLSX, RBAC."""

from __future__ import annotations

import io
import math

import pytest
from openpyxl import load_workbook

from dcops.consolidation import showback as sb

API = "/api/v1/consolidation"


@pytest.fixture
def dc(factory, session):
    """Two hypervisors (64 threads, 512 GiB, 8 TB each) in one cluster, a switch, a storage array, two agencies."""
    site = factory.site(name="DC")
    rack = factory.rack(site=site, power_budget_w=20000)
    cluster = factory.cluster(site_id=site.id, vcpu_ratio=4.0, ha_reserve_hosts=1)
    server = factory.device_type(slug="r750", cpu_threads=64, ram_gib=512, storage_tb=8, price_idr=400_000_000,
                                 max_power_w=1000, u_height=2)
    for n in (1, 3):
        factory.device(rack=rack, dtype=server, role="hypervisor", cluster_id=cluster.id, position=n)
    factory.device(rack=rack, dtype=factory.device_type(slug="sw", price_idr=100_000_000, max_power_w=300,
                                                        cpu_threads=0, ram_gib=0, storage_tb=0),
                   role="switch", position=20)
    factory.device(rack=rack, dtype=factory.device_type(slug="array", price_idr=500_000_000, max_power_w=600,
                                                        cpu_threads=0, ram_gib=0, storage_tb=50),
                   role="storage", position=22)
    a = factory.agency(code="DINKES", quota_vcpus=200, quota_ram_gib=1000, quota_disk_gib=20000, quota_vms=20)
    b = factory.agency(code="DISDIK", quota_vcpus=200, quota_ram_gib=1000, quota_disk_gib=20000, quota_vms=20)
    factory.vm(a, cluster, host_id=None, vcpus=8, ram_gib=32, disk_gib=200, state="running")
    factory.vm(b, cluster, vcpus=4, ram_gib=16, disk_gib=100, state="running")
    premises = factory.site(name="Kantor DINKES", agency_id=a.id)
    own = factory.device(site=premises, dtype=factory.device_type(slug="tower", price_idr=90_000_000,
                                                                   max_power_w=500, cpu_threads=0),
                         role="server", owner_agency_id=a.id, serial="SN-1")
    return {"cluster": cluster, "a": a, "b": b, "server": own, "site": site}


def _app(client, headers, agency, name, est, **kw):
    r = client.post(f"{API}/applications", headers=headers, json={
        "agency_id": agency.id, "name": name, "est_vcpus": est[0], "est_ram_gib": est[1], "est_disk_gib": est[2],
        "est_vm_count": est[3]} | kw)
    assert r.status_code == 201, r.text
    return r.json()


def _wave(client, headers, name, year):
    r = client.post(f"{API}/waves", headers=headers, json={"name": name, "fiscal_year": year,
                                                           "starts_on": f"{year}-02-01", "ends_on": f"{year}-06-30"})
    assert r.status_code == 201, r.text
    return r.json()


def test_start_files_a_request_and_approval_brings_the_app_in(client, tokens, dc):
    planner, operator, admin = (tokens.headers(r) for r in ("planner", "operator", "admin"))
    app = _app(client, planner, dc["a"], "e-Puskesmas", (8, 32, 400, 2), server_device_id=dc["server"].id)
    assert app["status"] == "outside"
    wave = _wave(client, planner, "Gelombang 1", 2027)
    assert client.post(f"{API}/applications/{app['id']}/start", headers=planner).status_code == 403
    r = client.post(f"{API}/applications/{app['id']}/plan", headers=planner, json={"wave_id": wave["id"]})
    assert r.json()["status"] == "planned" and r.json()["fiscal_year"] == 2027
    r = client.post(f"{API}/applications/{app['id']}/start", headers=operator, json={})
    assert r.status_code == 200, r.text
    req_id = r.json()["capacity_request_id"]
    assert r.json()["application"]["status"] == "migrating"
    req = client.get(f"/api/v1/capacity/requests/{req_id}", headers=admin).json()
    assert (req["total_vcpus"], req["total_ram_gib"], req["total_disk_gib"], req["total_vms"]) == (8, 32, 400, 2)
    board = client.get(f"{API}/board", headers=planner).json()
    dinkes = next(a for a in board["agencies"] if a["code"] == "DINKES")
    assert (dinkes["in_dc"], dinkes["migrating"], dinkes["state"]) == (0, 1, "in_progress")
    body = {"model": "r750", "years": 2, "baseline_year": 2026, "growth_percent": 0}
    before = client.post("/api/v1/capacity/plan", headers=planner, json=body).json()
    assert client.post(f"/api/v1/capacity/requests/{req_id}/approve", headers=admin, json={}).status_code == 200
    after = client.post("/api/v1/capacity/plan", headers=planner, json=body).json()
    # the plan moves: the estimate stops arriving in FY2027 and is today's allocation instead (counted once)
    assert after["baseline_demand"]["ram_gib"] == before["baseline_demand"]["ram_gib"] + 32
    assert after["fiscal_years"][0]["demand"] == before["fiscal_years"][0]["demand"]
    got = client.get(f"{API}/applications/{app['id']}", headers=planner).json()
    assert got["status"] == "in_dc" and len(got["vm_ids"]) == 2
    assert [e["to_status"] for e in got["events"]] == ["outside", "planned", "migrating", "in_dc"]
    assert all(e["username"] and e["at"] for e in got["events"])
    board = client.get(f"{API}/board", headers=planner).json()
    dinkes = next(a for a in board["agencies"] if a["code"] == "DINKES")
    assert (dinkes["in_dc"], dinkes["outside"], dinkes["servers_running"], dinkes["percent"]) == (1, 0, 1, 100.0)
    assert dinkes["state"] == "in_progress"  # its server still runs
    r = client.post(f"{API}/applications/{app['id']}/move", headers=operator, json={"status": "retired"})
    assert r.json()["status"] == "retired"
    board = client.get(f"{API}/board", headers=planner).json()
    dinkes = next(a for a in board["agencies"] if a["code"] == "DINKES")
    assert (dinkes["servers_running"], dinkes["state"]) == (0, "done")
    bad = client.post(f"{API}/applications/{app['id']}/move", headers=operator, json={"status": "outside"})
    assert bad.status_code == 409 and "retired" in bad.json()["detail"]


def test_plan_demand_is_allocation_plus_waves_up_to_each_year(client, tokens, dc):
    planner = tokens.headers("planner")
    w1, w2 = _wave(client, planner, "W1", 2027), _wave(client, planner, "W2", 2028)
    for name, est, wave in (("a1", (40, 300, 1000, 1), w1), ("a2", (100, 900, 3000, 2), w2)):
        app = _app(client, planner, dc["a"], name, est)
        client.post(f"{API}/applications/{app['id']}/plan", headers=planner, json={"wave_id": wave["id"]})
    _app(client, planner, dc["b"], "not-planned", (500, 5000, 9000, 1))  # outside, in no wave: not in the plan
    body = {"model": "r750", "years": 3, "baseline_year": 2026, "growth_percent": 0}
    plan = client.post("/api/v1/capacity/plan", headers=planner, json=body).json()
    today = {"vcpus": 12, "ram_gib": 48, "disk_gib": 300}
    wave = {2027: (40, 300, 1000), 2028: (100, 900, 3000)}
    per_host = plan["per_new_server"]
    for year in plan["fiscal_years"]:
        fy = year["fiscal_year"]
        added = [sum(w[i] for y, w in wave.items() if y <= fy) for i in range(3)]
        expect = {r: today[r] + added[i] for i, r in enumerate(("vcpus", "ram_gib", "disk_gib"))}
        assert year["demand"] == expect, fy
        # N+1 over two existing hosts and the new ones of the same model: the least k that carries the demand
        need = max(max(0, math.ceil(expect[r] / per_host[r]) + 1 - 2) for r in expect)
        assert year["new_servers_total"] == need, fy
    assert plan["fiscal_years"][-1]["new_servers_total"] > 0
    without = client.post("/api/v1/capacity/plan", headers=planner, json=body | {"migrations": False}).json()
    assert all(y["demand"] == today for y in without["fiscal_years"])
    needs = client.post(f"{API}/plan/waves", headers=planner, json=body).json()
    by = {w["wave"]: w for w in needs["waves"]}
    alone = client.post("/api/v1/capacity/plan", headers=planner, json=body | {"exclude_waves": ["W2"]}).json()
    assert by["W2"]["servers"] == plan["totals"]["servers_to_buy"] - alone["totals"]["servers_to_buy"]
    assert by["W2"]["servers"] >= 1 and by["W2"]["cost_idr"] == by["W2"]["servers"] * 400_000_000
    assert "FY2028" in by["W2"]["answer"]
    cmp = client.post(f"{API}/plan/compare", headers=planner, json=body | {"schedules": [
        {"name": "as planned"}, {"name": "W2 later", "wave_years": {"W2": 2029}}]}).json()
    assert cmp[0]["per_year"][1]["servers_to_buy"] >= cmp[1]["per_year"][1]["servers_to_buy"]
    bad = client.post(f"{API}/plan/compare", headers=planner, json=body | {"schedules": [
        {"name": "x", "wave_years": {"nope": 2029}}]})
    assert bad.status_code == 422 and "nope" in bad.text


def test_showback_agencies_plus_unallocated_is_the_total(client, tokens, dc, session):
    planner = tokens.headers("planner")
    assert client.patch(f"{API}/showback/settings", headers=planner,
                        json={"tariff_idr_per_kwh": 1500, "amortisation_years": 4}).status_code == 200
    data = client.get(f"{API}/showback", headers=planner).json()
    a = data["assumptions"]
    assert a["tariff_idr_per_kwh"] == 1500 and a["amortisation_years"] == 4
    # the total recomputed from the equipment alone: (price / life + nameplate x load x 8760 h x PUE x tariff)
    equipment = [(400_000_000, 1000), (400_000_000, 1000), (100_000_000, 300), (500_000_000, 600)]
    total = sum(p / 4 + w * a["load_factor"] * 8760 / 1000 * a["pue"] * 1500 for p, w in equipment)
    total *= 1 + a["overhead_percent"] / 100
    assert abs(data["total_idr"] - total) <= 1
    parts = sum(x["cost_idr"] for x in data["agencies"]) + data["unallocated_idr"]
    assert abs(parts - data["total_idr"]) <= len(data["agencies"]) + 1
    dinkes = next(x for x in data["agencies"] if x["code"] == "DINKES")
    assert dinkes["own_servers_idr"] > 0 and dinkes["cost_idr"] > 0
    disdik = next(x for x in data["agencies"] if x["code"] == "DISDIK")
    assert dinkes["cost_idr"] == pytest.approx(2 * disdik["cost_idr"], abs=2)  # twice the vCPU, RAM and disk
    # XLSX totals equal the API's, headers in Indonesian by default, English on request
    wb = load_workbook(io.BytesIO(client.get(f"{API}/showback/export", headers=planner).content))
    ws = wb.worksheets[0]
    assert ws.cell(1, 6).value == "Biaya pusat data per tahun"
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert rows[-1][5] == data["total_idr"] and rows[-2][5] == data["unallocated_idr"]
    assert sum(r[5] for r in rows[:-2]) == sum(x["cost_idr"] for x in data["agencies"])
    assert ws.cell(2, 6).number_format == '"Rp" #,##0'
    assert "Asumsi" in wb.sheetnames
    en = load_workbook(io.BytesIO(client.get(f"{API}/showback/export?lang=en", headers=planner).content))
    assert en.worksheets[0].cell(1, 6).value == "Data center cost per year"


def test_board_xlsx_totals_and_formula_text_stays_text(client, tokens, dc):
    planner = tokens.headers("planner")
    _app(client, planner, dc["a"], "=HYPERLINK(\"x\")", (2, 4, 50, 1))
    _app(client, planner, dc["b"], "portal", (0, 0, 0, 0), hosting="dc-vms")
    board = client.get(f"{API}/board", headers=planner).json()
    wb = load_workbook(io.BytesIO(client.get(f"{API}/board/export", headers=planner).content))
    ws = wb.worksheets[0]
    total = list(ws.iter_rows(values_only=True))[-1]
    assert total[3:9] == (board["totals"]["applications"], board["totals"]["in_dc"], board["totals"]["outside"],
                          board["totals"]["planned"], board["totals"]["migrating"], board["totals"]["servers_running"])
    assert ws.cell(1, 1).value == "Kode"
    from openpyxl import Workbook

    from dcops.consolidation.xlsx import put
    book = Workbook()
    for n, text in enumerate(["=1+1", "+62 811", "-x", "@SUM(A1)", "\tx", "\rx"], start=1):
        put(book.active, n, 1, text)
    out = io.BytesIO()
    book.save(out)
    back = load_workbook(io.BytesIO(out.getvalue())).active
    # (XML stores a lone carriage return as a line feed; it stays text either way)
    assert [back.cell(n, 1).value for n in range(1, 7)] == ["=1+1", "+62 811", "-x", "@SUM(A1)", "\tx", "\nx"]
    assert all(back.cell(n, 1).data_type == "s" for n in range(1, 7))


def test_agency_viewer_sees_only_its_own(client, tokens, dc):
    planner = tokens.headers("planner")
    mine = _app(client, planner, dc["a"], "mine", (2, 4, 50, 1))
    theirs = _app(client, planner, dc["b"], "theirs", (2, 4, 50, 1))
    viewer = tokens.headers("agency-viewer", agency_id=dc["a"].id)
    listed = client.get(f"{API}/applications", headers=viewer).json()
    assert [a["name"] for a in listed["data"]] == ["mine"]
    assert client.get(f"{API}/applications/{theirs['id']}", headers=viewer).status_code == 404
    assert client.get(f"{API}/applications/{mine['id']}", headers=viewer).status_code == 200
    board = client.get(f"{API}/board", headers=viewer).json()
    assert [a["code"] for a in board["agencies"]] == ["DINKES"]
    costs = client.get(f"{API}/showback", headers=viewer).json()
    assert [a["code"] for a in costs["agencies"]] == ["DINKES"] and costs["total_idr"] == 0 and costs["devices"] == []
    wb = load_workbook(io.BytesIO(client.get(f"{API}/showback/export", headers=viewer).content))
    assert [r[0] for r in wb.worksheets[0].iter_rows(min_row=2, values_only=True)] == ["DINKES"]
    for method, path in (("post", "/applications"), ("post", "/waves"), ("patch", "/showback/settings"),
                         ("post", f"/applications/{mine['id']}/start"), ("post", "/plan/waves")):
        assert getattr(client, method)(f"{API}{path}", headers=viewer, json={}).status_code == 403, path
    assert client.get(f"{API}/waves", headers=viewer).status_code == 403


def test_device_owner_server_role_and_duplicate_serial_warning(client, tokens, dc, admin):
    dtype = dc["server"].device_type_id
    body = {"name": "srv-2", "device_type_id": dtype, "role": "server", "site_id": dc["server"].site_id,
            "owner_agency_id": dc["a"].id, "serial": "sn-1"}
    r = client.post("/api/v1/dcim/devices", headers=admin, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["owner_agency_id"] == dc["a"].id
    assert any("SN-1" in w or "sn-1" in w for w in r.json()["warnings"]), r.json()
    r = client.post("/api/v1/dcim/devices", headers=admin, json=body | {"name": "srv-3", "serial": "SN-9"})
    assert r.json()["warnings"] == []
    listed = client.get(f"/api/v1/dcim/devices?owner_agency_id={dc['a'].id}", headers=admin).json()
    assert sorted(d["name"] for d in listed["data"]) == sorted([dc["server"].name, "srv-2", "srv-3"])
    # an application must run on a device with role server
    hv = client.get("/api/v1/dcim/devices?role=hypervisor", headers=admin).json()["data"][0]
    r = client.post(f"{API}/applications", headers=admin, json={"agency_id": dc["a"].id, "name": "x",
                                                                 "server_device_id": hv["id"]})
    assert r.status_code == 422 and "role server" in r.json()["detail"]


def test_showback_pure_split_is_exact():
    a = sb.Assumptions()
    r = sb.rates([sb.Equipment("h", "hypervisor", 100, 100, None, 100, 100, 1000),
                  sb.Equipment("s", "switch", 50, 10, 40.0)], a)
    result = sb.showback(r, [("A", "a"), ("B", "b")], [sb.Usage("A", None, 10, 20, 0),
                                                         sb.Usage("B", None, 30, 5, 0)], {}, [])
    assert result.devices[1].power_source == "measured" and result.devices[1].watts == 40.0
    assert sum(x.cost_idr for x in result.agencies) + result.unallocated_idr == pytest.approx(result.total_idr)
    assert result.agencies[0].code == "B"  # 0.5*30/100 + 0.5*5/100 = 17.5 % against A's 15 %


def test_two_processes_following_one_request_record_one_move(client, tokens, dc, session):
    from sqlalchemy import func, select
    from sqlmodel import Session

    from dcops.consolidation import service
    from dcops.consolidation.models import AgencyApplication, ApplicationEvent
    from dcops.database import get_engine

    planner, operator, admin = (tokens.headers(r) for r in ("planner", "operator", "admin"))
    app = _app(client, planner, dc["a"], "sim", (2, 4, 50, 1))
    started = client.post(f"{API}/applications/{app['id']}/start", headers=operator, json={}).json()
    # B read it: migrating (the row holds its enums as stored strings, hence no serializer warnings)
    seen_by_b = AgencyApplication(**session.get(AgencyApplication, app["id"]).model_dump(warnings=False))
    session.rollback()
    assert client.post(f"/api/v1/capacity/requests/{started['capacity_request_id']}/approve", headers=admin,
                       json={}).status_code == 200
    with Session(get_engine()) as a, Session(get_engine()) as b:
        assert service.sync(a, [a.get(AgencyApplication, app["id"])]) is True
        assert service.sync(b, [seen_by_b]) is False  # its stale copy still says migrating: no second move
    count = session.execute(select(func.count()).select_from(ApplicationEvent).where(
        ApplicationEvent.application_id == app["id"], ApplicationEvent.to_status == "in_dc")).scalar_one()
    assert count == 1


def test_a_scoped_operator_moves_only_the_migrations_of_the_agencies_it_serves(client, tokens, dc, admin):
    planner = tokens.headers("planner")
    ours, theirs = (_app(client, planner, dc[k], f"app-{k}", (2, 4, 50, 1)) for k in ("a", "b"))
    user, token = tokens.user("operator")
    scoped = {"Authorization": f"Bearer {token}"}
    r = client.put(f"/api/v1/auth/users/{user.id}/agencies", json={"agency_ids": [dc["a"].id]}, headers=admin)
    assert r.status_code == 200, r.text
    for action, body in (("move", {"status": "in_dc"}), ("start", {}), ("vms", {"vm_ids": [999999]})):
        refused = client.post(f"{API}/applications/{theirs['id']}/{action}", headers=scoped, json=body)
        assert refused.status_code == 403 and "does not serve" in refused.json()["detail"], (action, refused.text)
    assert client.get(f"{API}/applications/{theirs['id']}", headers=planner).json()["status"] == "outside"
    moved = client.post(f"{API}/applications/{ours['id']}/move", headers=scoped, json={"status": "in_dc"})
    assert moved.status_code == 200 and moved.json()["status"] == "in_dc"
