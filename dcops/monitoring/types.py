"""The data that flows from the poller to state, alerts and Prometheus: dcops' own terms, no pysnmp types.

Metric names are shared by the profiles (what to read), the alert rules (what to judge), the
Prometheus export (``dcops_`` + name) and the Grafana dashboards, so they are listed once here.
A sample's labels name its subject inside the device (an interface, a sensor, a storage, an outlet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: metric name -> (help text, label names). Every name a profile may produce; Prometheus exports these.
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "device_up": ("1 when the device answered its last poll", ()),
    "device_uptime_seconds": ("sysUpTime in seconds", ()),
    "device_poll_duration_seconds": ("time the last poll of the device took", ()),
    "cpu_load_percent": ("average hrProcessorLoad over the processors", ()),
    "memory_used_percent": ("physical memory in use", ()),
    "storage_used_percent": ("hrStorage used", ("storage",)),
    "temperature_celsius": ("temperature sensor reading", ("sensor",)),
    "fan_rpm": ("fan speed", ("sensor",)),
    "if_admin_up": ("1 when ifAdminStatus is up", ("ifname",)),
    "if_oper_up": ("1 when ifOperStatus is up", ("ifname",)),
    "if_speed_bps": ("interface speed in bits per second", ("ifname",)),
    "if_in_bps": ("received bits per second", ("ifname",)),
    "if_out_bps": ("sent bits per second", ("ifname",)),
    "if_utilization_percent": ("max of in and out rate against speed", ("ifname",)),
    "if_in_errors_per_second": ("ifInErrors rate", ("ifname",)),
    "if_out_errors_per_second": ("ifOutErrors rate", ("ifname",)),
    "if_in_discards_per_second": ("ifInDiscards rate", ("ifname",)),
    "if_out_discards_per_second": ("ifOutDiscards rate", ("ifname",)),
    "ups_on_battery": ("1 when the UPS runs on battery", ()),
    "ups_battery_charge_percent": ("remaining battery charge", ()),
    "ups_runtime_seconds": ("estimated runtime remaining on battery", ()),
    "ups_load_percent": ("output load against capacity", ()),
    "ups_input_voltage_volts": ("input voltage", ()),
    "pdu_power_watts": ("total power drawn through the PDU", ()),
    "pdu_outlet_power_watts": ("power drawn on one outlet", ("outlet",)),
    "snmp_bad_community_per_second": ("rate of snmpInBadCommunityNames + snmpInBadCommunityUses", ()),
    "sensor_value": ("sensor reading in the unit of its class (°C, rpm, V, A, W, kWh, %, Hz, s)", ("class", "sensor")),
    "sensor_state": ("state sensor: 0 ok, 1 warning, 2 critical, 3 unknown", ("sensor",)),
    "pdu_phase_current_amperes": ("current drawn on one PDU phase", ("phase",)),
    "pdu_phase_power_watts": ("power drawn on one PDU phase", ("phase",)),
    "pdu_outlet_current_amperes": ("current drawn on one outlet", ("outlet",)),
}


@dataclass(frozen=True)
class Sample:
    """One metric value read (or derived from counter deltas) in one poll."""

    metric: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()

    def label(self, name: str, default: str = "") -> str:
        return dict(self.labels).get(name, default)


@dataclass
class PollResult:
    """Everything one poll of one device produced: reachability, samples and facts."""

    device_id: int | None  # None when polling an address that is not in the inventory (commissioning)
    device_name: str
    at: datetime
    reachable: bool
    duration_s: float = 0.0
    error: str | None = None
    samples: list[Sample] = field(default_factory=list)
    #: text facts: sys_descr, sys_object_id, sys_name, serial, model, firmware; compared between polls by rules
    facts: dict[str, str] = field(default_factory=dict)
    #: raw counters kept between polls to compute rates: key -> (value, bits 32|64, at seconds)
    counters: dict[str, tuple[int, int, float]] = field(default_factory=dict)
    varbinds: int = 0
    #: sensor readings (dcops.monitoring.sensors.SensorReading) with their OIDs and the device's own limits
    sensors: list[Any] = field(default_factory=list)


#: Prometheus names exported beside ``dcops_`` + METRICS (which carry the labels device, site, role + their own).
PROMETHEUS_EXTRA: dict[str, tuple[str, tuple[str, ...]]] = {
    "dcops_alerts_firing": ("firing alerts", ("severity",)),
    "dcops_poller_devices": ("devices the poller polls", ()),
    "dcops_poller_cycle_duration_seconds": ("duration of the last full poll cycle", ()),
    "dcops_poller_polls_total": ("polls done since start", ()),
    "dcops_poller_errors_total": ("polls that failed (timeout, auth, decode)", ("reason",)),
    "dcops_poller_overruns_total": ("device polls that started later than their interval allowed", ()),
    "dcops_traps_received_total": ("SNMP traps received", ("source",)),  # source: known | unknown
    "dcops_rack_power_draw_watts": ("measured (PDU) or nameplate power drawn in a rack", ("site", "rack")),
    "dcops_rack_power_budget_watts": ("power budget of a rack", ("site", "rack")),
    "dcops_cluster_capacity": ("usable capacity after allocation ratios", ("cluster", "resource")),
    "dcops_cluster_allocated": ("allocated to live VMs", ("cluster", "resource")),
}
