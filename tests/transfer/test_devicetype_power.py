"""Device-type power planners can trust: redundant supplies counted once, unknown never read as 0 W,
and the rack power check and the budget plan naming the devices that have no figure."""

from __future__ import annotations

import textwrap

import pytest

from dcops.auth.actor import SYSTEM
from dcops.transfer.devicetypes import import_device_types, parse_device_type

API = "/api/v1/dcim"

# NetBox devicetype-library style files (written for this test)
LIBRARY = {
    "Dell/poweredge-r760.yaml": """
        manufacturer: Dell
        model: PowerEdge R760
        slug: dell-poweredge-r760
        u_height: 2
        power-ports:
          - {name: PSU1, type: iec-60320-c14, maximum_draw: 1400}
          - {name: PSU2, type: iec-60320-c14, maximum_draw: 1400}
    """,
    "Cisco/c9300-48p.yaml": """
        manufacturer: Cisco
        model: C9300-48P
        slug: cisco-c9300-48p
        u_height: 1
        power-ports:
          - {name: PS1, type: iec-60320-c16, maximum_draw: 1100, allocated_draw: 460}
          - {name: PS2, type: iec-60320-c16, maximum_draw: 1100, allocated_draw: 460}
    """,
    "Juniper/mx204.yaml": """
        manufacturer: Juniper
        model: MX204
        slug: juniper-mx204
        u_height: 1
        power-ports:
          - {name: PEM0, type: iec-60320-c14, maximum_draw: 650}
          - {name: PEM1, type: iec-60320-c14, maximum_draw: 650}
          - {name: FAN, type: dc-terminal, maximum_draw: 40}
    """,
    "Generic/no-figure-server.yaml": """
        manufacturer: Generic
        model: Whitebox 1U
        slug: whitebox-1u
        u_height: 1
        power-ports:
          - {name: PSU1, type: iec-60320-c14}
          - {name: PSU2, type: iec-60320-c14, maximum_draw: 0}
    """,
    "Generic/patch-panel.yaml": """
        manufacturer: Generic
        model: Patch Panel 24
        slug: patch-24
        u_height: 1
    """,
}
EXPECTED = {"dell-poweredge-r760": 1400, "cisco-c9300-48p": 460, "juniper-mx204": 690, "whitebox-1u": None,
            "patch-24": None}


def _library(tmp_path):
    files = []
    for name, text in LIBRARY.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        files.append(path)
    return files


def test_power_figures_from_netbox_files_count_redundant_supplies_once_and_keep_unknown_unknown():
    for name, text in LIBRARY.items():
        slug = parse_device_type(textwrap.dedent(text))["slug"]
        assert parse_device_type(textwrap.dedent(text))["max_power_w"] == EXPECTED[slug], name
    bad = "manufacturer: X\nmodel: Y\nslug: y\npower-ports:\n  - {name: P1, maximum_draw: lots}\n"
    with pytest.raises(Exception, match="maximum_draw must be a number of watts"):
        parse_device_type(bad)


def test_import_stores_unknown_as_null_and_a_reimport_changes_nothing(session, tmp_path):
    from sqlalchemy import select

    from dcops.dcim.models import DeviceType

    files = _library(tmp_path)
    outcome = import_device_types(session, actor=SYSTEM, files=files)
    assert not outcome.failed and len(outcome.created) == len(LIBRARY)
    stored = dict(session.execute(select(DeviceType.slug, DeviceType.max_power_w)).all())
    assert stored == EXPECTED
    again = import_device_types(session, actor=SYSTEM, files=files)
    assert sorted(again.unchanged) == sorted(EXPECTED)


def test_rack_power_check_names_the_devices_with_no_figure(client, admin, factory, session):
    rack = factory.rack(u_height=10, power_budget_w=1000)
    known = factory.device_type(u_height=1, max_power_w=600)
    unknown = factory.device_type(u_height=1, max_power_w=None)

    def place(name, dtype, position, **extra):
        return client.post(f"{API}/devices", headers=admin, json={
            "name": name, "device_type_id": dtype.id, "role": "other", "site_id": rack.site_id,
            "rack_id": rack.id, "position": position, "face": "front"} | extra)

    r = place("box-unknown", unknown, 1)
    assert r.status_code == 201
    assert any("power unknown" in w and "box-unknown" in w for w in r.json()["warnings"])
    r = place("srv-a", known, 2)
    assert r.status_code == 201 and any("box-unknown" in w for w in r.json()["warnings"])
    r = place("srv-b", known, 3)  # 1200 W of known figures: over the 1000 W budget, and still one unknown
    assert r.status_code == 409
    assert "200 W over" in r.json()["detail"] and "box-unknown" in r.json()["detail"]
    elevation = client.get(f"{API}/racks/{rack.id}/elevation", headers=admin).json()
    assert elevation["power_draw_w"] == 600 and elevation["power_unknown"] == ["box-unknown"]


def test_budget_plan_names_devices_and_a_model_with_no_figure(app, tokens, factory, session):
    from fastapi.testclient import TestClient

    site = factory.site(name="DC Power")
    cluster = factory.cluster(name="KLASTER-P", site_id=site.id, ha_reserve_hosts=0)
    host = factory.device_type(model="Host 1U", slug="host-1u", max_power_w=500)
    nofig = factory.device_type(model="Host NoFig", slug="host-nofig", max_power_w=None)
    rack = factory.rack(site=site, name="P01", power_budget_w=5000)
    factory.device(rack=rack, dtype=host, name="hv-p-01", role="hypervisor", position=1, cluster_id=cluster.id)
    factory.device(rack=rack, dtype=nofig, name="mystery-01", role="other", position=3)
    agency = factory.agency(code="OPDP", name="Perangkat Daerah P")
    factory.vm(agency, cluster, vcpus=8, ram_gib=32, disk_gib=100, state="running")
    session.commit()
    with TestClient(app, raise_server_exceptions=False) as client:
        headers = tokens.headers("planner")
        plan = client.post("/api/v1/capacity/plan", headers=headers, json={"model": "host-1u", "years": 1}).json()
        assert plan["power_unknown"] == ["mystery-01"]
        assert any("mystery-01" in n for n in plan["notes"])
        plan = client.post("/api/v1/capacity/plan", headers=headers, json={"model": "host-nofig", "years": 1}).json()
        assert plan["power_unknown"] == ["host-nofig (the planned servers)", "mystery-01"]
    import typer
    from typer.testing import CliRunner

    from dcops.capacity.plan_cli import app as plan_app

    root = typer.Typer()
    root.add_typer(plan_app, name="plan")
    shown = CliRunner().invoke(root, ["plan", "show", "--years", "1", "--model", "host-1u"])
    assert shown.exit_code == 0, shown.output
    assert "power unknown" in shown.output and "mystery-01" in shown.output
