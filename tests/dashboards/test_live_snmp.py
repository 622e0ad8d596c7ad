"""From real SNMP agents to the dashboards: devices polled in snmpsim, then /metrics carries what the panels read.

The devices are in the inventory with SNMP credentials; snmpsim serves dcops' own recordings for a switch, a
hypervisor, a storage array, a UPS and a PDU (``dcops.monitoring.simulator``, as in ``dcops demo``); the poller's
unit of work ``poll_device`` polls each twice (rates need two polls) and records the results.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.dashboards.test_dashboards import DASHBOARDS, DEVICE_LABELS, RULE_FILES, recorded, unknown_names
from tests.server import running_server

#: device name (the demo's names: ups-02 runs on battery, tor-a05 has a port admin-up but oper-down) -> role
DEVICES = {"tor-a05": "switch", "hv-01": "hypervisor", "stor-01": "storage", "ups-02": "ups", "pdu-a02": "pdu"}
#: the device metrics each role's panels draw, which real polls of dcops' recordings must produce
EXPECTED = {
    "switch": {"device_up", "device_uptime_seconds", "device_poll_duration_seconds", "if_admin_up", "if_oper_up",
               "if_speed_bps", "if_in_bps", "if_out_bps", "if_utilization_percent", "if_in_errors_per_second"},
    "hypervisor": {"device_up", "cpu_load_percent", "memory_used_percent", "storage_used_percent",
                   "temperature_celsius"},
    "storage": {"device_up", "storage_used_percent"},
    "ups": {"device_up", "ups_on_battery", "ups_battery_charge_percent", "ups_runtime_seconds", "ups_load_percent",
            "ups_input_voltage_volts"},
    "pdu": {"device_up", "pdu_power_watts", "pdu_outlet_power_watts"},
}


@pytest.fixture
def polled(db: str, session: Any, factory: Any, tokens: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    from dcops.dcim.models import Device
    from dcops.demo.monitoring import start_simulation
    from dcops.main import create_app
    from dcops.monitoring import metrics
    from dcops.monitoring.poller import poll_device

    site = factory.site(name="DC Provinsi")
    rack = factory.rack(site=site, name="A02", power_budget_w=3000)
    ids = {name: factory.device(rack=rack, name=name, role=role, position=n * 2 + 1, serial=f"SN{n:04d}").id
           for n, (name, role) in enumerate(DEVICES.items())}
    from dcops.demo.build import mark

    for device_id in ids.values():  # the simulator serves only what the demo made: these stand in for its devices
        mark(session, session.get(Device, device_id))
    session.commit()
    simulator = start_simulation(session, tmp_path / "data")
    try:
        for round_ in range(2):
            if round_:
                time.sleep(1.5)  # counters move with time in the recordings
            for device_id in ids.values():
                result = asyncio.run(poll_device(device_id))
                assert result.reachable, (result.device_name, result.error)
        metrics.clear_cache()
        with running_server(create_app()) as base:
            yield {"base": base, "token": tokens.user("oncall")[1]}
    finally:
        simulator.stop()
        metrics.clear_cache()


def test_real_polls_give_every_series_the_dashboards_draw(polled: dict[str, Any]) -> None:
    response = httpx.get(f"{polled['base']}/metrics", headers={"Authorization": f"Bearer {polled['token']}"},
                         timeout=30)
    assert response.status_code == 200
    declared = {line.split()[2] for line in response.text.splitlines() if line.startswith("# TYPE ")}
    by_device: dict[str, set[str]] = {}
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if "device" in sample.labels:
                assert set(sample.labels) >= DEVICE_LABELS
                by_device.setdefault(sample.labels["device"], set()).add(sample.name.removeprefix("dcops_"))
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    for name, role in DEVICES.items():
        missing = EXPECTED[role] - by_device.get(name, set())
        assert missing == set(), f"{name} ({role}) polled for real lacks {sorted(missing)}"

    def value(name: str, **match: str) -> float:
        found = [v for (n, labels), v in samples.items() if n == name and match.items() <= dict(labels).items()]
        assert len(found) == 1, (name, match, found)
        return float(found[0])

    assert value("dcops_device_up", device="ups-02", role="ups", site="DC Provinsi") == 1
    assert value("dcops_ups_on_battery", device="ups-02") == 1
    pdu_watts = value("dcops_pdu_power_watts", device="pdu-a02")
    assert 3000 < pdu_watts < 4500  # the recording's 3600 W, moving a little
    assert value("dcops_rack_power_draw_watts", rack="A02") == pdu_watts  # the rack's draw is its PDU's
    assert value("dcops_rack_power_budget_watts", rack="A02") == 3000
    assert value("dcops_poller_polls_total") >= 0
    assert sum(v for (n, _), v in samples.items() if n == "dcops_alerts_firing") >= 1  # on battery, over budget

    names = {n for n, _ in samples} | declared
    assert unknown_names(DASHBOARDS, RULE_FILES, names | recorded()) == {}
