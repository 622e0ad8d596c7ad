"""Rules as data: the shipped YAML loads, bad rules are refused with a clear message, users add their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcops.exceptions import ValidationError
from dcops.monitoring.rules import load_rules, parse_duration, parse_rule

HEALTH = {"device_unreachable", "interface_down", "interface_errors", "interface_discards", "link_utilization",
          "cpu_high", "storage_full", "memory_high", "temperature_high", "ups_on_battery", "ups_battery_low",
          "ups_runtime_low", "rack_power_over_budget"}
SECURITY = {"snmp_auth_failure_trap", "snmp_bad_community_rising", "unexpected_reboot", "firmware_changed",
            "hardware_swapped", "unused_port_up", "v3_only_answers_v1v2c", "default_community"}


def test_shipped_rules_cover_the_issue() -> None:
    rules = {r.name: r for r in load_rules()}
    assert set(rules) >= HEALTH | SECURITY
    assert all(rules[n].category == "security" for n in SECURITY)
    assert rules["cpu_high"].for_s == 300 and rules["cpu_high"].clear_below == 80
    assert rules["device_unreachable"].for_polls == 3


@pytest.mark.parametrize(("raw", "message"), [
    ({"name": "X", "severity": "warning", "metric": "cpu_load_percent", "above": 1}, "lower_snake_case"),
    ({"name": "x", "severity": "urgent", "metric": "cpu_load_percent", "above": 1}, "severity"),
    ({"name": "x", "severity": "info", "metric": "cpu_typo", "above": 1}, "unknown metric 'cpu_typo'"),
    ({"name": "x", "severity": "info", "metric": "cpu_load_percent"}, "exactly one of above or below"),
    ({"name": "x", "severity": "info", "metric": "cpu_load_percent", "above": 80, "clear_below": 90}, "clear_below"),
    ({"name": "x", "severity": "info", "event": "coldStart", "metric": "cpu_load_percent"}, "exactly one condition"),
    ({"name": "x", "severity": "info", "metric": "cpu_load_percent", "above": 1, "for": "soon"}, "duration"),
    ({"name": "x", "severity": "info", "fact_differs": "serial"}, "from_inventory"),
])
def test_bad_rules_are_refused(raw: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_rule(raw)


def test_durations() -> None:
    assert parse_duration("90s", what="x") == 90
    assert parse_duration("5m", what="x") == 300
    assert parse_duration("1h", what="x") == 3600
    assert parse_duration(15, what="x") == 15


def test_user_directory_adds_and_replaces_rules(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(
        "rules:\n"
        "  - {name: cpu_high, severity: critical, metric: cpu_load_percent, above: 70, clear_below: 60}\n"
        "  - {name: fan_slow, severity: warning, metric: fan_rpm, below: 1000, summary: 'fan {subject} slow'}\n"
    )
    rules = {r.name: r for r in load_rules(tmp_path)}
    assert rules["cpu_high"].severity == "critical" and rules["cpu_high"].above == 70
    assert rules["fan_slow"].render(subject="fan1") == "fan fan1 slow"
    (tmp_path / "bad.yaml").write_text("rules: [ {name: broken\n")
    with pytest.raises(ValidationError, match="not valid YAML"):
        load_rules(tmp_path)
