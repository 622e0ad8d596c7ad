"""The Prometheus alerts mirror dcops' built-in rules: same names, severities, thresholds, hysteresis, for:."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from dcops.monitoring.rules import Rule, load_rules

ALERTS_FILE = Path(__file__).resolve().parents[2] / "dashboards" / "prometheus" / "rules" / "dcops-alerts.yml"
POLL_INTERVAL_S = 60  # dcops' default; Prometheus scrapes once per poll interval in the example configuration
#: summaries that cannot say the same thing in Prometheus, and why
SUMMARY_EXCEPTIONS = {"unexpected_reboot": "resets() counts reboots; the uptime it fell to is not in the expression"}
PROMETHEUS_ONLY_GROUP = "dcops-prometheus-only"


def _duration_s(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([smhd])", text))


def _num(value: float) -> str:
    return f"{value:g}"


def _prometheus_alerts() -> list[tuple[str, dict[str, Any]]]:
    doc = yaml.safe_load(ALERTS_FILE.read_text())
    return [(group["name"], rule) for group in doc["groups"] for rule in group["rules"]]


def _mirrorable(rule: Rule) -> bool:
    """A rule Prometheus can judge from exported metrics alone (no traps, facts or inventory lists)."""
    return rule.kind in ("metric", "decreased") and rule.subjects_in is None


def _by_rule() -> dict[str, dict[str, Any]]:
    return {alert["labels"]["rule"]: alert for _, alert in _prometheus_alerts() if "rule" in alert["labels"]}


def test_every_metric_rule_is_mirrored_and_nothing_else() -> None:
    dcops_rules = {rule.name: rule for rule in load_rules()}
    mirrorable = {name for name, rule in dcops_rules.items() if _mirrorable(rule)}
    mirrored = set(_by_rule())
    assert mirrored - set(dcops_rules) == set(), "alerts naming a dcops rule that does not exist"
    assert mirrorable - mirrored == set(), "dcops rules on metrics with no Prometheus alert"
    assert mirrored <= mirrorable
    for group, alert in _prometheus_alerts():
        assert ("rule" in alert["labels"]) != (group == PROMETHEUS_ONLY_GROUP), alert["alert"]


@pytest.mark.parametrize("rule", [r for r in load_rules() if _mirrorable(r)], ids=lambda r: r.name)
def test_alert_matches_dcops_rule(rule: Rule) -> None:
    alert = _by_rule()[rule.name]
    expr = " ".join(alert["expr"].split())
    assert alert["labels"]["severity"] == rule.severity
    assert alert["labels"]["category"] == rule.category
    expected_for = rule.for_s if rule.for_polls == 1 else (rule.for_polls - 1) * POLL_INTERVAL_S
    assert _duration_s(alert.get("for", "0s")) == expected_for
    if rule.metric == "rack_power_percent":
        subject = "100 * dcops_rack_power_draw_watts / (dcops_rack_power_budget_watts > 0)"
    elif rule.kind == "decreased":
        subject = f"resets(dcops_{rule.metric}["
    else:
        subject = f"dcops_{rule.metric}"
    assert expr.startswith(subject)
    if rule.above is not None:
        assert f"{subject} > {_num(rule.above)}" in expr
    if rule.below is not None:
        assert f"{subject} < {_num(rule.below)}" in expr
    clear = [(">", rule.clear_below), ("<", rule.clear_above)]
    for op, value in clear:
        if value is not None:
            assert f"or ({subject} {op} {_num(value)} and ignoring (" in expr
            assert f'ALERTS{{alertname="{alert["alert"]}", alertstate="firing"}}' in expr
    if all(value is None for _, value in clear):
        assert "ALERTS" not in expr
    for metric, value in rule.when.items():
        assert f"and dcops_{metric} == {_num(value)}" in expr
    if rule.name not in SUMMARY_EXCEPTIONS:
        ours = re.sub(r"\{\{.*?\}\}", "{}", alert["annotations"]["summary"])
        theirs = re.sub(r"\{\w+\}", "{}", rule.summary)
        assert ours == theirs
