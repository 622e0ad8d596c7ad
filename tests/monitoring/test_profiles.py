"""Profiles: YAML data chosen by role and sysObjectID; each shipped recording polled through snmpsim."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dcops.exceptions import ConfigurationError
from dcops.monitoring.poller import Target, poll_target
from dcops.monitoring.profiles import Profile, detect_profiles, evaluate, load_profiles, select_profiles
from dcops.monitoring.simulator import RECORDINGS, render
from dcops.monitoring.snmp import SnmpClient, Varbind

VALUES = {"NAME": "sim-dev", "SERIAL": "SN-TEST-1", "MODEL": "PowerEdge R750", "OUTPUT_SOURCE": "5", "WATTS": "2000",
          "PORT5_OPER": "2"}


def _names(profiles: list[Profile]) -> set[str]:
    return {p.name for p in profiles}


IF_MIB, ENTITY_SENSOR, UPS_MIB, LM = "1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.99.1.1.1.1", "1.3.6.1.2.1.33.1", \
    "1.3.6.1.4.1.2021.13.16"
XUPS, MGE, RPDU = "1.3.6.1.4.1.534.1.2", "1.3.6.1.4.1.705.1.5", "1.3.6.1.4.1.318.1.1.12.1"
ENTITY, HR = "1.3.6.1.2.1.47.1.1.1.1", "1.3.6.1.2.1.25"


def test_profiles_are_chosen_by_role_identity_and_the_probes_the_device_answers():
    profiles = load_profiles("")
    cisco = "1.3.6.1.4.1.9.1.2494"
    answered = [IF_MIB, ENTITY, ENTITY_SENSOR]
    assert _names(select_profiles(profiles, role="switch", sys_object_id=cisco, answered=answered)) == {
        "system", "if-mib", "entity", "entity-sensor"}
    # a standard MIB is used only where the device answers it, whatever the role
    assert _names(select_profiles(profiles, role="switch", sys_object_id=cisco, answered=[])) == {"system"}
    assert "lm-sensors" in _names(select_profiles(profiles, role="hypervisor", sys_object_id="1.3.6.1.4.1.8072.3.2.10",
                                                  answered=[LM]))
    assert "host-resources" in _names(select_profiles(profiles, role="storage", sys_object_id="1.3.6.1.4.1.674.1",
                                                      answered=[HR]))
    ups = _names(select_profiles(profiles, role="ups", sys_object_id="1.3.6.1.4.1.318.1.3.27", answered=[UPS_MIB]))
    assert "ups-mib" in ups and "eaton-xups" not in ups and "if-mib" not in ups
    assert "ups-mib" not in _names(select_profiles(profiles, role="switch", sys_object_id="1.3.6.1.4.1.318.1.3.27",
                                                   answered=[UPS_MIB]))  # the role narrows
    eaton = _names(select_profiles(profiles, role="ups", sys_object_id="1.3.6.1.4.1.534.1", answered=[UPS_MIB, XUPS]))
    assert "eaton-xups" in eaton and "ups-mib" not in eaton  # the vendor profile overrides the generic one
    # an Eaton 9PX reporting the MGE enterprise: XUPS is chosen because it answers, not by enterprise
    nine_px = _names(select_profiles(profiles, role="ups", sys_object_id="1.3.6.1.4.1.705.1",
                                     answered=[UPS_MIB, XUPS, MGE]))
    assert "eaton-xups" in nine_px and not {"ups-mib", "mge-ups", "mge-ups-lines"} & nine_px
    assert "eaton-xups" not in _names(select_profiles(profiles, role="ups", sys_object_id="1.3.6.1.4.1.534.1",
                                                      answered=[UPS_MIB]))
    # APC rPDU, also Dell-branded (a Dell sysObjectID): by the rPDU group answering
    for oid in ("1.3.6.1.4.1.318.1.3.4.6", "1.3.6.1.4.1.674.10903.200.2.200"):
        assert "apc-rpdu" in _names(select_profiles(profiles, role="pdu", sys_object_id=oid, answered=[RPDU]))
    assert "apc-rpdu" not in _names(select_profiles(profiles, role="pdu", sys_object_id="1.3.6.1.4.1.3180",
                                                    answered=[]))


def test_detect_by_sys_descr_and_probe(tmp_path):
    (tmp_path / "acme.yaml").write_text(
        "name: acme\ndetect: {roles: [ups, other], sys_object_id: [1.3.6.1.4.1.705], sys_descr: '(?i)acme ups',"
        " probe: [1.3.6.1.4.1.534.1]}\n")
    profiles = load_profiles(str(tmp_path))
    pick = dict((p.name, why) for p, why in detect_profiles(
        profiles, role="ups", sys_object_id="1.3.6.1.4.1.99", sys_descr="ACME UPS 3000",
        answered=["1.3.6.1.4.1.534.1"]))
    assert pick["acme"] == "sysDescr matches /(?i)acme ups/; answers 1.3.6.1.4.1.534.1"
    assert "acme" in _names(select_profiles(profiles, role="ups", sys_object_id="1.3.6.1.4.1.705.1",
                                            answered=["1.3.6.1.4.1.534.1"]))
    assert "acme" not in _names(select_profiles(profiles, role="ups", sys_object_id="1.3.6.1.4.1.705.1", answered=[]))
    assert "acme" not in _names(select_profiles(profiles, role="ups", sys_object_id="1.3.6.1.4.1.7050",
                                                answered=["1.3.6.1.4.1.534.1"]))  # prefix at an arc boundary only
    assert "acme" not in _names(select_profiles(profiles, role="pdu", sys_object_id="1.3.6.1.4.1.705.1",
                                                answered=["1.3.6.1.4.1.534.1"]))


def test_a_user_directory_adds_and_replaces_profiles(tmp_path):
    (tmp_path / "acme.yaml").write_text(
        "name: acme-ups\nmatch: {roles: [ups], sys_object_id: [1.3.6.1.4.1.99999]}\noverrides: [ups-mib]\n"
        "scalars:\n  - {oid: 1.3.6.1.4.1.99999.1.1.0, metric: ups_battery_charge_percent}\n")
    (tmp_path / "system.yaml").write_text("name: system\nscalars:\n  - {oid: 1.3.6.1.2.1.1.5.0, fact: sys_name}\n")
    profiles = load_profiles(str(tmp_path))
    chosen = select_profiles(profiles, role="ups", sys_object_id="1.3.6.1.4.1.99999.7")
    assert "acme-ups" in _names(chosen) and "ups-mib" not in _names(chosen)
    system = next(p for p in profiles if p.name == "system")
    assert [s.oid for s in system.scalars] == ["1.3.6.1.2.1.1.5.0"]


@pytest.mark.parametrize("body, message", [
    ("name: bad\nscalars:\n  - {oid: 1.2.3.0, metric: no_such_metric}\n", "unknown metric"),
    ("name: bad\ntables:\n  - name: t\n    columns: {a: 1.2.3}\n"
     "    samples: [{metric: fan_rpm, sources: [{column: b}]}]\n", "undeclared columns"),
    ("name: bad\nscalars:\n  - {oid: 1.2.3.0}\n", "exactly one"),
    ("name: bad\nsurprise: 1\n", "surprise"),
])
def test_invalid_profiles_are_refused_with_the_reason(tmp_path, body, message):
    (tmp_path / "bad.yaml").write_text(body)
    with pytest.raises(ConfigurationError, match=message):
        load_profiles(str(tmp_path))


def test_entity_sensor_values_are_scaled_by_exponent_and_precision():
    profile = next(p for p in load_profiles("") if p.name == "entity-sensor")
    row = {"entPhySensorType": Varbind("x", "integer", 8), "entPhySensorScale": Varbind("x", "integer", 9),
           "entPhySensorPrecision": Varbind("x", "integer", 1), "entPhySensorValue": Varbind("x", "integer", 385),
           "entPhysicalName": Varbind("x", "octets", b"CPU")}
    milli = dict(row) | {"entPhySensorScale": Varbind("x", "integer", 8), "entPhySensorPrecision":
                         Varbind("x", "integer", 0), "entPhySensorValue": Varbind("x", "integer", 41000),
                         "entPhysicalName": Varbind("x", "octets", b"Inlet")}
    out = evaluate([profile], scalars={}, tables={"sensors": {"1": row, "2": milli}}, at=0.0)
    assert {s.label("sensor"): s.value for s in out.samples} == {"CPU": pytest.approx(38.5), "Inlet": 41.0}


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    for template in RECORDINGS.glob("*.snmprec"):
        (data / template.name).write_text(render(template.read_text(), VALUES))
    return data


async def _poll_twice(agent, role: str, community: str):
    target = Target(device_id=1, name=community, role=role,
                    snmp=agent.target("2c", community=community, timeout=3.0, retries=2))
    async with SnmpClient() as client:
        first, extras = await poll_target(client, target)
        target.previous_counters, target.previous_uptime = first.counters, extras.uptime_ticks
        target.previous_at = first.at.timestamp()
        await asyncio.sleep(1.0)
        second, _ = await poll_target(client, target)
    return first, second


def _value(result, metric: str, **labels: str) -> float:
    found = [s.value for s in result.samples if s.metric == metric and all(s.label(k) == v for k, v in labels.items())]
    assert len(found) == 1, (metric, labels, [s for s in result.samples if s.metric == metric])
    return found[0]


def test_each_recording_polled_through_snmpsim_gives_its_metrics(snmpsim_agent, recordings):
    agent = snmpsim_agent(recordings, community="switch")

    first, sw = asyncio.run(_poll_twice(agent, "switch", "switch"))
    assert first.reachable and sw.reachable and sw.error is None
    assert sw.facts["serial"] == "SN-TEST-1" and sw.facts["model"] == "C9300-48T"
    assert sw.facts["sys_object_id"] == "1.3.6.1.4.1.9.1.2494" and sw.facts["sys_name"] == "sim-dev"
    assert not any(s.metric == "if_in_bps" for s in first.samples)  # first poll: no rate yet
    assert _value(sw, "if_oper_up", ifname="Gi1/0/5") == 0 and _value(sw, "if_admin_up", ifname="Gi1/0/5") == 1
    assert _value(sw, "if_admin_up", ifname="Gi1/0/6") == 0
    assert _value(sw, "if_speed_bps", ifname="Te1/1/1") == 10e9
    assert _value(sw, "if_in_bps", ifname="Gi1/0/1") == pytest.approx(2.5e6 * 8, rel=0.2)
    assert _value(sw, "if_utilization_percent", ifname="Te1/1/1") == pytest.approx(20.0, rel=0.2)
    assert 28 <= _value(sw, "temperature_celsius", sensor="Inlet Temp") <= 34
    assert 6400 <= _value(sw, "fan_rpm", sensor="Fan 1") <= 7200
    assert _value(sw, "snmp_bad_community_per_second") == 0.0
    assert _value(sw, "device_uptime_seconds") >= 86400

    _, hv = asyncio.run(_poll_twice(agent, "hypervisor", "hypervisor"))
    assert hv.facts["model"] == "PowerEdge R750"
    assert 10 <= _value(hv, "cpu_load_percent") <= 70
    assert 55 <= _value(hv, "memory_used_percent") <= 70
    assert _value(hv, "storage_used_percent", storage="/") == pytest.approx(9_100_000 / 24_000_000 * 100)
    assert 34 <= _value(hv, "temperature_celsius", sensor="Package id 0") <= 42
    assert 9000 <= _value(hv, "fan_rpm", sensor="Fan1") <= 10000
    assert _value(hv, "if_in_bps", ifname="ens1f0") == pytest.approx(60e6 * 8, rel=0.2)

    _, st = asyncio.run(_poll_twice(agent, "storage", "storage"))
    assert _value(st, "storage_used_percent", storage="Pool A") == pytest.approx(62.5, abs=0.5)
    assert 35 <= _value(st, "temperature_celsius", sensor="Controller A Temp") <= 41

    _, ups = asyncio.run(_poll_twice(agent, "ups", "ups"))
    assert _value(ups, "ups_on_battery") == 1 and _value(ups, "ups_battery_charge_percent") == 100
    assert 39 * 60 <= _value(ups, "ups_runtime_seconds") <= 45 * 60
    assert 223 <= _value(ups, "ups_input_voltage_volts") <= 233 and 34 <= _value(ups, "ups_load_percent") <= 42
    assert ups.facts["model"] == "Smart-UPS SRT 10000"

    _, eaton = asyncio.run(_poll_twice(agent, "ups", "ups-eaton"))
    assert "eaton-xups" in eaton.facts["profiles"] and "ups-mib" not in eaton.facts["profiles"]
    assert _value(eaton, "ups_on_battery") == 0 and 2200 <= _value(eaton, "ups_runtime_seconds") <= 2600
    assert 225 <= _value(eaton, "ups_input_voltage_volts") <= 233

    _, pdu = asyncio.run(_poll_twice(agent, "pdu", "pdu"))
    assert 1850 <= _value(pdu, "pdu_power_watts") <= 2150 and pdu.facts["serial"] == "SN-TEST-1"
    assert {s.label("outlet") for s in pdu.samples if s.metric == "pdu_outlet_power_watts"} == {
        "outlet 1", "outlet 2", "outlet 3", "outlet 4"}
