"""Profile schema features for tables that are not one row per sensor (served by snmpsim, written from the MIBs).

- a threshold table indexed by the sensor's index plus a sub-index (CISCO-ENTITY-SENSOR-MIB
  entSensorThresholdTable): the device's own limits are used, not the defaults;
- rows chosen and named by an arc of their index (CISCOSB-PHY-MIB rlPhyTestGetTable, ifIndex.testType),
  with a column of another table (ifDescr) joined by that arc.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

from dcops.monitoring import evaluate as ev
from dcops.monitoring import profiles as prof
from dcops.monitoring.alerting import poll_snapshot
from dcops.monitoring.poller import Target, poll_target
from dcops.monitoring.rules import default_rules
from dcops.monitoring.snmp import SnmpClient

SYS = "1.3.6.1.2.1.1"
ENT_NAME = "1.3.6.1.2.1.47.1.1.1.1.7"
SENSOR = "1.3.6.1.4.1.9.9.91.1.1.1.1"  # entSensorValueEntry: type(1) scale(2) precision(3) value(4) status(5)
THRESHOLD = "1.3.6.1.4.1.9.9.91.1.2.1.1"  # entSensorThresholdEntry: severity(2) relation(3) value(4)
PHY = "1.3.6.1.4.1.9.6.1.101.90.1.2.1.3"  # rlPhyTestGetResult, index ifIndex.testType


def _snmprec(sys_object_id: str, descr: str, rows: list[tuple[str, int, int | str]]) -> str:
    lines = [(f"{SYS}.1.0", 4, descr), (f"{SYS}.2.0", 6, sys_object_id), (f"{SYS}.3.0", 67, 98765),
             (f"{SYS}.5.0", 4, "dev")] + rows
    lines.sort(key=lambda r: [int(a) for a in r[0].split(".")])
    return "".join(f"{oid}|{kind}|{value}\n" for oid, kind, value in lines)


def _asa() -> str:
    rows: list[tuple[str, int, int | str]] = []
    # 1: the CPU at 67 °C, its own limits minor 90 / major 100 (and a low major limit of -5)
    # 2: an inlet at 67 °C whose device limit is major 60: the device says it is too hot
    for index, name, value, limits in ((1, "Temperature Sensor CPU", 67, [(10, 4, 90), (20, 4, 100), (20, 1, -5)]),
                                       (2, "Temperature Sensor Inlet", 67, [(20, 3, 60)])):
        rows += [(f"{ENT_NAME}.{index}", 4, name), (f"{SENSOR}.1.{index}", 2, 8), (f"{SENSOR}.2.{index}", 2, 9),
                 (f"{SENSOR}.3.{index}", 2, 0), (f"{SENSOR}.4.{index}", 2, value), (f"{SENSOR}.5.{index}", 2, 1)]
        for sub, (severity, relation, limit) in enumerate(limits, start=1):
            rows += [(f"{THRESHOLD}.2.{index}.{sub}", 2, severity), (f"{THRESHOLD}.3.{index}.{sub}", 2, relation),
                     (f"{THRESHOLD}.4.{index}.{sub}", 2, limit)]
    return _snmprec("1.3.6.1.4.1.9.1.2114", "Cisco Adaptive Security Appliance Version 9.8(2)", rows)


def _sg350() -> str:
    rows: list[tuple[str, int, int | str]] = [(f"1.3.6.1.2.1.2.2.1.2.{i}", 4, f"gi1/0/{i}") for i in (49, 50)]
    # port 49 has a transceiver: temperature 41 °C, supply 3.3 V, bias 6.5 mA, tx/rx power (not read here)
    for test, value in ((2, 0), (5, 41), (6, 3301200), (7, 6500), (8, -2284), (9, -3120)):
        rows.append((f"{PHY}.49.{test}", 2, value))
    rows += [(f"{PHY}.50.{test}", 2, 0) for test in (2, 5, 6, 7)]  # port 50: an empty cage reads 0
    return _snmprec("1.3.6.1.4.1.9.6.1.95.10.5", "SG350-10 10-Port Gigabit Managed Switch", rows)


def _poll(agent: Any, community: str, role: str) -> Any:
    async def run() -> Any:
        async with SnmpClient() as client:
            target = Target(device_id=1, name=community, role=role,
                            snmp=agent.target("2c", community=community, timeout=3.0, retries=2))
            result, _ = await poll_target(client, target)
            return result
    return asyncio.run(run())


def _alerts(result: Any, role: str) -> set[tuple[str, str]]:
    rules = [dataclasses.replace(r, for_polls=1, for_s=0.0) for r in default_rules()]
    snap = poll_snapshot(result, previous=result, role=role, inventory={"unused_ports": set()})
    _, transitions = ev.evaluate(rules, snap, {})
    return {(t.rule.name, t.subject) for t in transitions if t.to == "firing"}


def test_device_threshold_table_and_index_arcs(tmp_path: Path, snmpsim_agent: Any) -> None:
    (tmp_path / "asa.snmprec").write_text(_asa())
    (tmp_path / "sg350.snmprec").write_text(_sg350())
    agent = snmpsim_agent(tmp_path, community="asa")

    asa = _poll(agent, "asa", "firewall")
    assert asa.error is None and "cisco-entity-sensor" in asa.facts["profiles"]
    by = {r.descr: r for r in asa.sensors if r.sensor_class == "temperature"}
    cpu, inlet = by["Temperature Sensor CPU"], by["Temperature Sensor Inlet"]
    assert (cpu.value, cpu.high, cpu.high_warn, cpu.low) == (67, 100, 90, -5)  # the device's own limits
    assert (inlet.high, inlet.high_warn) == (60, None)
    raised = _alerts(asa, "firewall")
    assert not [a for a in raised if a[1] == "Temperature Sensor CPU"]  # 67 °C under its own 90/100
    assert ("temperature_high", "Temperature Sensor Inlet") in raised  # over its own 60, under the default

    sg = _poll(agent, "sg350", "switch")
    found = {(r.sensor_class, r.descr): (round(r.value, 6), r.oid) for r in sg.sensors if r.group == "Transceivers"}
    assert found == {
        ("temperature", "gi1/0/49 transceiver temperature"): (41, f"{PHY}.49.5"),
        ("voltage", "gi1/0/49 transceiver supply"): (3.3012, f"{PHY}.49.6"),
        ("current", "gi1/0/49 transceiver bias"): (0.0065, f"{PHY}.49.7"),
    }  # port 50's empty cage answers 0 everywhere: nothing read


def test_ram_used_leaves_out_the_buffers_and_cache_hr_storage_lists() -> None:
    host = next(p for p in prof.load_profiles() if p.name == "host-resources")
    other, ram = "1.3.6.1.2.1.25.2.1.1", "1.3.6.1.2.1.25.2.1.2"

    def row(kind: str, descr: str, size: int, used: int) -> dict[str, Any]:
        return {"hrStorageType": _Vb("objectidentifier", kind), "hrStorageDescr": _Vb("octetstring", descr),
                "hrStorageSize": _Vb("integer", size), "hrStorageUsed": _Vb("integer", used)}

    rows = {"1": row(ram, "Physical memory", 32000, 30400), "6": row(other, "Memory buffers", 32000, 1600),
            "7": row(other, "Cached memory", 6400, 12800), "8": row(other, "Shared memory", 0, 0)}
    out = prof.evaluate([host], scalars={}, tables={"storage": rows}, at=0.0)
    (memory,) = [s.value for s in out.samples if s.metric == "memory_used_percent"]
    assert memory == 50.0  # (30400 - 1600 - 12800) / 32000, not 95 %
    rows.pop("6"), rows.pop("7")  # an agent without those entries: RAM used as given
    out = prof.evaluate([host], scalars={}, tables={"storage": rows}, at=0.0)
    assert [s.value for s in out.samples if s.metric == "memory_used_percent"] == [95.0]


@dataclasses.dataclass
class _Vb:
    type: str
    value: Any
    oid: str = ""


def test_text_states_and_a_per_row_unit_multiplier() -> None:
    from dcops.monitoring.sensors import SensorSpec, table_sensors

    health = SensorSpec.model_validate({"class": "state", "value": "status", "descr": "Fan {index}",
                                        "states": {"Normal": "ok", "Warning": "warning", "Critical": "critical"}})
    rows = {str(i): {"status": _Vb("octetstring", word)} for i, word in enumerate(["NORMAL", "Critical", "Odd", ""])}
    got = {r.descr: r.severity for r in table_sensors((health,), {"status": "1.2.3"}, rows)}
    assert got == {"Fan 0": "ok", "Fan 1": "critical", "Fan 2": "unknown"}  # a word it does not know: unknown

    power = SensorSpec.model_validate({"class": "power", "value": "usage", "exponent": "mult", "high": "limit",
                                       "descr": "PSU {index}"})
    rows = {"1": {"usage": _Vb("integer", 66480), "mult": _Vb("integer", -3), "limit": _Vb("integer", 1100000)},
            "2": {"usage": _Vb("integer", 340), "mult": _Vb("integer", 0)}, "3": {"usage": _Vb("integer", 5)}}
    got = {r.index: (round(r.value, 3), r.high) for r in table_sensors((power,), {"usage": "1.2.4"}, rows)}
    assert got == {"1": (66.48, 1100.0), "2": (340.0, None)}  # no multiplier read: no reading
