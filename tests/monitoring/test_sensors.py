"""Sensors as data: scaling, sentinels, descriptions, the device's own limits, states; alerts judged by them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from dcops.monitoring.alerting import poll_snapshot
from dcops.monitoring.evaluate import evaluate
from dcops.monitoring.profiles import Profile
from dcops.monitoring.profiles import evaluate as evaluate_profiles
from dcops.monitoring.rules import load_rules
from dcops.monitoring.sensor_models import SensorThreshold
from dcops.monitoring.sensor_state import effective_limits, judge
from dcops.monitoring.snmp import Varbind
from dcops.monitoring.types import PollResult, Sample

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
VENDOR = """
name: acme-env
detect: {sys_object_id: [1.3.6.1.4.1.99999]}
scalars:
  - {oid: 1.3.6.1.4.1.99999.3.0, metric: ups_runtime_seconds, skip: [0],
     sensor: {class: runtime, descr: Runtime, multiplier: 60, low: 1.3.6.1.4.1.99999.4.0}}
  - {oid: 1.3.6.1.4.1.99999.4.0, sensor: {class: runtime, descr: Low runtime limit, multiplier: 60}}
tables:
  - name: env
    columns:
      name: 1.3.6.1.4.1.99999.2.1.2
      temp: 1.3.6.1.4.1.99999.2.1.3
      high: 1.3.6.1.4.1.99999.2.1.4
      status: 1.3.6.1.4.1.99999.2.1.5
    sensors:
      - {class: temperature, value: temp, divisor: 10, descr: ['{name}', 'Probe {index[1]}'], high: high,
         skip: [-999], group: Env}
      - {class: state, value: status, descr: ['{name} status', 'Probe {index[1]} status'],
         states: {"1": ok, "2": warning, "3": critical}, state_names: {"1": normal, "2": warm, "3": hot}}
  - name: entity
    columns:
      entPhySensorType: 1.3.6.1.2.1.99.1.1.1.1
      entPhySensorScale: 1.3.6.1.2.1.99.1.1.1.2
      entPhySensorPrecision: 1.3.6.1.2.1.99.1.1.1.3
      entPhySensorValue: 1.3.6.1.2.1.99.1.1.1.4
    sensors:
      - {class: voltage, value: entPhySensorValue, entity_scale: true, where: {column: entPhySensorType, in: [4]}}
