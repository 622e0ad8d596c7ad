"""UPS and PDU profiles against recordings shaped by their MIBs (written for this test, served by snmpsim).

Each recording holds what a card of that family answers (values chosen here); the poll must find the
family by what the device answers, scale as the MIB says and drop the "unknown" sentinels.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dcops.monitoring.poller import Target, poll_target
from dcops.monitoring.snmp import SnmpClient

SYS = "1.3.6.1.2.1.1"


def _rec(sys_object_id: str, descr: str, rows: dict[str, str | int]) -> str:
    lines = [f"{SYS}.1.0|4|{descr}", f"{SYS}.2.0|6|{sys_object_id}", f"{SYS}.3.0|67|123456", f"{SYS}.5.0|4|dev"]
    for oid, value in sorted(rows.items(), key=lambda kv: [int(x) for x in kv[0].split(".")]):
        kind = "2" if isinstance(value, int) else "6" if value.startswith("1.3.6.") else "4"
        lines.append(f"{oid}|{kind}|{value}")
    return "\n".join(lines) + "\n"


APC = "1.3.6.1.4.1.318.1.1.1"
MGE = "1.3.6.1.4.1.705.1"
XUPS = "1.3.6.1.4.1.534.1"
HW = "1.3.6.1.4.1.2011.6.174.1"
LGP = "1.3.6.1.4.1.476.1.42.3.5"
RPDU, RPDU2 = "1.3.6.1.4.1.318.1.1.12", "1.3.6.1.4.1.318.1.1.26"
PX = "1.3.6.1.4.1.13742.6"
RECORDINGS = {
    # APC Smart-UPS behind an AP9631: PowerNet only (no RFC 1628), with the high-precision group
    "apc-smartups": _rec("1.3.6.1.4.1.318.1.3.2.12", "APC Web/SNMP Management Card", {
        f"{APC}.1.1.1.0": "Smart-UPS 3000", f"{APC}.4.1.1.0": 3, f"{APC}.2.2.1.0": 87,
        f"{APC}.2.2.3.0": 246000, f"{APC}.2.2.2.0": 31, f"{APC}.3.2.1.0": 229, f"{APC}.4.2.3.0": 41,
        f"{APC}.2.3.1.0": 873, f"{APC}.2.3.2.0": 312, f"{APC}.3.3.1.0": 2294, f"{APC}.4.3.4.0": 52,
        f"{APC}.2.1.1.0": 2}),
    # MGE Galaxy: tenths of volts on every line
    "mge-galaxy": _rec("1.3.6.1.4.1.705.1.2", "MGE UPS SYSTEMS - Network Management Proxy", {
        f"{MGE}.1.2.0": "Galaxy 5000", f"{MGE}.5.1.0": 1320, f"{MGE}.5.2.0": 100, f"{MGE}.7.3.0": 2,
        f"{MGE}.5.5.0": 4380, f"{MGE}.6.2.1.2.1": 2363, f"{MGE}.6.2.1.2.2": 2371, f"{MGE}.6.2.1.2.3": 2359,
        f"{MGE}.7.2.1.4.1": 38, f"{MGE}.7.2.1.4.2": 44, f"{MGE}.7.2.1.4.3": 40}),
    # Eaton 9PX with a Network-M2 card: XUPS-MIB under the MGE enterprise, and the MGE tables as well
    "eaton-9px": _rec("1.3.6.1.4.1.705.1", "Eaton 9PX 6000i", {
        f"{XUPS}.2.1.0": 2400, f"{XUPS}.2.4.0": 100, f"{XUPS}.4.5.0": 5, f"{XUPS}.4.1.0": 33,
        f"{XUPS}.3.4.1.2.1": 230, f"{MGE}.5.1.0": 2400, f"{MGE}.5.2.0": 100, f"{MGE}.7.3.0": 1}),
    # Huawei UPS2000 on mains: battery backup time "unknown" (4294967295)
    "huawei-ups2000": _rec("1.3.6.1.4.1.2011.2.254", "Linux UPS2000", {
        f"{HW}.2.101.1.1.1": 3, f"{HW}.6.100.1.3.1": 100, f"{HW}.6.100.1.1.1": 2720,
        f"{HW}.3.100.1.1.1": 2301, f"{HW}.3.100.1.2.1": 0, f"{HW}.4.100.1.14.1": 270}),
    # Liebert GXT behind an IntelliSlot card: LIEBERT-GP-POWER, no RFC 1628
    "liebert-gxt": _rec("1.3.6.1.4.1.476.1.42", "Liebert GXT4", {
        f"{LGP}.1.14.0": 1, f"{LGP}.1.18.0": 25, f"{LGP}.1.19.0": 98,
        f"{LGP}.2.3.1.3.1.1": "1.3.6.1.4.1.476.1.42.3.5.2.1.1", f"{LGP}.2.3.1.5.1.1": 231,
        f"{LGP}.2.3.1.3.2.1": "1.3.6.1.4.1.476.1.42.3.5.2.1.5", f"{LGP}.2.3.1.5.2.1": 230,
        f"{LGP}.2.3.1.19.2.1": 37}),
    # Dell-branded APC PDU: Dell sysObjectID, PowerNet rPDU and rPDU2 tables
    "dell-rpdu": _rec("1.3.6.1.4.1.674.10903.200.2.200.1", "Dell Rack PDU", {
        f"{RPDU}.1.16.0": 1180, f"{RPDU2}.4.3.1.3.1": "Dell PDU", f"{RPDU2}.4.3.1.5.1": 118,
        f"{RPDU2}.6.3.1.3.1": 1, f"{RPDU2}.6.3.1.5.1": 52, f"{RPDU2}.6.3.1.6.1": 228,
        f"{RPDU2}.6.1.1.6.1": 13, f"{RPDU2}.6.1.1.7.1": 16}),
    # Raritan PX2: inlet 1 of PDU 1, rmsCurrent (type 1, 3 decimals), rmsVoltage (4), activePower (5)
    "raritan-px2": _rec("1.3.6.1.4.1.13742.6", "PX2", {
        f"{PX}.3.3.4.1.6.1.1.1": 2, f"{PX}.3.3.4.1.7.1.1.1": 3, f"{PX}.5.2.3.1.4.1.1.1": 4125,
        f"{PX}.3.3.4.1.23.1.1.1": 16000, f"{PX}.3.3.4.1.24.1.1.1": 13000,
        f"{PX}.3.3.4.1.6.1.1.4": 1, f"{PX}.3.3.4.1.7.1.1.4": 0, f"{PX}.5.2.3.1.4.1.1.4": 229,
        f"{PX}.3.3.4.1.6.1.1.5": 3, f"{PX}.3.3.4.1.7.1.1.5": 0, f"{PX}.5.2.3.1.4.1.1.5": 905}),
    # more PDU families: the total power each reports, in its own units
    "eaton-epdu": _rec("1.3.6.1.4.1.534.6.6.7", "Eaton ePDU", {
        "1.3.6.1.4.1.534.6.6.7.1.2.1.2.0": "ePDU MA 1P", "1.3.6.1.4.1.534.6.6.7.3.5.1.4.0.1": 1450,
        "1.3.6.1.4.1.534.6.6.7.3.3.1.4.0.1.1": 6340, "1.3.6.1.4.1.534.6.6.7.3.3.1.9.0.1.1": 16000,
        "1.3.6.1.4.1.534.6.6.7.3.3.1.8.0.1.1": -1}),
    "sentry3-pdu": _rec("1.3.6.1.4.1.1718.3", "Sentry Switched CDU", {
        "1.3.6.1.4.1.1718.3.1.6.0": 2210, "1.3.6.1.4.1.1718.3.2.2.1.3.1.1": "Master_Infeed_A",
        "1.3.6.1.4.1.1718.3.2.2.1.7.1.1": 975, "1.3.6.1.4.1.1718.3.2.2.1.8.1.1": 30}),
    "hpe-pdu2": _rec("1.3.6.1.4.1.232.165.7", "HPE Intelligent PDU", {
        "1.3.6.1.4.1.232.165.7.1.2.1.3.0": "HPE G2 Metered", "1.3.6.1.4.1.232.165.7.2.1.1.5.0": 3120,
        "1.3.6.1.4.1.232.165.7.2.2.1.3.0.1": 229400, "1.3.6.1.4.1.232.165.7.2.2.1.11.0.1": 13650}),
    "vertiv-pdu": _rec("1.3.6.1.4.1.21239.5.2", "Vertiv Geist rPDU", {
        "1.3.6.1.4.1.21239.5.2.3.1.1.4.1": "Rack A", "1.3.6.1.4.1.21239.5.2.3.1.1.5.1": 1,
        "1.3.6.1.4.1.21239.5.2.3.1.1.9.1": 1875, "1.3.6.1.4.1.21239.5.2.3.2.1.8.1.1": 812}),
    "avocent-pm": _rec("1.3.6.1.4.1.10418.17.1.3", "Avocent PM", {
        "1.3.6.1.4.1.10418.17.2.5.3.1.3.1.1": "PM3000-1", "1.3.6.1.4.1.10418.17.2.5.3.1.50.1.1": 53,
        "1.3.6.1.4.1.10418.17.2.5.3.1.60.1.1": 11520, "1.3.6.1.4.1.10418.17.2.5.3.1.100.1.1": 160}),
}


@pytest.fixture(scope="module")
def readings(tmp_path_factory) -> dict[str, object]:
    from tests.monitoring.agents import start_snmpsim

    data = tmp_path_factory.mktemp("power-recordings")
    for name, text in RECORDINGS.items():
        (Path(data) / f"{name}.snmprec").write_text(text)
    agent = start_snmpsim(Path(data), Path(tmp_path_factory.mktemp("snmpsim")))
    try:
        return asyncio.run(_poll_all(agent))
    finally:
        agent.stop()


async def _poll_all(agent) -> dict[str, object]:
    out = {}
    async with SnmpClient() as client:
        for name in RECORDINGS:
            role = "pdu" if "pdu" in name or "px" in name else "ups"
            target = Target(device_id=1, name=name, role=role,
                            snmp=agent.target("2c", community=name, timeout=3.0, retries=2))
            out[name], _ = await poll_target(client, target)
    return out


def _metric(result, metric: str) -> float | None:
    found = [s.value for s in result.samples if s.metric == metric and not s.labels]
    assert len(found) <= 1, (metric, found)
    return found[0] if found else None


def _sensor(result, cls: str, descr: str) -> float:
    found = [r.value for r in result.sensors if r.sensor_class == cls and r.descr == descr]
    assert len(found) == 1, (cls, descr, [(r.sensor_class, r.descr) for r in result.sensors])
    return found[0]


def test_apc_smart_ups_reads_powernet_in_high_precision(readings):
    ups = readings["apc-smartups"]
    assert ups.error is None and "apc-powernet-ups" in ups.facts["profiles"]
    assert "apc-powernet-ups-adv" not in ups.facts["profiles"]  # the high-precision group replaces it
    assert _metric(ups, "ups_on_battery") == 1 and _metric(ups, "ups_battery_charge_percent") == 87
    assert _metric(ups, "ups_runtime_seconds") == pytest.approx(2460)  # TimeTicks
    assert _sensor(ups, "charge", "Battery capacity") == pytest.approx(87.3)
    assert _sensor(ups, "temperature", "Battery") == pytest.approx(31.2)
    assert _sensor(ups, "voltage", "Input") == pytest.approx(229.4)
    assert _sensor(ups, "runtime", "Runtime remaining") == pytest.approx(2460)


def test_mge_galaxy_tenths_of_volts_and_eaton_9px_detected_by_xups(readings):
    mge = readings["mge-galaxy"]
    assert "mge-ups" in mge.facts["profiles"] and _metric(mge, "ups_on_battery") == 0
    assert _sensor(mge, "voltage", "Input phase 1") == pytest.approx(236.3)
    assert _metric(mge, "ups_input_voltage_volts") == pytest.approx(236.43, abs=0.01)
    assert _metric(mge, "ups_load_percent") == 44 and _metric(mge, "ups_runtime_seconds") == 1320
    px = readings["eaton-9px"]
    profiles = px.facts["profiles"].split(",")
    assert "eaton-xups" in profiles and "mge-ups" not in profiles and "mge-ups-lines" not in profiles
    assert _metric(px, "ups_on_battery") == 1 and _metric(px, "ups_runtime_seconds") == 2400


def test_huawei_unknown_runtime_is_dropped_and_liebert_reads_its_own_mib(readings):
    hw = readings["huawei-ups2000"]
    assert "huawei-ups" in hw.facts["profiles"] and _metric(hw, "ups_on_battery") == 0
    assert _metric(hw, "ups_runtime_seconds") is None  # 4294967295 = unknown, never 136 years
    assert not [r for r in hw.sensors if r.sensor_class == "runtime"]
    assert _sensor(hw, "voltage", "Input phase A") == pytest.approx(230.1)
    assert not [r for r in hw.sensors if r.descr == "Input phase B"]  # single phase: B reads 0
    assert _metric(hw, "ups_load_percent") == pytest.approx(27.0)
    lgp = readings["liebert-gxt"]
    assert "liebert-gp-power" in lgp.facts["profiles"]
    assert (_metric(lgp, "ups_on_battery"), _metric(lgp, "ups_battery_charge_percent")) == (0, 98)
    assert _metric(lgp, "ups_runtime_seconds") == 25 * 60 and _metric(lgp, "ups_load_percent") == 37
    assert _sensor(lgp, "voltage", "Output line 1") == 230 and _metric(lgp, "ups_input_voltage_volts") == 231


def test_pdus_report_total_power_with_their_own_scaling_and_limits(readings):
    dell = readings["dell-rpdu"]
    assert "apc-rpdu2" in dell.facts["profiles"] and "apc-rpdu" not in dell.facts["profiles"].split(",")
    assert _metric(dell, "pdu_power_watts") == 1180  # hundredths of kW
    phase = next(r for r in dell.sensors if r.sensor_class == "current")
    assert (phase.value, phase.high, phase.high_warn) == (pytest.approx(5.2), 16, 13)
    assert [(s.label("phase"), s.value) for s in dell.samples if s.metric == "pdu_phase_current_amperes"] == [
        ("1", pytest.approx(5.2))]
    px = readings["raritan-px2"]
    assert _metric(px, "pdu_power_watts") == 905
    current = next(r for r in px.sensors if r.sensor_class == "current")
    assert (current.value, current.high, current.high_warn) == (pytest.approx(4.125), 16, 13)
    assert next(r.value for r in px.sensors if r.sensor_class == "voltage") == 229


def test_every_pdu_family_reports_total_power(readings):
    totals = {name: _metric(readings[name], "pdu_power_watts")
              for name in ("eaton-epdu", "sentry3-pdu", "hpe-pdu2", "vertiv-pdu", "avocent-pm")}
    assert totals == {"eaton-epdu": 1450, "sentry3-pdu": 2210, "hpe-pdu2": 3120, "vertiv-pdu": 1875,
                      "avocent-pm": pytest.approx(1152)}
    epdu = next(r for r in readings["eaton-epdu"].sensors if r.sensor_class == "current")
    assert (epdu.value, epdu.high, epdu.high_warn) == (pytest.approx(6.34), 16, None)  # -1 = no threshold
    infeed = next(r for r in readings["sentry3-pdu"].sensors if r.sensor_class == "current")
    assert (infeed.descr, infeed.value, infeed.high) == ("Infeed Master_Infeed_A", pytest.approx(9.75), 30)
    assert _sensor(readings["hpe-pdu2"], "voltage", "PDU 0 phase 1") == pytest.approx(229.4)
    assert _sensor(readings["vertiv-pdu"], "current", "PDU 1 phase 1") == pytest.approx(8.12)
    pm = next(r for r in readings["avocent-pm"].sensors if r.sensor_class == "current")
    assert (pm.descr, pm.value, pm.high) == ("PDU PM3000-1", pytest.approx(5.3), 16)
