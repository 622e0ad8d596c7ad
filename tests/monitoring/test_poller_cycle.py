"""Poll cycles on the database: target selection, recording, alerts, 30 % timeouts within the interval."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from dcops.auth.actor import SYSTEM
from dcops.dcim.service import save_credential
from dcops.monitoring.poller import Poller, PollerOptions, load_targets, poll_device
from dcops.monitoring.snmp import SnmpClient
from dcops.monitoring.state import poller_status
from dcops.monitoring.state_models import DeviceState, MetricHistory, MonitoringSetting


@pytest.fixture
def silent_ports() -> Iterator[list[int]]:
    """Three UDP ports that never answer (devices that time out)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    yield [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()


def _monitored(session, factory, port: int, *, community: str = "public", role: str = "hypervisor", **kw):
    cred = save_credential(session, actor=SYSTEM, data={"name": f"c-{factory._next()}", "kind": "snmp_v2c",
                                                        "community": community})
    device = factory.device(role=role, mgmt_address="127.0.0.1", snmp_credential_id=cred.id, **kw)
    session.add(MonitoringSetting(device_id=device.id, snmp_port=port, interval_s=60))
    session.commit()
    return device


def test_targets_are_active_or_maintenance_devices_with_a_credential_and_enabled(session, factory, snmpd):
    polled = _monitored(session, factory, snmpd.port)
    maintenance = _monitored(session, factory, snmpd.port, status="maintenance")
    disabled = _monitored(session, factory, snmpd.port)
    session.get(MonitoringSetting, disabled.id).enabled = False
    _monitored(session, factory, snmpd.port, status="planned")
    factory.device(mgmt_address="127.0.0.1")  # no credential
    session.commit()
    targets = load_targets(session)
    assert [t.device_id for t in targets] == [polled.id, maintenance.id]
    assert targets[1].maintenance and not targets[0].maintenance
    assert targets[0].snmp.port == snmpd.port and targets[0].snmp.community == "public"
    assert "public" not in repr(targets[0].snmp)


def test_poll_device_records_state_history_and_interfaces(session, factory, snmpd):
    device = _monitored(session, factory, snmpd.port)
    result = asyncio.run(poll_device(device.id))
    assert result.reachable
    session.expire_all()
    state = session.get(DeviceState, device.id)
    assert state.reachable and state.facts["sys_name"] == "dcops-test-agent" and state.counters
    assert state.table_rows["interfaces"] >= 1
    assert session.execute(select(MetricHistory).where(MetricHistory.device_id == device.id)).scalars().one()


def test_unreachable_device_counts_failures_and_raises_the_alert(session, factory, silent_ports):
    device = _monitored(session, factory, silent_ports[0])
    options = PollerOptions(timeout_s=0.2, retries=0)
    for _ in range(3):
        assert not asyncio.run(poll_device(device.id, options=options)).reachable
    session.expire_all()
    assert session.get(DeviceState, device.id).consecutive_failures == 3
    from dcops.monitoring.alert_models import Alert

    alerts = session.execute(select(Alert).where(Alert.device_id == device.id)).scalars().all()
    assert [(a.rule, str(a.state)) for a in alerts] == [("device_unreachable", "firing")]


async def _cycle(targets, interval: float, options: PollerOptions):
    poller = Poller(options)
    async with SnmpClient() as client:
        report = await poller.run_cycle(client, targets, interval)
    return poller, report


def test_a_cycle_with_30_percent_timeouts_ends_within_its_interval(session, factory, snmpd, silent_ports):
    ok = [_monitored(session, factory, snmpd.port) for _ in range(7)]
    down = [_monitored(session, factory, port) for port in silent_ports]
    # a timed-out device costs 4 s of a 6 s cycle (2/3 of it, while the 7 others share one slot: room for a
    # loaded machine, whose answering polls can take half a second each)
    options = PollerOptions(timeout_s=2.0, retries=1, concurrency=4)
    targets = load_targets(session, options=options)
    session.rollback()  # end the read: on SQLite every transaction holds the write lock
    assert len(targets) == 10
    poller, report = asyncio.run(_cycle(targets, 6.0, options))
    # the poller's own accounting: nothing skipped, no device started late, the cycle did not overrun
    assert (report.ok, report.failed, report.skipped) == (7, 3, 0), report
    assert poller.errors_total["timeout"] == 3 and poller.polls_total == 10 and poller.overruns_total == 0
    session.expire_all()
    states = {s.device_id: s for s in session.execute(select(DeviceState)).scalars()}
    assert all(states[d.id].reachable for d in ok) and not any(states[d.id].reachable for d in down)


def test_the_scheduler_spreads_devices_and_keeps_their_intervals(session, factory, snmpd):
    devices = [_monitored(session, factory, snmpd.port) for _ in range(3)]
    session.get(MonitoringSetting, devices[2].id).interval_s = 120
    session.commit()
    poller = Poller()
    targets = load_targets(session)
    assert {t.device_id for t in poller.due(targets, 0.0, 60.0)} == {d.id for d in devices}
    assert {t.device_id for t in poller.due(targets, 60.0, 60.0)} == {devices[0].id, devices[1].id}
    assert {t.device_id for t in poller.due(targets, 120.0, 60.0)} == {d.id for d in devices}
    assert poller.due(targets[:1], 180.0, 60.0) and set(poller._next_due) == {devices[0].id}  # forgets removed ones


def test_run_forever_writes_the_poller_status(session, factory, snmpd):
    _monitored(session, factory, snmpd.port)
    poller = Poller(PollerOptions(timeout_s=1.0))
    asyncio.run(poller.run_forever(cycles=1))
    status = poller_status(session)
    assert status["running"] and status["devices"] == 1 and status["polls_total"] == 1
    assert status["cycle_interval_s"] == 60.0 and 0 < status["cycle_duration_s"] < status["cycle_interval_s"]
