"""The pure alert engine: each rule fires, honours for:, hysteresis, resolves; dedup; flapping; suppression."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dcops.monitoring.evaluate import FLAP_LIMIT, Snapshot, State, evaluate, suppression
from dcops.monitoring.rules import Rule, load_rules

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
RULES = {r.name: r for r in load_rules()}


class Engine:
    """Feed snapshots one after the other, keeping states like the service does."""

    def __init__(self, *names: str) -> None:
        self.rules: list[Rule] = [RULES[n] for n in names]
        self.states: dict[tuple[str, str], State] = {}
        self.t = T0

    def step(self, seconds: float = 60, **kw: Any) -> list[tuple[str, str, str]]:
        self.t += timedelta(seconds=seconds)
        snap = Snapshot(at=self.t, device_id=1, device="sw1", **kw)
        self.states, transitions = evaluate(self.rules, snap, self.states)
        return [(t.rule.name, t.subject, t.to) for t in transitions]

    def state(self, rule: str, subject: str = "") -> str:
        return self.states[(rule, subject)].state


def test_cpu_waits_for_its_for_duration_and_clears_past_hysteresis() -> None:
    e = Engine("cpu_high")
    assert e.step(samples={"cpu_load_percent": {"": 95}}) == [("cpu_high", "", "pending")]
    for _ in range(4):
        assert e.step(samples={"cpu_load_percent": {"": 96}}) == []
    assert e.step(samples={"cpu_load_percent": {"": 97}}) == [("cpu_high", "", "firing")]  # 5 minutes held
    assert e.step(samples={"cpu_load_percent": {"": 85}}) == []  # inside the band (80..90): still firing
    assert e.state("cpu_high") == "firing"
    assert e.step(samples={"cpu_load_percent": {"": 79}}) == [("cpu_high", "", "resolved")]


def test_pending_that_clears_never_fires() -> None:
    e = Engine("cpu_high")
    e.step(samples={"cpu_load_percent": {"": 95}})
    assert e.step(samples={"cpu_load_percent": {"": 50}}) == [("cpu_high", "", "cancelled")]
    assert e.step(samples={"cpu_load_percent": {"": 50}}) == []


def test_unreachable_needs_three_failed_polls_in_a_row() -> None:
    e = Engine("device_unreachable")
    down, up = {"device_up": {"": 0}}, {"device_up": {"": 1}}
    assert e.step(samples=down) == [("device_unreachable", "", "pending")]
    assert e.step(samples=up) == [("device_unreachable", "", "cancelled")]
    e.step(samples=down)
    e.step(samples=down)
    assert e.step(samples=down) == [("device_unreachable", "", "firing")]
    assert e.step(samples=up) == [("device_unreachable", "", "resolved")]


def test_interface_down_only_when_admin_up_and_deduplicated_per_subject() -> None:
    e = Engine("interface_down")
    s = {"if_oper_up": {"ge1": 0, "ge2": 0, "ge3": 1}, "if_admin_up": {"ge1": 1, "ge2": 0, "ge3": 1}}
    assert e.step(samples=s) == [("interface_down", "ge1", "pending")]
    assert e.step(samples=s) == [("interface_down", "ge1", "firing")]
    assert e.step(samples=s) == []  # one alert per (rule, device, subject), not one per poll
    s["if_oper_up"]["ge1"] = 1
    assert e.step(samples=s) == [("interface_down", "ge1", "resolved")]


@pytest.mark.parametrize(("rule", "metric", "bad", "good"), [
    ("interface_errors", "if_in_errors_per_second", 5.0, 0.0),
    ("interface_discards", "if_in_discards_per_second", 50.0, 0.0),
    ("link_utilization", "if_utilization_percent", 95.0, 40.0),
    ("storage_full", "storage_used_percent", 97.0, 50.0),
    ("memory_high", "memory_used_percent", 99.0, 50.0),
    ("ups_on_battery", "ups_on_battery", 1.0, 0.0),
    ("ups_battery_low", "ups_battery_charge_percent", 20.0, 100.0),
    ("ups_runtime_low", "ups_runtime_seconds", 120.0, 3000.0),
    ("snmp_bad_community_rising", "snmp_bad_community_per_second", 2.0, 0.0),
])
def test_each_threshold_rule_fires_and_resolves(rule: str, metric: str, bad: float, good: float) -> None:
    e = Engine(rule)
    fired = []
    for _ in range(12):
        fired += e.step(samples={metric: {"x": bad}})
    assert (rule, "x", "firing") in fired
    assert e.step(samples={metric: {"x": good}}) == [(rule, "x", "resolved")]


def test_rack_rule_runs_on_rack_snapshots_only() -> None:
    e = Engine("rack_power_over_budget", "cpu_high")
    assert e.step(samples={"rack_power_percent": {"R01": 120}}) == []  # a device snapshot
    e.t += timedelta(minutes=1)
    snap = Snapshot(at=e.t, scope="rack", samples={"rack_power_percent": {"R01": 120}})
    e.states, tr = evaluate(e.rules, snap, e.states)
    assert [(t.rule.name, t.to) for t in tr] == [("rack_power_over_budget", "firing")]
    assert "R01" in tr[0].summary and "120" in tr[0].summary
    snap = Snapshot(at=e.t, scope="rack", samples={"rack_power_percent": {"R01": 90}})
    e.states, tr = evaluate(e.rules, snap, e.states)
    assert [t.to for t in tr] == ["resolved"]


def test_reboot_fires_on_uptime_going_back_and_clears_after_a_while() -> None:
    e = Engine("unexpected_reboot")
    assert e.step(samples={"device_uptime_seconds": {"": 5000}}, previous={"device_uptime_seconds": {"": 4940}}) == []
    assert e.step(samples={"device_uptime_seconds": {"": 30}},
                  previous={"device_uptime_seconds": {"": 5000}}) == [("unexpected_reboot", "", "firing")]
    assert e.step(samples={"device_uptime_seconds": {"": 90}}, previous={"device_uptime_seconds": {"": 30}}) == []
    assert e.step(3600, samples={"device_uptime_seconds": {"": 3690}},
                  previous={"device_uptime_seconds": {"": 90}}) == [("unexpected_reboot", "", "resolved")]


def test_firmware_change_names_the_fact() -> None:
    e = Engine("firmware_changed")
    old = {"sys_descr": "IOS 15.1", "sys_object_id": "1.3.6.1.4.1.9.1.1"}
    assert e.step(facts=old, previous_facts=old) == []
    new = dict(old, sys_descr="IOS 16.9")
    tr = e.step(facts=new, previous_facts=old)
    assert tr == [("firmware_changed", "sys_descr", "firing")]
    assert e.step(7200, facts=new, previous_facts=new) == [("firmware_changed", "sys_descr", "resolved")]


def test_serial_against_inventory() -> None:
    e = Engine("hardware_swapped")
    assert e.step(facts={"serial": "ABC1"}, inventory={"serial": "ABC1"}) == []
    assert e.step(facts={"serial": "ZZZ9"}, inventory={"serial": "ABC1"}) == [("hardware_swapped", "", "firing")]
    summary = e.states[("hardware_swapped", "")]
    assert summary.value == "ZZZ9"
    assert e.step(facts={"serial": "ABC1"}, inventory={"serial": "ABC1"}) == [("hardware_swapped", "", "resolved")]
    assert e.step(facts={"serial": "ZZZ9"}, inventory={"serial": ""}) == []  # no inventory serial: nothing to judge


def test_unused_port_coming_up() -> None:
    e = Engine("unused_port_up")
    inv = {"unused_ports": {"ge9"}}
    assert e.step(samples={"if_oper_up": {"ge1": 1, "ge9": 0}}, inventory=inv) == []
    assert e.step(samples={"if_oper_up": {"ge1": 1, "ge9": 1}}, inventory=inv) == [("unused_port_up", "ge9", "firing")]
    assert e.step(samples={"if_oper_up": {"ge1": 1, "ge9": 0}}, inventory=inv) == [
        ("unused_port_up", "ge9", "resolved")]


def test_v3_only_device_answering_v2c_and_default_community() -> None:
    e = Engine("v3_only_answers_v1v2c", "default_community")
    assert e.step(facts={"answers_v1v2c": "v2c"}, inventory={"v3_only": False}) == []
    assert e.step(facts={"answers_v1v2c": "v2c", "default_community": "public"}, inventory={"v3_only": True}) == [
        ("v3_only_answers_v1v2c", "", "firing"), ("default_community", "", "firing")]
    assert e.step(facts={"answers_v1v2c": "", "default_community": ""}, inventory={"v3_only": True}) == [
        ("v3_only_answers_v1v2c", "", "resolved"), ("default_community", "", "resolved")]


def test_trap_events_fire_once_and_clear_after_quiet() -> None:
    e = Engine("snmp_auth_failure_trap", "link_down_trap", "ups_trap", "cold_start_trap")
    assert e.step(events=[("authenticationFailure", "")]) == [
        ("snmp_auth_failure_trap", "authenticationFailure", "firing")]
    assert e.step(events=[("authenticationFailure", "")]) == []  # deduplicated
    assert e.step(events=[("linkDown", "ge3"), ("upsTrapOnBattery", ""), ("coldStart", "")]) == [
        ("link_down_trap", "ge3", "firing"), ("ups_trap", "upsTrapOnBattery", "firing"),
        ("cold_start_trap", "coldStart", "firing")]
    assert e.step(events=[("linkUp", "ge3")]) == [("link_down_trap", "ge3", "resolved")]
    assert ("snmp_auth_failure_trap", "authenticationFailure", "resolved") in e.step(16 * 60)


def test_unknown_subjects_keep_their_state() -> None:
    e = Engine("ups_on_battery")
    e.step(samples={"ups_on_battery": {"": 1}})
    assert e.step(samples={}) == []  # an unreachable poll says nothing about the battery
    assert e.state("ups_on_battery") == "firing"


def test_flapping_alert_is_reopened_and_damped() -> None:
    e = Engine("ups_on_battery")
    damped = []
    for _ in range(FLAP_LIMIT + 1):
        e.t += timedelta(seconds=10)
        snap = Snapshot(at=e.t, device_id=1, samples={"ups_on_battery": {"": 1}})
        e.states, tr = evaluate(e.rules, snap, e.states)
        assert [t.to for t in tr] == ["firing"]
        damped.append((tr[0].reopened, tr[0].damped))
        e.states[("ups_on_battery", "")].alert_id = 7
        e.step(10, samples={"ups_on_battery": {"": 0}})
    assert damped[0] == (False, False)
    assert damped[1] == (True, False)
    assert damped[-1] == (True, True)
    assert e.states[("ups_on_battery", "")].alert_id == 7


@dataclass
class _Silence:
    id: int
    device_id: int | None
    rule: str | None
    severity: str | None
    starts_at: datetime
    ends_at: datetime

    def matches(self, *, device_id: int | None, rule: str, severity: str, at: datetime) -> bool:
        from dcops.monitoring.alert_models import Silence

        return Silence.matches(self, device_id=device_id, rule=rule, severity=severity, at=at)  # type: ignore[arg-type]


def test_suppression_by_maintenance_silence_and_flapping() -> None:
    s = _Silence(4, device_id=1, rule=None, severity="critical", starts_at=T0, ends_at=T0 + timedelta(hours=1))
    kw: dict[str, Any] = {"rule": "ups_on_battery", "severity": "critical"}
    assert suppression(device_id=1, at=T0, in_maintenance=True, silences=[], **kw) == "device in maintenance"
    assert suppression(device_id=1, at=T0 + timedelta(minutes=5), in_maintenance=False, silences=[s], **kw) \
        == "silenced (silence 4)"
    assert suppression(device_id=2, at=T0, in_maintenance=False, silences=[s], **kw) == ""
    assert suppression(device_id=1, at=T0 + timedelta(hours=2), in_maintenance=False, silences=[s], **kw) == ""
    assert suppression(device_id=1, at=T0, in_maintenance=False, silences=[s], rule="x", severity="warning") == ""
    assert suppression(device_id=1, at=T0, in_maintenance=False, silences=[], damped=True, **kw) == "flapping"
