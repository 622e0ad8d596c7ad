"""``dcops poll``: an inventory device, or an address for commissioning (v2c and v3), secrets never echoed."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dcops.auth.actor import SYSTEM
from dcops.cli import app as root_app
from dcops.dcim.service import save_credential
from dcops.exceptions import NotFoundError
from dcops.monitoring.state_models import DeviceState, MonitoringSetting
from tests.monitoring.agents import AUTH_PASS, PRIV_PASS

runner = CliRunner()


@pytest.fixture(autouse=True, scope="module")
def _features() -> None:
    """Register the features' commands once (other test modules may have done it already)."""
    from dcops.cli import _register_features

    if not any((c.name or c.callback.__name__) == "poll" for c in root_app.registered_commands):
        _register_features()


def test_poll_a_target_with_a_community_prints_json_and_hides_the_secret(snmpd):
    result = runner.invoke(root_app, ["poll", "--once", "--target", snmpd.address, "--role", "hypervisor", "--json"],
                           env={"DCOPS_SNMP_COMMUNITY": snmpd.community})
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["reachable"] and data["device_id"] is None and data["facts"]["sys_name"] == "dcops-test-agent"
    assert any(s["metric"] == "memory_used_percent" for s in data["samples"])


def test_poll_a_target_over_v3_prints_a_table(snmpd):
    result = runner.invoke(root_app, ["poll", "--target", snmpd.address, "--v3-user", "sha256-aes256",
                                      "--auth-protocol", "sha256", "--auth-key", AUTH_PASS, "--priv-protocol", "aes256",
                                      "--priv-key", PRIV_PASS])
    assert result.exit_code == 0, result.output
    assert "up" in result.output and "device_uptime_seconds" in result.output
    assert AUTH_PASS not in result.output and PRIV_PASS not in result.output


def test_poll_an_unreachable_target_exits_1(snmpd):
    result = runner.invoke(root_app, ["poll", "--target", snmpd.address, "--community", "wrong", "--timeout", "0.3",
                                      "--retries", "0", "--json"])
    assert result.exit_code == 1 and json.loads(result.output)["reachable"] is False
    assert "wrong" not in result.output.replace('"reachable"', "")


def test_poll_needs_a_credential_with_target():
    result = runner.invoke(root_app, ["poll", "--target", "127.0.0.1:161"], env={"DCOPS_SNMP_COMMUNITY": ""})
    assert result.exit_code != 0 and "--community" in result.output


def test_poll_an_inventory_device_records_it(session, factory, snmpd):
    cred = save_credential(session, actor=SYSTEM, data={"name": "v2", "kind": "snmp_v2c", "community": "public"})
    device = factory.device(name="hv-9", role="hypervisor", mgmt_address="127.0.0.1", snmp_credential_id=cred.id)
    session.add(MonitoringSetting(device_id=device.id, snmp_port=snmpd.port))
    session.commit()
    result = runner.invoke(root_app, ["poll", "--once", "hv-9", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["device"] == "hv-9"
    session.expire_all()
    assert session.get(DeviceState, device.id).reachable
    session.rollback()
    result = runner.invoke(root_app, ["poll", "--once", "no-such-device"])
    assert isinstance(result.exception, NotFoundError) and "no-such-device" in str(result.exception)
