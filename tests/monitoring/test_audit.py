"""`dcops snmp audit` against real snmpd agents: default communities and v3-only devices answering v1/v2c fire
alerts, which resolve once the agent is fixed; `dcops alerts` lists, acknowledges, resolves and silences."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from dcops.monitoring.alert_models import Alert
from dcops.monitoring.state_models import MonitoringSetting


@pytest.fixture(scope="module")
def cli_app() -> Any:
    from dcops.cli import _register_features, app

    _register_features()
    return app


def _device(factory: Any, session: Any, name: str, port: int, v3_only: bool) -> Any:
    device = factory.device(name=name, role="switch", mgmt_address="127.0.0.1")
    session.add(MonitoringSetting(device_id=device.id, snmp_port=port, v3_only=v3_only))
    session.commit()
    return device


def _open(session: Any) -> set[tuple[str, str]]:
    session.expire_all()
    return {(a.device_name, a.rule) for a in session.execute(select(Alert).where(Alert.state != "resolved")).scalars()}


def test_audit_flags_default_communities_and_v3_only_then_resolves(cli_app: Any, db: str, session: Any,
                                                                   factory: Any, snmpd_agent: Any) -> None:
    weak = snmpd_agent(communities=("public", "private"))
    v3_leaky = snmpd_agent(communities=("corp-ro-1977",))
    v3_clean = snmpd_agent(communities=())
    _device(factory, session, "sw-weak", weak.port, v3_only=False)
    _device(factory, session, "sw-leaky", v3_leaky.port, v3_only=True)
    _device(factory, session, "sw-clean", v3_clean.port, v3_only=True)

    result = CliRunner().invoke(cli_app, ["snmp", "audit", "--json", "--timeout", "0.5"])
    assert result.exit_code == 1, result.output  # findings -> non-zero exit, for cron and CI
    rows = {r["device"]: r for r in json.loads(result.output)}
    assert rows["sw-weak"]["answers"] == "v1 public, v2c public, v1 private, v2c private"
    assert "default community private, public" in rows["sw-weak"]["findings"]
    assert rows["sw-leaky"]["answers"] == ""  # its own community is not a default one...
    assert rows["sw-clean"]["findings"] == ""
    assert "corp-ro-1977" not in result.output
    assert _open(session) == {("sw-weak", "default_community")}

    # the v3-only device is probed with an inventory community too (stale credentials are a finding)
    from dcops.monitoring.audit import audit

    audit(session, extra_communities=("corp-ro-1977",), timeout=0.5)
    assert _open(session) == {("sw-weak", "default_community"), ("sw-leaky", "v3_only_answers_v1v2c")}

    # fix the weak agent: same port, a non-default community; the alert resolves at the next audit
    port = weak.port
    weak.stop()
    snmpd_agent(port=port, communities=("n0t-default",))
    audit(session, extra_communities=("corp-ro-1977",), timeout=0.5)
    assert _open(session) == {("sw-leaky", "v3_only_answers_v1v2c")}
    session.rollback()

    # the periodic form (dcops serve, DCOPS_AUDIT_INTERVAL) runs the same round off the event loop
    import asyncio

    from dcops.monitoring.audit import audit_round

    v3_leaky.stop()
    results = asyncio.run(audit_round(timeout=0.5))
    assert {r.device for r in results} == {"sw-weak", "sw-leaky", "sw-clean"}
    assert _open(session) == set()


def test_alerts_cli_list_ack_resolve_silence(cli_app: Any, db: str, session: Any, factory: Any) -> None:
    from datetime import UTC, datetime

    from dcops.monitoring import alerting
    from dcops.monitoring.types import PollResult, Sample

    ups = factory.device(name="ups-cli", role="ups")
    alerting.evaluate_poll(session, result=PollResult(device_id=ups.id, device_name="ups-cli", at=datetime.now(UTC),
                                                      reachable=True, samples=[Sample("ups_on_battery", 1)]),
                           previous=None)
    run = CliRunner().invoke
    listed = json.loads(run(cli_app, ["alerts", "list", "--json"]).output)
    assert [(a["rule"], a["state"]) for a in listed] == [("ups_on_battery", "firing")]
    alert_id = listed[0]["id"]
    result = run(cli_app, ["alerts", "ack", str(alert_id), "-m", "on it"])
    assert result.exit_code == 0 and "acknowledged" in result.output
    again = run(cli_app, ["alerts", "ack", str(alert_id)])
    assert again.exit_code != 0 and "already" not in str(again.exception) and "acknowledged" in str(again.exception)
    result = run(cli_app, ["alerts", "silence", "--device", "ups-cli", "-m", "battery swap", "--hours", "1"])
    assert result.exit_code == 0 and "silence" in result.output
    assert "battery swap" in run(cli_app, ["alerts", "silences"]).output
    assert run(cli_app, ["alerts", "silence", "--device", "nope", "-m", "x"]).exit_code != 0
    assert run(cli_app, ["alerts", "resolve", str(alert_id), "-m", "mains back"]).exit_code == 0
    assert json.loads(run(cli_app, ["alerts", "list", "--json"]).output) == []
    shown = json.loads(run(cli_app, ["alerts", "show", str(alert_id), "--json"]).output)
    assert [e["kind"] for e in shown["events"]] == ["firing", "acknowledged", "resolved"]
