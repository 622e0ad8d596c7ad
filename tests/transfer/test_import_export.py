"""Bulk import and export: all or nothing, every bad row named by its line, round trips."""

from __future__ import annotations

import json
import textwrap

import pytest
from typer.testing import CliRunner

IMPORT = "/api/v1/import"


@pytest.fixture
def dc(factory):
    site = factory.site(name="DC1")
    factory.rack(site=site, name="R01", u_height=10, power_budget_w=3000)
    vendor = factory.manufacturer(name="Dell")
    factory.device_type(manufacturer=vendor, model="R750", slug="r750", u_height=2, max_power_w=1000)
    factory.device_type(manufacturer=vendor, model="S5248", slug="s5248", u_height=1, max_power_w=200)
    return site


def _csv(text: str) -> bytes:
    return textwrap.dedent(text).lstrip().encode()


def _devices(client, headers) -> list[str]:
    return [d["name"] for d in client.get("/api/v1/dcim/devices?limit=1000", headers=headers).json()["data"]]


def test_csv_import_of_racks_and_devices_through_the_api(client, admin, dc):
    r = client.post(f"{IMPORT}/racks", content=_csv("""
        site,name,u_height,power_budget_w
        DC1,R02,42,6000
    """), headers=admin | {"Content-Type": "text/csv"})
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    r = client.post(f"{IMPORT}/devices", content=_csv("""
        name,device_type,role,site,rack,position,face,serial
        hv-01,r750,hypervisor,DC1,R02,1,front,SN1
        hv-02,R750,hypervisor,DC1,R02,3,front,SN2
        tor-01,s5248,switch,DC1,R02,42,front,
    """), headers=admin | {"Content-Type": "text/csv"})
    assert r.status_code == 200 and r.json()["created"] == 3, r.text
    assert sorted(_devices(client, admin)) == ["hv-01", "hv-02", "tor-01"]


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_written(client, admin, dc):
    body = _csv("""
        name,device_type,role,site,rack,position,face
        ok-1,r750,hypervisor,DC1,R01,1,front
        clash,s5248,switch,DC1,R01,2,front
        too-tall,r750,hypervisor,DC1,R01,10,front
        ok-1,s5248,switch,DC1,R01,5,front
        no-type,x9999,switch,DC1,R01,6,front
        bad-role,s5248,toaster,DC1,R01,7,front
        no-rack,s5248,switch,DC1,R99,8,front
        "quoted, name",s5248,switch,DC1,R01,9,front
    """)
    r = client.post(f"{IMPORT}/devices", content=body, headers=admin | {"Content-Type": "text/csv"})
    assert r.status_code == 422
    errors = {e["line"]: e["message"] for e in r.json()["errors"]}
    assert sorted(errors) == [3, 4, 5, 6, 7, 8, 9]
    assert "U2" in errors[3] and "ok-1" in errors[3]          # overlaps a device earlier in the same file
    assert "reach U11" in errors[4]                            # taller than the space left
    assert "ok-1" in errors[5] and "already exists" in errors[5]
    assert "x9999" in errors[6]
    assert "role" in errors[7]
    assert "R99" in errors[8]
    assert "name" in errors[9]
    assert "line 3" in r.json()["detail"]
    assert _devices(client, admin) == []


def test_dry_run_checks_and_writes_nothing(client, admin, dc):
    body = _csv("""
        name,device_type,role,site,rack,position,face
        sw-1,s5248,switch,DC1,R01,1,front
    """)
    r = client.post(f"{IMPORT}/devices?dry_run=true", content=body, headers=admin | {"Content-Type": "text/csv"})
    assert r.status_code == 200 and r.json()["valid"] == 1 and r.json()["created"] == 0
    assert _devices(client, admin) == []