"""


def vb(oid: str, kind: str, value: object) -> Varbind:
    return Varbind(oid, kind, value)


def _profile() -> Profile:
    return Profile.model_validate(yaml.safe_load(VENDOR))


def _read() -> list:
    env = {
        "1.1": {"name": vb("n", "octets", b"Inlet"), "temp": vb("t", "integer", 235), "high": vb("h", "integer", 400),
                "status": vb("s", "integer", 1)},
        "1.2": {"name": vb("n", "octets", b""), "temp": vb("t", "integer", 671), "high": vb("h", "integer", 870),
                "status": vb("s", "integer", 3)},
        "1.3": {"name": vb("n", "octets", b"Absent"), "temp": vb("t", "integer", -999)},  # the vendor's "no probe"
        "1.4": {"name": vb("n", "octets", b"Broken"), "temp": vb("t", "gauge32", 4294967295)},  # always a sentinel
    }
    entity = {"7": {"entPhySensorType": vb("x", "integer", 4), "entPhySensorScale": vb("x", "integer", 8),
                    "entPhySensorPrecision": vb("x", "integer", 1), "entPhySensorValue": vb("x", "integer", 120)}}
    scalars = {"1.3.6.1.4.1.99999.3.0": vb("1.3.6.1.4.1.99999.3.0", "integer", 12),
               "1.3.6.1.4.1.99999.4.0": vb("1.3.6.1.4.1.99999.4.0", "integer", 15)}
    out = evaluate_profiles([_profile()], scalars=scalars, tables={"env": env, "entity": entity}, at=0.0)
    return out


def test_sensor_readings_carry_their_oid_scaled_value_limits_and_state() -> None:
    out = _read()
    by = {(r.sensor_class, r.descr): r for r in out.sensors}
    inlet = by[("temperature", "Inlet")]
    assert (inlet.value, inlet.high, inlet.oid, inlet.group) == (23.5, 40.0, "1.3.6.1.4.1.99999.2.1.3.1.1", "Env")
    probe = by[("temperature", "Probe 2")]  # empty name: the next template, with the row index's arc
    assert (probe.value, probe.high) == (pytest.approx(67.1), 87.0)
    assert not any(r.descr in ("Absent", "Broken") for r in out.sensors)  # skip list and sentinels dropped
    hot = by[("state", "Inlet status")]
    assert (hot.severity, hot.state_name) == ("ok", "normal")
    assert (by[("state", "Probe 2 status")].severity, by[("state", "Probe 2 status")].state_name) == ("critical", "hot")
    volts = by[("voltage", "voltage 7")]  # milli (8) with one decimal: 120 -> 0.012 V
    assert volts.value == pytest.approx(0.012)
    runtime = by[("runtime", "Runtime")]
    assert (runtime.value, runtime.low, runtime.oid) == (720.0, 900.0, "1.3.6.1.4.1.99999.3.0")
    # the engine exports sensors under their description, and temperatures under the old metric name too
    samples = {(s.metric, s.labels): s.value for s in out.samples}
    assert samples[("temperature_celsius", (("sensor", "Inlet"),))] == 23.5
    assert samples[("sensor_value", (("class", "voltage"), ("sensor", "voltage 7")))] == pytest.approx(0.012)
    assert samples[("ups_runtime_seconds", ())] == 12


def test_limits_come_from_overrides_then_the_device_then_the_class_default() -> None:
    out = _read()
    probe = next(r for r in out.sensors if r.descr == "Probe 2")
    assert effective_limits(probe, "Probe 2", "switch").source == "device"
    assert judge(probe, effective_limits(probe, "Probe 2", "switch")) == "ok"  # 67 °C under the device's own 87
    bare = replace(probe, high=None)
    assert effective_limits(bare, "Probe 2", "switch").high == 90  # a switch ASIC runs hot
    assert judge(bare, effective_limits(bare, "Probe 2", "ups")) == "critical"  # a UPS probe measures the room
    mine = SensorThreshold(device_id=1, sensor_class="temperature", sensor="Probe 2", high=60)
    assert judge(probe, effective_limits(probe, "Probe 2", "switch", [mine])) == "critical"
    off = SensorThreshold(device_id=1, sensor_class="temperature", sensor="", disabled=True)
    assert effective_limits(probe, "Probe 2", "switch", [off]) is None


def _result(sensors: list, samples: list[Sample] | None = None, at: datetime = T0) -> PollResult:
    return PollResult(device_id=1, device_name="sw1", at=at, reachable=True, samples=samples or [], sensors=sensors)


def test_sensor_alerts_use_device_limits_and_name_the_sensor_by_its_description() -> None:
    rules = [replace(r, for_s=0.0) for r in load_rules() if r.kind == "sensor"]
    out = _read()
    snap = poll_snapshot(_result(out.sensors), previous=None, role="switch", inventory={})
    states, transitions = evaluate(rules, snap, {})
    fired = {(t.rule.name, t.subject): t.summary for t in transitions if t.to == "firing"}
    # 67.1 °C against the device's 87 °C: nothing; the state sensor says "hot": critical; runtime under its low
    assert set(fired) == {("sensor_critical", "Probe 2 status"), ("sensor_critical", "Runtime")}
    assert fired[("sensor_critical", "Runtime")] == "sw1 runtime sensor Runtime: 720 s, the device's limit 900 s"
    hot = [replace(r, value=95.0) if r.descr == "Probe 2" else r for r in out.sensors]
    states, transitions = evaluate(rules, poll_snapshot(_result(hot, at=T0 + timedelta(minutes=1)), previous=None,
                                                        role="switch", inventory={}), states)
    assert [(t.rule.name, t.subject, t.to) for t in transitions] == [("temperature_high", "Probe 2", "firing")]
    assert transitions[0].summary == "sw1 temperature Probe 2: 95 °C, the device's limit 87 °C"
    # hysteresis: 86 °C is inside the band under 87 (3 %), the alert stays; 80 °C clears it
    for value, expected in ((86.0, []), (80.0, [("temperature_high", "Probe 2", "resolved")])):
        now = [replace(r, value=value) if r.descr == "Probe 2" else r for r in out.sensors]
        snap = poll_snapshot(_result(now, at=T0 + timedelta(minutes=2)), previous=None, role="switch", inventory={})
        states, transitions = evaluate(rules, snap, states)
        assert [(t.rule.name, t.subject, t.to) for t in transitions] == expected


def _ports(oper: dict[str, int], at: datetime) -> list[Sample]:
    out = []
    for name, up in oper.items():
        out += [Sample("if_admin_up", 1.0, (("ifname", name),)), Sample("if_oper_up", float(up), (("ifname", name),))]
    return out


def test_interface_down_only_for_ports_in_use() -> None:
    rules = [replace(r, for_s=0.0) for r in load_rules() if r.name == "interface_down"]
    first = _result([], _ports({"Gi1/0/1": 1, "Gi1/0/2": 0, "Gi1/0/3": 0}, T0))
    inventory = {"ports_in_use": {"Gi1/0/3"}}  # Gi1/0/3 has an alias
    states, transitions = evaluate(rules, poll_snapshot(first, previous=None, role="switch", inventory=inventory), {})
    assert [(t.subject, t.to) for t in transitions] == [("Gi1/0/3", "firing")]  # never-used Gi1/0/2: nothing
    second = _result([], _ports({"Gi1/0/1": 0, "Gi1/0/2": 0, "Gi1/0/3": 0}, T0), at=T0 + timedelta(minutes=1))
    states, transitions = evaluate(rules, poll_snapshot(second, previous=first, role="switch", inventory=inventory),
                                   states)
    assert [(t.subject, t.to) for t in transitions] == [("Gi1/0/1", "firing")]  # it was up: it went down
    third = _result([], _ports({"Gi1/0/1": 1, "Gi1/0/2": 0, "Gi1/0/3": 0}, T0), at=T0 + timedelta(minutes=2))
    states, transitions = evaluate(rules, poll_snapshot(third, previous=second, role="switch", inventory=inventory),
                                   states)
    assert [(t.subject, t.to) for t in transitions] == [("Gi1/0/1", "resolved")]  # followed until it is back


@pytest.mark.parametrize(("body", "message"), [
    ("tables: [{name: t, columns: {a: 1.2.3}, sensors: [{class: temp, value: a}]}]", "class"),
    ("tables: [{name: t, columns: {a: 1.2.3}, sensors: [{class: fan, value: b}]}]", "undeclared columns: b"),
    ("tables: [{name: t, columns: {a: 1.2.3}, sensors: [{class: fan, value: a, descr: '{nope}'}]}]", "nope"),
    ("tables: [{name: t, columns: {a: 1.2.3}, sensors: [{class: fan, value: a, divisor: 0}]}]", "must not be 0"),
    ("detect: {sys_descr: '(unclosed'}", "regular expression"),
])
def test_bad_sensor_specs_are_refused_with_the_reason(body: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Profile.model_validate(yaml.safe_load("name: bad\n" + body))
