"""A vendor profile added from a directory (no code change) is discovered and used by the poller against a real
agent (snmpsim); discovery is stored and shown; a device read only through `system` reports "no data"."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dcops.auth.actor import SYSTEM
from dcops.dcim.service import save_credential
from dcops.monitoring.alert_models import Alert
from dcops.monitoring.poller import PollerOptions, poll_device
from dcops.monitoring.profiles import USER_DIR_ENV
from dcops.monitoring.rules import load_rules, set_rules
from dcops.monitoring.sensor_models import DeviceDiscovery
from dcops.monitoring.state_models import MonitoringSetting

ACME = "1.3.6.1.4.1.99999"
PROFILE = f"""
name: acme-env
description: ACME-ENV-MIB environment probes (a vendor added with a YAML file only)
detect:
  roles: [other, ups]
  sys_descr: '(?i)^acme envirobox'
  probe: [{ACME}.2.1.3]
tables:
  - name: acme_probes
    columns:
      acmeProbeName: {ACME}.2.1.2
      acmeProbeTemp: {ACME}.2.1.3
      acmeProbeHigh: {ACME}.2.1.4
      acmeProbeStatus: {ACME}.2.1.5
    sensors:
      - {{class: temperature, value: acmeProbeTemp, divisor: 10, high: acmeProbeHigh, skip: [-1],
         descr: ['{{acmeProbeName}}', 'Probe {{index}}']}}
      - {{class: state, value: acmeProbeStatus, descr: '{{acmeProbeName}} status',
         states: {{"1": ok, "2": critical}}, state_names: {{"1": normal, "2": alarm}}}}