def test_rows_clash_with_devices_already_in_the_database(client, admin, dc, factory, session):
    from sqlalchemy import select

    from dcops.dcim.models import Rack

    rack = session.execute(select(Rack).where(Rack.name == "R01")).scalar_one()
    factory.device(rack=rack, name="existing", position=4)
    session.commit()
    body = _csv("""
        name,device_type,role,site,rack,position,face
        new,r750,hypervisor,DC1,R01,3,front
    """)
    r = client.post(f"{IMPORT}/devices", content=body, headers=admin | {"Content-Type": "text/csv"})
    assert r.status_code == 422 and "existing" in r.json()["errors"][0]["message"]


def test_yaml_import_names_the_line_of_the_bad_record(client, admin, dc):
    body = textwrap.dedent("""
        agencies:
          - code: DINKES
            name: Dinas Kesehatan
            kind: dinas
          - code: KEC-KOTA
            name: Kecamatan Kota
            kind: kecamatan
          - code: KEL-BARU
            name: Kelurahan Baru
            kind: kelurahan
            parent: KEC-KOTA
          - code: bad code
            name: Lowercase
    """)
    r = client.post(f"{IMPORT}/agencies?format=yaml", content=body.encode(), headers=admin)
    assert r.status_code == 422
    assert [e["line"] for e in r.json()["errors"]] == [13]
    body = body.split("  - code: bad code")[0]
    r = client.post(f"{IMPORT}/agencies?format=yaml", content=body.encode(), headers=admin)
    assert r.status_code == 200 and r.json()["created"] == 3
    kel = client.get("/api/v1/tenancy/agencies?q=Kelurahan", headers=admin).json()["data"][0]
    assert kel["parent_id"] is not None


def test_export_then_import_round_trips(client, admin, dc, factory, session):
    cluster = factory.cluster(name="KLASTER")
    agency = factory.agency(code="DINKES", name="Dinas Kesehatan")
    factory.prefix(cidr="10.20.1.0/24", agency_id=agency.id)
    factory.vm(agency, cluster, name="dinkes-app", ip_address="10.20.1.10")
    client.post(f"{IMPORT}/devices", content=_csv("""
        name,device_type,role,site,rack,position,face,asset_tag
        hv-01,r750,hypervisor,DC1,R01,1,front,BMD-1
    """), headers=admin | {"Content-Type": "text/csv"})
    exported = {}
    for kind in ("racks", "devices", "agencies", "vms"):
        for fmt in ("csv", "yaml"):
            r = client.get(f"/api/v1/export/{kind}?format={fmt}", headers=admin)
            assert r.status_code == 200
            exported[(kind, fmt)] = r.text
    assert "hv-01,r750,hypervisor,DC1,R01,1,front" in exported[("devices", "csv")]
    assert "dinkes-app,DINKES,KLASTER" in exported[("vms", "csv")]
    # Re-importing into the same database: every row is now a duplicate, named by line.
    r = client.post(f"{IMPORT}/devices", content=exported[("devices", "yaml")].encode(),
                    headers=admin | {"Content-Type": "application/yaml"})
    assert r.status_code == 422 and "already exists" in r.json()["errors"][0]["message"]
    # Into an empty rack with the device renamed, the exported row imports unchanged otherwise.
    client.delete(f"/api/v1/dcim/devices/{client.get('/api/v1/dcim/devices', headers=admin).json()['data'][0]['id']}",
                  headers=admin)
    r = client.post(f"{IMPORT}/devices", content=exported[("devices", "csv")].encode(),
                    headers=admin | {"Content-Type": "text/csv"})
    assert r.status_code == 200 and r.json()["created"] == 1


def test_import_needs_admin_or_operator(client, tokens, dc):
    body = b"site,name\nDC1,R9\n"
    assert client.post(f"{IMPORT}/racks", content=body).status_code == 401
    for role in ("planner", "oncall", "auditor"):
        r = client.post(f"{IMPORT}/racks", content=body, headers=tokens.headers(role))
        assert r.status_code == 403
    r = client.post(f"{IMPORT}/racks", content=body, headers=tokens.headers("operator"))
    assert r.status_code == 200


