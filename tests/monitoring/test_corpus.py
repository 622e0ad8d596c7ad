"""The real-device corpus keeps its figures: sensors found and right, ports, UPS and PDU headline metrics, and
no alert on healthy devices beyond the real faults named below (runs when DCOPS_SNMP_CORPUS names the folder).

One snmpsim process serves every recording; each device is polled once through the poller's own path
(see ``tests/benchmarks/bench_coverage.py``, which prints the same figures per class and per device).
The floors are the figures reached; profiles added later only raise them.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.benchmarks.bench_coverage import HEADLINE, corpus_dir, measure

pytestmark = pytest.mark.skipif(not os.environ.get("DCOPS_SNMP_CORPUS"),
                                reason="DCOPS_SNMP_CORPUS does not name the real-device corpus")

#: class -> (LibreNMS sensors found, values within tolerance) reached; a fall below fails
FLOORS = {"temperature": (131, 131), "fan": (16, 16), "voltage": (94, 94), "current": (82, 65), "power": (57, 57),
          "frequency": (21, 21), "load": (10, 10), "charge": (5, 5), "runtime": (9, 9), "state": (299, 247),
          "humidity": (4, 4), "energy": (3, 3)}
#: (device, rule, subject) alerts the recordings justify: the device really is in that state
REAL_FAULTS = {
    ("generex-ups_cs141", "sensor_warning", "Output source"),  # upsOutputSource = bypass(4): the UPS is on bypass
}
#: alerts on healthy devices that dcops does not judge right yet, each with why (to be fixed, never to grow)
KNOWN_NOISE: set[tuple[str, str, str]] = set()
PORT_DEVICES_WITHIN_5_PCT = 171
UPS_WITH_ALL_THREE = 4
PDUS_WITH_TOTAL_POWER = 2


@pytest.fixture(scope="module")
def figures() -> dict[str, Any]:
    return measure(corpus_dir(None))


def test_sensor_coverage_and_values_do_not_fall_back(figures: dict[str, Any]) -> None:
    classes = figures["classes"]
    got = {cls: (classes.get(cls, {}).get("found", 0), classes.get(cls, {}).get("value", 0)) for cls in FLOORS}
    fallen = {cls: (got[cls], floor) for cls, floor in FLOORS.items()
              if got[cls][0] < floor[0] or got[cls][1] < floor[1]}
    assert fallen == {}
    head = sum(classes.get(c, {}).get("value", 0) for c in HEADLINE)
    assert head >= sum(FLOORS[c][1] for c in HEADLINE)


def test_ports_ups_and_pdus_do_not_fall_back(figures: dict[str, Any]) -> None:
    assert figures["ports"]["within"] >= PORT_DEVICES_WITHIN_5_PCT
    assert figures["ups"].get("all", 0) >= UPS_WITH_ALL_THREE
    assert figures["pdu"].get("pdu_power_watts", 0) >= PDUS_WITH_TOTAL_POWER
    unreachable = [d["name"] for d in figures["per_device"] if not d["reachable"]]
    assert unreachable == []


def test_healthy_devices_raise_no_alert_but_their_real_faults(figures: dict[str, Any]) -> None:
    raised = set()
    for line in figures["alerts"]:  # "device: severity rule [subject]: summary"
        device, _, rest = line.partition(": ")
        rule = rest.split(" ")[1]
        subject = rest[rest.index("[") + 1:rest.index("]")]
        raised.add((device, rule, subject))
    assert raised - REAL_FAULTS - KNOWN_NOISE == set()
