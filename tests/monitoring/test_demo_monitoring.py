"""The demo's live monitoring: snmpsim serves every demo device, metrics move and alerts fire on their own."""

from __future__ import annotations

import asyncio
import ipaddress

from sqlalchemy import select

from dcops.demo.build import build_demo
from dcops.demo.monitoring import start_simulation
from dcops.monitoring.alert_models import Alert
from dcops.monitoring.poller import Poller, PollerOptions, load_targets
from dcops.monitoring.snmp import SnmpClient
from dcops.monitoring.state import latest_samples


async def _cycles(targets_fn, n: int):
    poller = Poller(PollerOptions(timeout_s=3.0, retries=2, concurrency=10))
    reports = []
    async with SnmpClient() as client:
        for i in range(n):
            if i:
                await asyncio.sleep(2.0)
            reports.append(await poller.run_cycle(client, targets_fn(), 60.0))
    return reports


def test_demo_devices_are_polled_from_the_simulator_and_alerts_fire(session, tmp_path):
    build_demo(session, users=False)
    session.commit()
    simulator = start_simulation(session, tmp_path)
    try:
        def targets():
            found = load_targets(session, options=PollerOptions(timeout_s=3.0, retries=2))
            session.rollback()
            return found

        first = targets()
        assert len(first) == 27
        assert {(t.snmp.host, t.snmp.port, t.snmp.version) for t in first} == {("127.0.0.1", simulator.port, "2c")}
        assert all(ipaddress.ip_address(t.snmp.host).is_loopback for t in first)
        reports = asyncio.run(_cycles(targets, 2))
        assert [(r.ok, r.failed) for r in reports] == [(27, 0), (27, 0)]
    finally:
        simulator.stop()
    assert simulator.process is None
    session.expire_all()
    alerts = {(a.rule, a.labels.get("device", "") or str(a.device_id), str(a.state))
              for a in session.execute(select(Alert)).scalars()}
    rules = {rule for rule, _, state in alerts if state == "firing"}
    assert {"ups_on_battery", "hardware_swapped"} <= rules, alerts  # one health and one security alert
    pending_or_firing = {rule for rule, _, _ in alerts}
    assert "interface_down" in pending_or_firing
    from dcops.dcim.models import Device

    ids = {d.name: d.id for d in session.execute(select(Device)).scalars()}
    samples = latest_samples(session, [ids["core-sw-01"], ids["hv-utama-01"], ids["pdu-a01"]])
    rx = [s.value for s in samples[ids["core-sw-01"]] if s.metric == "if_in_bps" and s.label("ifname") == "Gi1/0/1"]
    assert rx and rx[0] > 1e6  # counters move: a rate after the second poll
    assert any(s.metric == "cpu_load_percent" for s in samples[ids["hv-utama-01"]])
    assert any(s.metric == "pdu_power_watts" and s.value > 1000 for s in samples[ids["pdu-a01"]])


def _uptime(port: int, community: str) -> int:
    from dcops.monitoring.snmp import SnmpTarget

    async def get() -> int:
        async with SnmpClient() as client:
            target = SnmpTarget(host="127.0.0.1", port=port, community=community)
            values = await client.get(target, ["1.3.6.1.2.1.1.3.0"])
        return int(values[0].value)

    return asyncio.run(get())


def test_restarting_the_demo_simulator_is_not_a_reboot_of_every_device(session, tmp_path):
    """The simulated devices keep running across a restart: no unexpected_reboot storm."""
    from dcops.demo.monitoring import wire_simulation

    build_demo(session, users=False)
    session.commit()

    def targets():
        found = load_targets(session, options=PollerOptions(timeout_s=3.0, retries=2))
        session.rollback()
        return found

    simulator = start_simulation(session, tmp_path)
    try:
        community = wire_simulation(session, port=simulator.port)[0].community
        start = _uptime(simulator.port, community)
        while _uptime(simulator.port, community) < start + 300:  # the devices have been up 3 s longer
            asyncio.run(asyncio.sleep(0.5))
        asyncio.run(_cycles(targets, 1))
        before = _uptime(simulator.port, community)
    finally:
        simulator.stop()
    simulator = start_simulation(session, tmp_path)  # the demo restarted
    try:
        after = _uptime(simulator.port, community)
        reports = asyncio.run(_cycles(targets, 1))
        assert reports[0].ok == 27
    finally:
        simulator.stop()
    assert after >= before  # the uptime went on, it did not start again
    session.expire_all()
    reboots = [a for a in session.execute(select(Alert)).scalars() if a.rule == "unexpected_reboot"]
    assert reboots == []