def test_unknown_kind_column_and_unparseable_files(client, admin, dc):
    r = client.post(f"{IMPORT}/toasters", content=b"a\n1\n", headers=admin)
    assert r.status_code == 422 and "racks" in r.json()["detail"]
    r = client.post(f"{IMPORT}/racks", content=b"site,name,colour\nDC1,R5,red\n", headers=admin)
    assert r.status_code == 422 and "colour" in r.json()["errors"][0]["message"]
    r = client.post(f"{IMPORT}/racks?format=yaml", content=b"- site: [unclosed\n", headers=admin)
    assert r.status_code == 422 and "YAML" in r.json()["detail"]
    r = client.post(f"{IMPORT}/racks", content=b"\xff\xfe\x00", headers=admin)
    assert r.status_code == 422 and "UTF-8" in r.json()["detail"]


# --- the CLI -------------------------------------------------------------------------------------------


def _cli():
    from dcops.cli import _register_features, app

    _register_features()
    return app


@pytest.fixture(scope="module")
def cli_app():
    return _cli()


def test_cli_import_lists_bad_rows_and_exits_non_zero(cli_app, dc, tmp_path, client, admin):
    bad = tmp_path / "devices.csv"
    bad.write_text("name,device_type,role,site,rack,position,face\n"
                   "a,s5248,switch,DC1,R01,1,front\n"
                   "b,s5248,switch,DC1,R01,1,front\n")
    result = CliRunner().invoke(cli_app, ["import", "devices", str(bad)])
    assert result.exit_code != 0
    assert "3" in result.output and "already taken by device 'a'" in result.output
    assert "Traceback" not in result.output
    assert _devices(client, admin) == []
    good = tmp_path / "good.csv"
    good.write_text("name,device_type,role,site,rack,position,face\na,s5248,switch,DC1,R01,1,front\n")
    result = CliRunner().invoke(cli_app, ["import", "devices", str(good), "--dry-run", "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["would_create"] == 1
    assert _devices(client, admin) == []
    result = CliRunner().invoke(cli_app, ["import", "devices", str(good)])
    assert result.exit_code == 0 and _devices(client, admin) == ["a"]
    out = tmp_path / "out.yaml"
    result = CliRunner().invoke(cli_app, ["export", "devices", "-o", str(out)])
    assert result.exit_code == 0 and "name: a" in out.read_text()


def test_cli_imports_netbox_device_types_and_reports_bad_files(cli_app, db, tmp_path, client, admin):
    lib = tmp_path / "device-types" / "Dell"
    lib.mkdir(parents=True)
    (lib / "poweredge-r650.yaml").write_text(textwrap.dedent("""
        manufacturer: Dell
        model: PowerEdge R650
        slug: dell-poweredge-r650
        part_number: R650
        u_height: 1
        is_full_depth: true
        airflow: front-to-rear
        weight: 17.1
        weight_unit: kg
        comments: test
        console-ports:
          - name: Serial
            type: de-9
        power-ports:
          - name: PSU1
            type: iec-60320-c14
            maximum_draw: 800
          - name: PSU2
            type: iec-60320-c14
            maximum_draw: 800
        interfaces:
          - name: iDRAC
            type: 1000base-t
    """))
    (lib / "broken.yaml").write_text("manufacturer: Dell\nmodel: [oops\n")
    (lib / "nomodel.yml").write_text("manufacturer: Dell\nslug: x\n")
    result = CliRunner().invoke(cli_app, ["import", "device-types", str(tmp_path / "device-types")])
    assert result.exit_code != 0
    assert "broken.yaml" in result.output and "nomodel.yml" in result.output and "model" in result.output
    types = client.get("/api/v1/dcim/device-types", headers=admin).json()["data"]
    assert [(t["slug"], t["u_height"], t["max_power_w"]) for t in types] == [("dell-poweredge-r650", 1, 800)]
    (lib / "broken.yaml").unlink()
    (lib / "nomodel.yml").unlink()
    result = CliRunner().invoke(cli_app, ["import", "device-types", str(lib), "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["unchanged"] == ["dell-poweredge-r650"]
