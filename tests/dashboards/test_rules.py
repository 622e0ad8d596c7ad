"""The Prometheus rules and example configuration pass promtool, and their unit tests can fail."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

PROM = Path(__file__).resolve().parents[2] / "dashboards" / "prometheus"
RULES = sorted((PROM / "rules").glob("*.yml"))
UNIT_TESTS = sorted((PROM / "tests").glob("*_test.yml"))


def promtool(*args: str, cwd: Path = PROM) -> subprocess.CompletedProcess[str]:
    """Run promtool (Debian package ``prometheus``); fail, never skip, when it is missing."""
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool is missing: install the Debian package 'prometheus' (see .ci/apt-packages.txt)")
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_rule_files_and_unit_tests_exist() -> None:
    assert [p.name for p in RULES] == ["dcops-alerts.yml", "dcops-recording.yml"]
    assert len(UNIT_TESTS) >= 4


def test_promtool_check_rules() -> None:
    run = promtool("check", "rules", *[str(p) for p in RULES])
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("SUCCESS") == len(RULES)


@pytest.mark.parametrize("unit_test", UNIT_TESTS, ids=lambda p: p.name)
def test_promtool_test_rules(unit_test: Path) -> None:
    run = promtool("test", "rules", unit_test.name, cwd=unit_test.parent)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


def test_every_alert_is_unit_tested() -> None:
    alerts = {rule["alert"] for group in yaml.safe_load((PROM / "rules" / "dcops-alerts.yml").read_text())["groups"]
              for rule in group["rules"]}
    records = {rule["record"] for group in yaml.safe_load((PROM / "rules" / "dcops-recording.yml").read_text())
               ["groups"] for rule in group["rules"]}
    fired: set[str] = set()
    quiet: set[str] = set()
    evaluated: set[str] = set()
    for path in UNIT_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
            for check in case.get("promql_expr_test", []):
                evaluated.add(check["expr"].split("{")[0].strip())
    assert alerts - fired == set(), "alerts never shown to fire"
    assert alerts - quiet == set(), "alerts never shown to stay quiet"
    assert records - evaluated == set(), "recording rules without a promql_expr_test"


def _mutated_copy(tmp_path: Path, old: str, new: str) -> Path:
    """Copy the rules and tests to tmp_path with one change in the alerting rules."""
    copy = tmp_path / "prometheus"
    shutil.copytree(PROM, copy)
    alerts = copy / "rules" / "dcops-alerts.yml"
    text = alerts.read_text()
    assert old in text
    alerts.write_text(text.replace(old, new, 1))
    return copy


@pytest.mark.parametrize(("old", "new", "unit_test"), [
    ("dcops_cpu_load_percent > 90\n", "dcops_cpu_load_percent > 97\n", "thresholds_test.yml"),  # threshold
    ("dcops_device_up < 1\n        for: 2m", "dcops_device_up < 1\n        for: 5m", "health_test.yml"),  # for:
    ("dcops_cpu_load_percent > 80\n", "dcops_cpu_load_percent > 90\n", "thresholds_test.yml"),  # hysteresis
    ("dcops_if_oper_up < 1 and dcops_if_admin_up == 1", "dcops_if_oper_up < 1", "health_test.yml"),  # condition
    ("severity: critical\n          category: health\n          rule: ups_on_battery",
     "severity: warning\n          category: health\n          rule: ups_on_battery", "health_test.yml"),  # labels
])
def test_unit_tests_catch_a_broken_rule(tmp_path: Path, old: str, new: str, unit_test: str) -> None:
    copy = _mutated_copy(tmp_path, old, new)
    assert promtool("check", "rules", "rules/dcops-alerts.yml", cwd=copy).returncode == 0
    run = promtool("test", "rules", unit_test, cwd=copy / "tests")
    assert run.returncode != 0, f"the unit tests did not notice {old!r} -> {new!r}"
    assert "FAILED" in run.stdout + run.stderr


def test_promtool_check_example_config(tmp_path: Path) -> None:
    copy = tmp_path / "prometheus"
    shutil.copytree(PROM, copy)
    (copy / "dcops.token").write_text("a-staff-token\n")
    run = promtool("check", "config", "prometheus.yml", cwd=copy)
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"SUCCESS: 2 rule files found", run.stdout + run.stderr)
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "dcops"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"] == {"type": "Bearer", "credentials_file": "dcops.token"}
    assert sorted(config["rule_files"]) == [f"rules/{p.name}" for p in sorted(RULES, key=lambda p: p.name)]
