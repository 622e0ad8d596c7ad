"""The UPS, PDU and environment-probe recordings of the real-device corpus keep their figures (runs when
DCOPS_SNMP_CORPUS names the folder): sensors found and within tolerance of LibreNMS per class, the UPS and
PDU headline metrics, and no alert beyond the real fault the recordings show.

Only these 17 devices are polled (one snmpsim process, a few seconds); the floors are the figures reached.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.benchmarks.bench_coverage import corpus_dir, measure

pytestmark = pytest.mark.skipif(not os.environ.get("DCOPS_SNMP_CORPUS"),
                                reason="DCOPS_SNMP_CORPUS does not name the real-device corpus")

POWER_DEVICES = ("apc*,avocent*,cyberpower,dell-ups*,eaton-matrix,eatonpdu*,generex*,huawei-smu,riello,"
                 "schleifenbauer,sentry*,akcp*")
#: class -> (found, within tolerance) of LibreNMS's sensors on these devices
FLOORS = {"temperature": (21, 21), "voltage": (57, 57), "current": (44, 43), "power": (33, 33),
          "frequency": (21, 21), "load": (10, 10), "charge": (5, 5), "runtime": (9, 9), "energy": (3, 3)}
#: UPS role devices with on-battery, charge and runtime (the others: an ATS, an environment monitor, two
#: recordings without UPS data and a CS121 that has no charge object); PDUs with total power (the others:
#: two Avocent console servers without PDUs and an empty Eaton recording)
UPS_WITH_ALL_THREE, PDUS_WITH_TOTAL = 4, 2
REAL_FAULTS = {"generex-ups_cs141: warning sensor_warning [Output source]"}  # upsOutputSource = bypass(4)


@pytest.fixture(scope="module")
def figures() -> dict[str, Any]:
    return measure(corpus_dir(None), only=POWER_DEVICES)


def test_power_sensor_figures_do_not_fall_back(figures: dict[str, Any]) -> None:
    classes = figures["classes"]
    got = {cls: (classes.get(cls, {}).get("found", 0), classes.get(cls, {}).get("value", 0)) for cls in FLOORS}
    assert {cls: (got[cls], floor) for cls, floor in FLOORS.items()
            if got[cls][0] < floor[0] or got[cls][1] < floor[1]} == {}
    assert figures["ups"].get("all", 0) >= UPS_WITH_ALL_THREE
    assert figures["pdu"].get("pdu_power_watts", 0) >= PDUS_WITH_TOTAL


def test_power_devices_raise_only_their_real_fault(figures: dict[str, Any]) -> None:
    raised = {line.split(":", 2)[0] + ":" + line.split(":", 2)[1] for line in figures["alerts"]}
    assert raised - REAL_FAULTS == set()
