"""Health API: device health, history, settings, interfaces, poller; staff read, agency viewers see nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dcops.auth.models import ChangeLogEntry
from dcops.monitoring.profiles import InterfaceRow
from dcops.monitoring.state import PollExtras, record
from dcops.monitoring.state_models import Interface, MonitoringSetting
from dcops.monitoring.types import PollResult, Sample

BASE = "/api/v1/monitoring"
_NOW = int(datetime.now(UTC).timestamp()) - 1800
T0 = datetime.fromtimestamp(_NOW - _NOW % 300, UTC)  # on a 5-minute boundary: a 300 s step holds all polls


@pytest.fixture
def polled(session, factory):
    """A UPS polled three times and a switch never polled (but with a credential)."""
    from dcops.auth.actor import SYSTEM
    from dcops.dcim.service import save_credential

    cred = save_credential(session, actor=SYSTEM, data={"name": "c1", "kind": "snmp_v2c", "community": "s3cret-x"})
    ups = factory.device(name="ups-01", role="ups", snmp_credential_id=cred.id, mgmt_address="127.0.0.1")
    sw = factory.device(name="sw-01", role="switch", snmp_credential_id=cred.id, mgmt_address="127.0.0.1")
    for n in range(3):
        record(session, PollResult(device_id=ups.id, device_name="ups-01", at=T0 + timedelta(minutes=n), reachable=True,
                                   samples=[Sample("device_up", 1.0), Sample("ups_on_battery", 1.0),
                                            Sample("ups_battery_charge_percent", 90.0 - n),
                                            Sample("temperature_celsius", 30.0 + n, (("sensor", "Battery"),)),
                                            Sample("if_oper_up", 1.0, (("ifname", "mgmt0"),))],
                                   facts={"model": "Smart-UPS"}),
               PollExtras(interfaces=[InterfaceRow(1, "mgmt0", "", 10**8, True, True)]))
    session.commit()
    return ups, sw


def test_health_list_and_detail(client, tokens, polled):
    ups, sw = polled
    headers = tokens.headers("oncall")
    r = client.get(f"{BASE}/devices/health", headers=headers)
    assert r.status_code == 200
    lines = {d["name"]: d for d in r.json()["data"]}
    assert lines["ups-01"]["state"] == "up" and lines["ups-01"]["figures"]["ups_on_battery"] == 1.0
    assert lines["ups-01"]["figures"]["temperature_max_celsius"] == 32.0
    assert lines["sw-01"]["state"] == "unknown"
    assert [d["name"] for d in client.get(f"{BASE}/devices/health?role=ups", headers=headers).json()["data"]] == [
        "ups-01"]
    detail = client.get(f"{BASE}/devices/{ups.id}/health", headers=headers).json()
    assert detail["facts"]["model"] == "Smart-UPS" and detail["interfaces"][0]["name"] == "mgmt0"
    assert {s["metric"] for s in detail["power"]} == {"ups_on_battery", "ups_battery_charge_percent"}
    assert detail["sensors"][0]["labels"] == {"sensor": "Battery"}
    assert detail["settings"]["interval_s"] == 60 and detail["settings"]["snmp_port"] == 161
    assert "s3cret-x" not in r.text + str(detail)
    assert client.get(f"{BASE}/devices/99999/health", headers=headers).status_code == 404


def test_history_by_time_range_and_step(client, admin, polled):
    ups, _ = polled
    params = {"metric": "ups_battery_charge_percent", "start": T0.isoformat(),
              "end": (T0 + timedelta(minutes=5)).isoformat(), "step": 60}
    r = client.get(f"{BASE}/devices/{ups.id}/history", params=params, headers=admin)
    assert r.status_code == 200
    (series,) = r.json()["series"]
    assert [v for _, v in series["points"]] == [90.0, 89.0, 88.0]
    r = client.get(f"{BASE}/devices/{ups.id}/history", headers=admin,
                   params={"metric": "temperature_celsius", "label": "sensor=Battery", "start": T0.isoformat(),
                           "end": (T0 + timedelta(minutes=5)).isoformat(), "step": 300})
    assert [v for _, v in r.json()["series"][0]["points"]] == [31.0]
    bad = client.get(f"{BASE}/devices/{ups.id}/history", params={"metric": "nope"}, headers=admin)
    assert bad.status_code == 422 and "unknown metric" in bad.json()["detail"]
    bad = client.get(f"{BASE}/devices/{ups.id}/history", params={"metric": "device_up", "label": "x"}, headers=admin)
    assert bad.status_code == 422 and "name=value" in bad.json()["detail"]
    bad = client.get(f"{BASE}/devices/{ups.id}/history", headers=admin,
                     params={"metric": "device_up", "start": T0.isoformat(), "end": T0.isoformat()})
    assert bad.status_code == 422


def test_settings_and_interfaces_are_changed_by_operators_only(client, tokens, session, polled):
    ups, sw = polled
    body = {"interval_s": 30, "snmp_port": 1161, "v3_only": True}
    assert client.patch(f"{BASE}/devices/{sw.id}/settings", json=body,
                        headers=tokens.headers("oncall")).status_code == 403
    r = client.patch(f"{BASE}/devices/{sw.id}/settings", json=body, headers=tokens.headers("operator"))
    assert r.status_code == 200 and r.json() | body == r.json()
    session.expire_all()
    assert session.get(MonitoringSetting, sw.id).snmp_port == 1161
    assert client.patch(f"{BASE}/devices/{sw.id}/settings", json={"interval_s": 1},
                        headers=tokens.headers("admin")).status_code == 422
    assert client.patch(f"{BASE}/devices/99999/settings", json=body,
                        headers=tokens.headers("admin")).status_code == 404
    iface = session.execute(select(Interface)).scalars().one()
    assert client.patch(f"{BASE}/interfaces/{iface.id}", json={"unused": True},
                        headers=tokens.headers("auditor")).status_code == 403
    r = client.patch(f"{BASE}/interfaces/{iface.id}", json={"unused": True}, headers=tokens.headers("operator"))
    assert r.status_code == 200 and r.json()["unused"] is True
    assert client.patch(f"{BASE}/interfaces/99999", json={"unused": True},
                        headers=tokens.headers("admin")).status_code == 404
    logged = session.execute(select(ChangeLogEntry.object_type).where(
        ChangeLogEntry.object_type.in_(["monitoring_setting", "interface"]))).scalars().all()
    assert sorted(logged) == ["interface", "monitoring_setting"]


def test_poller_health_answers_before_the_first_cycle(client, admin):
    r = client.get(f"{BASE}/poller", headers=admin)
    assert r.status_code == 200 and r.json()["running"] is False


def test_agency_viewers_see_nothing_of_the_equipment(client, tokens, factory, polled):
    ups, _ = polled
    viewer = tokens.headers("agency-viewer", agency_id=factory.agency().id)
    for path in ("/devices/health", f"/devices/{ups.id}/health", f"/devices/{ups.id}/history?metric=device_up",
                 f"/devices/{ups.id}/settings", "/poller"):
        assert client.get(BASE + path, headers=viewer).status_code == 403, path
    assert client.patch(f"{BASE}/devices/{ups.id}/settings", json={"enabled": False}, headers=viewer).status_code == 403
    assert client.get(f"{BASE}/devices/health").status_code == 401