"""


def _recording(descr: str, probes: list[tuple[int, str, int, int, int]]) -> str:
    lines = [f"1.3.6.1.2.1.1.1.0|4|{descr}", f"1.3.6.1.2.1.1.2.0|6|{ACME}.1", "1.3.6.1.2.1.1.3.0|67|123456",
             "1.3.6.1.2.1.1.5.0|4|envbox"]
    for column in (2, 3, 4, 5):
        for index, name, temp, high, status in probes:
            value = {2: f"4|{name}", 3: f"2|{temp}", 4: f"2|{high}", 5: f"2|{status}"}[column]
            lines.append(f"{ACME}.2.1.{column}.{index}|{value}")
    return "\n".join(lines) + "\n"


@pytest.fixture(autouse=True)
def quick_rules() -> Iterator[None]:
    set_rules([replace(r, for_s=0.0) for r in load_rules()])
    yield
    set_rules(None)


@pytest.fixture
def agent(tmp_path: Path, snmpsim_agent: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    data = tmp_path / "data"
    data.mkdir()
    # "envbox": the vendor's agent; "bare": an agent that answers the system group only
    (data / "envbox.snmprec").write_text(_recording("ACME EnviroBox 2 rev B", [
        (1, "Inlet", 231, 400, 1), (2, "Rack top", 671, 870, 1), (3, "Spare", -1, 400, 1)]))
    (data / "bare.snmprec").write_text("1.3.6.1.2.1.1.1.0|4|Some appliance\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.4242.1\n"
                                       "1.3.6.1.2.1.1.3.0|67|5000\n")
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "acme-env.yaml").write_text(PROFILE)
    monkeypatch.setenv(USER_DIR_ENV, str(profiles))
    return snmpsim_agent(data, community="envbox")


def _device(session: Any, factory: Any, agent: Any, community: str, **kw: Any) -> Any:
    cred = save_credential(session, actor=SYSTEM, data={"name": f"c-{community}", "kind": "snmp_v2c",
                                                        "community": community})
    device = factory.device(mgmt_address="127.0.0.1", snmp_credential_id=cred.id, **kw)
    session.add(MonitoringSetting(device_id=device.id, snmp_port=agent.port))
    session.commit()
    return device


def _poll(device: Any) -> Any:
    return asyncio.run(poll_device(device.id, options=PollerOptions(timeout_s=3.0, retries=1)))


def test_a_profile_from_a_directory_is_discovered_and_read(db: str, session: Any, factory: Any, agent: Any,
                                                           client: Any, tokens: Any) -> None:
    box = _device(session, factory, agent, "envbox", name="envbox-1", role="other")
    result = _poll(box)
    assert result.reachable and result.error is None, result.error
    assert "acme-env" in result.facts["profiles"].split(",")
    by = {(r.sensor_class, r.descr): r for r in result.sensors}
    assert by[("temperature", "Inlet")].value == pytest.approx(23.1)
    assert by[("temperature", "Rack top")].high == pytest.approx(87.0)
    assert by[("temperature", "Inlet")].oid == f"{ACME}.2.1.3.1"
    assert ("temperature", "Spare") not in by  # -1 means "no probe" for this vendor
    session.expire_all()
    found = session.get(DeviceDiscovery, box.id)
    reasons = {p["name"]: p["reason"] for p in found.profiles}
    assert reasons["acme-env"] == f"sysDescr matches /(?i)^acme envirobox/; answers {ACME}.2.1.3"

    health = client.get(f"/api/v1/monitoring/devices/{box.id}/health", headers=tokens.headers("oncall")).json()
    assert {p["name"] for p in health["discovery"]["profiles"]} >= {"system", "acme-env"}
    rack_top = next(s for s in health["sensor_readings"] if s["subject"] == "Rack top")
    assert rack_top["state"] == "ok" and rack_top["limits"] == {
        "high": pytest.approx(87.0), "low": None, "high_warn": None, "low_warn": None, "source": "device"}
    # 67 °C is far under this probe's own 87 °C: no alert (a fixed 45 °C limit would have raised one)
    assert session.execute(select(Alert).where(Alert.device_id == box.id)).scalars().all() == []

    # an operator lowers the limit of one sensor: the next poll alerts, naming the sensor by its description
    body = {"sensor_class": "temperature", "sensor": "Rack top", "high": 60}
    assert client.put(f"/api/v1/monitoring/devices/{box.id}/sensor-thresholds", json=body,
                      headers=tokens.headers("oncall")).status_code == 403
    r = client.put(f"/api/v1/monitoring/devices/{box.id}/sensor-thresholds", json=body,
                   headers=tokens.headers("operator"))
    assert r.status_code == 200, r.text
    bad = client.put(f"/api/v1/monitoring/devices/{box.id}/sensor-thresholds", headers=tokens.headers("operator"),
                     json={"sensor_class": "temperatur", "high": 1})
    assert bad.status_code == 422 and "sensor_class must be one of" in bad.text
    _poll(box)
    session.expire_all()
    (alert,) = session.execute(select(Alert).where(Alert.device_id == box.id)).scalars().all()
    assert (alert.rule, alert.subject, alert.state) == ("temperature_high", "Rack top", "firing")
    assert alert.summary == "envbox-1 temperature Rack top: 67.10 °C, override 60 °C"
    listed = client.get(f"/api/v1/monitoring/devices/{box.id}/sensor-thresholds",
                        headers=tokens.headers("oncall")).json()
    assert [(o["sensor"], o["high"]) for o in listed["data"]] == [("Rack top", 60.0)]
    gone = client.delete(f"/api/v1/monitoring/devices/{box.id}/sensor-thresholds/{listed['data'][0]['id']}",
                         headers=tokens.headers("operator"))
    assert gone.status_code == 204


def test_rediscovery_on_a_changed_sys_descr_and_no_data_with_its_reason(db: str, session: Any, factory: Any,
                                                                          agent: Any) -> None:
    bare = _device(session, factory, agent, "bare", name="bare-1", role="other")
    result = _poll(bare)
    assert result.reachable
    assert result.error == ("no data: no profile beyond 'system' applies (role other, sysObjectID "
                            "1.3.6.1.4.1.4242.1); add a profile for this device family")
    # a device whose vendor profile fits by role and identity but whose probes fail is not given that profile
    box = _device(session, factory, agent, "envbox", name="envbox-2", role="switch")  # the role narrows
    assert "acme-env" not in _poll(box).facts["profiles"]
    session.expire_all()
    first = session.get(DeviceDiscovery, box.id).discovered_at
    session.get(DeviceDiscovery, box.id).sys_descr = "ACME EnviroBox 1"  # as if the firmware changed it
    session.commit()
    _poll(box)
    session.expire_all()
    row = session.get(DeviceDiscovery, box.id)
    assert row.sys_descr == "ACME EnviroBox 2 rev B" and row.discovered_at > first
