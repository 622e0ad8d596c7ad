"""Write dcops' Grafana dashboards (grafana/*.json) from the panel lists below: ``python dashboards/generate.py``.

The JSON files are committed so that they can be imported as they are; edit this file and regenerate rather than
editing the JSON (a test checks that both agree). Every dashboard picks its Prometheus data source through the
``datasource`` variable, so it imports unchanged into any Grafana (10.4 or later) by UI, API or provisioning.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "grafana"
SCHEMA_VERSION = 39  # Grafana 10.4 / 11.x; newer Grafana migrates it on import
DS = {"type": "prometheus", "uid": "${datasource}"}
TAGS = ["dcops"]

# ---------------------------------------------------------------- building blocks


def q(expr: str, legend: str = "", *, instant: bool = False, table: bool = False) -> dict[str, Any]:
    """One Prometheus query of a panel (refId is set by ``panel``)."""
    target: dict[str, Any] = {"datasource": DS, "expr": expr, "legendFormat": legend or "__auto", "range": not instant,
                              "instant": instant, "editorMode": "code"}
    if table:
        target["format"] = "table"
    return target


def _thresholds(steps: Sequence[tuple[float | None, str]]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for value, color in steps]}


GREEN: list[tuple[float | None, str]] = [(None, "green")]
UP_DOWN = [{"type": "value", "options": {"0": {"text": "DOWN", "color": "red", "index": 0},
                                         "1": {"text": "UP", "color": "green", "index": 1}}}]


def panel(kind: str, title: str, targets: list[dict[str, Any]], *, w: int = 12, h: int = 8, unit: str = "short",
          description: str = "", steps: Sequence[tuple[float | None, str]] | None = None, mappings: list | None = None,
          lo: float | None = None, hi: float | None = None, options: dict[str, Any] | None = None,
          transformations: list | None = None) -> dict[str, Any]:
    """A panel without id and position (``layout`` sets them)."""
    defaults: dict[str, Any] = {"unit": unit, "thresholds": _thresholds(steps or GREEN), "mappings": mappings or []}
    if steps:
        defaults["color"] = {"mode": "thresholds"}
    if lo is not None:
        defaults["min"] = lo
    if hi is not None:
        defaults["max"] = hi
    for ref, target in zip("ABCDEFGHIJ", targets, strict=False):
        target["refId"] = ref
    body: dict[str, Any] = {"type": kind, "title": title, "description": description, "datasource": DS,
                            "targets": targets, "fieldConfig": {"defaults": defaults, "overrides": []},
                            "options": options or {}, "_size": (w, h)}
    if kind == "timeseries":
        body["options"] = {"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]},
                           "tooltip": {"mode": "multi", "sort": "desc"}} | body["options"]
    elif kind in ("stat", "gauge", "bargauge"):
        body["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                           "orientation": "horizontal"} | body["options"]
    if transformations:
        body["transformations"] = transformations
    return body


def layout(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Number the panels and flow them left to right in Grafana's 24-column grid."""
    x = y = row_h = 0
    for number, p in enumerate(panels, start=1):
        w, h = p.pop("_size")
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        p["id"] = number
        p["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
        x += w
        row_h = max(row_h, h)
    return panels


def var_datasource() -> dict[str, Any]:
    return {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0, "refresh": 1, "regex": "", "options": []}


def var_query(name: str, query: str, label: str, *, multi: bool = True, include_all: bool = True) -> dict[str, Any]:
    """A variable filled from Prometheus (``label_values(...)``), refreshed when the time range changes."""
    var: dict[str, Any] = {"name": name, "label": label, "type": "query", "datasource": DS,
                           "query": {"query": query, "refId": "StandardVariableQuery"}, "definition": query,
                           "refresh": 2, "sort": 1, "multi": multi, "includeAll": include_all, "current": {},
                           "hide": 0, "regex": "", "options": []}
    if include_all:
        var["allValue"] = ".*"
    return var


SITE = var_query("site", "label_values(dcops_device_up, site)", "Site")


def dashboard(uid: str, title: str, description: str, panels: list[dict[str, Any]],
              variables: list[dict[str, Any]] | None = None, refresh: str = "1m") -> dict[str, Any]:
    """A complete, importable dashboard."""
    return {
        "uid": uid, "title": title, "description": description, "tags": TAGS, "timezone": "browser",
        "schemaVersion": SCHEMA_VERSION, "version": 1, "editable": True, "graphTooltip": 1,
        "time": {"from": "now-6h", "to": "now"}, "refresh": refresh, "fiscalYearStartMonth": 0, "liveNow": False,
        "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                                  "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                                  "name": "Annotations & Alerts", "type": "dashboard"}]},
        "links": [{"type": "dashboards", "tags": TAGS, "asDropdown": True, "title": "dcops", "includeVars": False,
                   "keepTime": True, "icon": "external link", "targetBlank": False, "tooltip": "", "url": ""}],
        "templating": {"list": [var_datasource(), *(variables or [])]},
        "panels": layout(panels),
    }


# ---------------------------------------------------------------- dashboards

S = 'site=~"$site"'


def overview() -> dict[str, Any]:
    down = [(None, "green"), (1, "red")]
    ratio = [(None, "green"), (0.8, "orange"), (1, "red")]
    return dashboard("dcops-overview", "dcops / Data-center overview",
                     "Devices up and down per site, firing alerts, rack power against budget, cluster capacity.", [
        panel("stat", "Devices polled", [q(f"sum(site:dcops_devices:count{{{S}}})", "devices")], w=4, h=4),
        panel("stat", "Devices up", [q(f"sum(dcops_device_up{{{S}}})", "up")], w=4, h=4),
        panel("stat", "Devices down", [q(f"sum(1 - dcops_device_up{{{S}}})", "down")], w=4, h=4, steps=down),
        panel("stat", "Firing alerts", [q("dcops_alerts_firing:sum", "firing")], w=4, h=4,
              steps=[(None, "green"), (1, "orange")]),
        panel("stat", "Firing alerts by severity", [q("sum by (severity) (dcops_alerts_firing)", "{{severity}}")],
              w=8, h=4, steps=[(None, "green"), (1, "orange")]),
        panel("bargauge", "Devices up per site", [q(f"site:dcops_devices_up:sum{{{S}}}", "{{site}}")], w=6),
        panel("bargauge", "Devices down per site", [q(f"site:dcops_devices_down:sum{{{S}}}", "{{site}}")], w=6,
              steps=down),
        panel("timeseries", "Firing alerts by severity", [q("sum by (severity) (dcops_alerts_firing)",
                                                            "{{severity}}")], w=12),
        panel("bargauge", "Rack power drawn / budget", [q(f"rack:dcops_rack_power_utilization:ratio{{{S}}}",
                                                          "{{site}} {{rack}}")],
              w=12, h=10, unit="percentunit", steps=ratio, lo=0, hi=1.2,
              description="Measured (PDU) or nameplate power of each rack against its budget."),
        panel("timeseries", "Power drawn and budget per site",
              [q(f"site:dcops_rack_power_draw_watts:sum{{{S}}}", "{{site}} drawn"),
               q(f"site:dcops_rack_power_budget_watts:sum{{{S}}}", "{{site}} budget")], w=12, h=10, unit="watt"),
        panel("bargauge", "Cluster capacity allocated",
              [q("dcops_cluster_allocated / (dcops_cluster_capacity > 0)", "{{cluster}} {{resource}}")],
              w=12, h=10, unit="percentunit", steps=[(None, "green"), (0.75, "orange"), (0.9, "red")], lo=0, hi=1,
              description="Allocated to live VMs against the usable capacity after allocation ratios."),
        panel("timeseries", "Traffic per site", [q(f"site:dcops_if_in_bps:sum{{{S}}}", "{{site}} in"),
                                                 q(f"site:dcops_if_out_bps:sum{{{S}}}", "{{site}} out")],
              w=12, h=10, unit="bps"),
        panel("table", "Devices not answering", [q(f"dcops_device_up{{{S}}} == 0", instant=True, table=True)],
              w=12, h=10, transformations=[{"id": "organize", "options": {
                  "excludeByName": {"Time": True, "Value": True, "__name__": True, "job": True, "instance": True}}}]),
    ], [SITE])


def device() -> dict[str, Any]:
    d = 'device="$device"'
    return dashboard("dcops-device", "dcops / Device", "Everything dcops polls from one device.", [
        panel("stat", "Reachable", [q(f"dcops_device_up{{{d}}}", "up")], w=4, h=4, mappings=UP_DOWN,
              steps=[(None, "red"), (1, "green")]),
        panel("stat", "Uptime", [q(f"dcops_device_uptime_seconds{{{d}}}", "uptime")], w=4, h=4, unit="s"),
        panel("stat", "Poll duration", [q(f"dcops_device_poll_duration_seconds{{{d}}}", "poll")], w=4, h=4,
              unit="s"),
        panel("stat", "CPU", [q(f"dcops_cpu_load_percent{{{d}}}", "cpu")], w=4, h=4, unit="percent",
              steps=[(None, "green"), (80, "orange"), (90, "red")]),
        panel("stat", "Memory", [q(f"dcops_memory_used_percent{{{d}}}", "memory")], w=4, h=4, unit="percent",
              steps=[(None, "green"), (80, "orange"), (90, "red")]),
        panel("stat", "Bad SNMP communities", [q(f"dcops_snmp_bad_community_per_second{{{d}}}", "bad/s")],
              w=4, h=4, unit="reqps", steps=[(None, "green"), (0.001, "red")]),
        panel("timeseries", "CPU and memory", [q(f"dcops_cpu_load_percent{{{d}}}", "cpu"),
                                               q(f"dcops_memory_used_percent{{{d}}}", "memory")],
              unit="percent", lo=0, hi=100),
        panel("bargauge", "Storage used", [q(f"dcops_storage_used_percent{{{d}}}", "{{storage}}")],
              unit="percent", lo=0, hi=100, steps=[(None, "green"), (80, "orange"), (90, "red")]),
        panel("timeseries", "Temperatures", [q(f"dcops_temperature_celsius{{{d}}}", "{{sensor}}")], unit="celsius"),
        panel("timeseries", "Fans", [q(f"dcops_fan_rpm{{{d}}}", "{{sensor}}")], unit="rotrpm"),
        panel("timeseries", "Sensors (unit of each class)", [q(f"dcops_sensor_value{{{d}}}", "{{class}} {{sensor}}")]),
        panel("state-timeline", "Sensor states (0 ok, 1 warning, 2 critical, 3 unknown)",
              [q(f"dcops_sensor_state{{{d}}}", "{{sensor}}")], steps=[(None, "green"), (1, "orange"), (2, "red")],
              options={"showValue": "never", "mergeValues": True}),
        panel("timeseries", "Traffic (out below zero)", [q(f"dcops_if_in_bps{{{d}}}", "{{ifname}} in"),
                                                         q(f"-dcops_if_out_bps{{{d}}}", "{{ifname}} out")],
              w=24, unit="bps"),
        panel("table", "Interfaces",
              [q(f"dcops_if_oper_up{{{d}}}", instant=True, table=True),
               q(f"dcops_if_admin_up{{{d}}}", instant=True, table=True),
               q(f"dcops_if_speed_bps{{{d}}}", instant=True, table=True),
               q(f"dcops_if_utilization_percent{{{d}}}", instant=True, table=True)], w=24, h=10,
              transformations=[{"id": "joinByField", "options": {"byField": "ifname", "mode": "outer"}},
                               {"id": "filterFieldsByName", "options": {"include": {
                                   "pattern": "ifname|Value #A|Value #B|Value #C|Value #D"}}},
                               {"id": "organize", "options": {"renameByName": {
                                   "Value #A": "oper up", "Value #B": "admin up", "Value #C": "speed (bit/s)",
                                   "Value #D": "utilisation %"}}}]),
    ], [SITE, var_query("device", f"label_values(dcops_device_up{{{S}}}, device)", "Device", multi=False,
                        include_all=False)])


def interfaces() -> dict[str, Any]:
    f = 'device=~"$device", ifname=~"$ifname"'
    legend = "{{device}} {{ifname}}"
    return dashboard("dcops-interfaces", "dcops / Interfaces", "Rates, errors, utilisation and status per interface.", [
        panel("timeseries", "Received", [q(f"dcops_if_in_bps{{{f}}}", legend)], unit="bps"),
        panel("timeseries", "Sent", [q(f"dcops_if_out_bps{{{f}}}", legend)], unit="bps"),
        panel("timeseries", "Utilisation (busier direction)", [q(f"dcops_if_utilization_percent{{{f}}}", legend)],
              unit="percent", lo=0, hi=100, steps=[(None, "green"), (70, "orange"), (90, "red")]),
        panel("timeseries", "Errors", [q(f"dcops_if_in_errors_per_second{{{f}}}", legend + " in"),
                                       q(f"dcops_if_out_errors_per_second{{{f}}}", legend + " out")], unit="pps"),
        panel("timeseries", "Discards", [q(f"dcops_if_in_discards_per_second{{{f}}}", legend + " in"),
                                         q(f"dcops_if_out_discards_per_second{{{f}}}", legend + " out")], unit="pps"),
        panel("state-timeline", "Operational status", [q(f"dcops_if_oper_up{{{f}}}", legend)], mappings=UP_DOWN,
              steps=[(None, "red"), (1, "green")], options={"showValue": "never", "mergeValues": True}),
        panel("table", "Down while administratively up",
              [q(f"dcops_if_oper_up{{{S}}} == 0 and on (device, ifname) dcops_if_admin_up == 1",
                 instant=True, table=True)],
              transformations=[{"id": "filterFieldsByName", "options": {"include": {
                  "pattern": "site|device|role|ifname"}}}]),
        panel("table", "Busiest links", [q(f"topk(10, dcops_if_utilization_percent{{{S}}})", instant=True,
                                           table=True)], unit="percent",
              transformations=[{"id": "filterFieldsByName", "options": {"include": {
                  "pattern": "site|device|ifname|Value"}}},
                  {"id": "sortBy", "options": {"sort": [{"field": "Value", "desc": True}]}}]),
    ], [SITE, var_query("device", f"label_values(dcops_if_oper_up{{{S}}}, device)", "Device"),
        var_query("ifname", 'label_values(dcops_if_oper_up{device=~"$device"}, ifname)', "Interface")])


def power() -> dict[str, Any]:
    u = 'device=~"$ups"'
    p = 'device=~"$pdu"'
    about = "UPS state and batteries, PDU power, racks against budget."
    return dashboard("dcops-power", "dcops / Power and UPS", about, [
        panel("stat", "On battery", [q(f"dcops_ups_on_battery{{{u}}}", "{{device}}")], w=8, h=5,
              mappings=[{"type": "value", "options": {"0": {"text": "MAINS", "color": "green", "index": 0},
                                                      "1": {"text": "ON BATTERY", "color": "red", "index": 1}}}],
              steps=[(None, "green"), (1, "red")]),
        panel("gauge", "Battery charge", [q(f"dcops_ups_battery_charge_percent{{{u}}}", "{{device}}")], w=8, h=5,
              unit="percent", lo=0, hi=100, steps=[(None, "red"), (50, "orange"), (80, "green")]),
        panel("stat", "Runtime on battery", [q(f"dcops_ups_runtime_seconds{{{u}}}", "{{device}}")], w=8, h=5,
              unit="s", steps=[(None, "red"), (600, "orange"), (1800, "green")]),
        panel("timeseries", "UPS load", [q(f"dcops_ups_load_percent{{{u}}}", "{{device}}")], unit="percent",
              lo=0, hi=100),
        panel("timeseries", "UPS input voltage", [q(f"dcops_ups_input_voltage_volts{{{u}}}", "{{device}}")],
              unit="volt"),
        panel("timeseries", "PDU power", [q(f"dcops_pdu_power_watts{{{p}}}", "{{device}}"),
                                          q(f"site:dcops_pdu_power_watts:sum{{{S}}}", "{{site}} total")],
              unit="watt"),
        panel("bargauge", "Outlet power", [q(f"dcops_pdu_outlet_power_watts{{{p}}}", "{{device}} {{outlet}}")],
              unit="watt"),
        panel("timeseries", "Phase current", [q(f"dcops_pdu_phase_current_amperes{{{p}}}", "{{device}} {{phase}}")],
              unit="amp"),
        panel("timeseries", "Phase power", [q(f"dcops_pdu_phase_power_watts{{{p}}}", "{{device}} {{phase}}")],
              unit="watt"),
        panel("bargauge", "Outlet current", [q(f"dcops_pdu_outlet_current_amperes{{{p}}}", "{{device}} {{outlet}}")],
              unit="amp"),
        panel("timeseries", "Rack power drawn and budget",
              [q(f"dcops_rack_power_draw_watts{{{S}}}", "{{rack}} drawn"),
               q(f"dcops_rack_power_budget_watts{{{S}}}", "{{rack}} budget")], w=24, unit="watt"),
    ], [SITE, var_query("ups", f"label_values(dcops_ups_on_battery{{{S}}}, device)", "UPS"),
        var_query("pdu", f"label_values(dcops_pdu_power_watts{{{S}}}, device)", "PDU")])


def capacity() -> dict[str, Any]:
    c = 'cluster=~"$cluster", resource=~"$resource"'
    cr = "{{cluster}} {{resource}}"
    return dashboard("dcops-capacity", "dcops / Capacity", "Usable capacity, allocation and headroom per cluster.", [
        panel("bargauge", "Allocated / capacity",
              [q(f"dcops_cluster_allocated{{{c}}} / (dcops_cluster_capacity{{{c}}} > 0)", cr)],
              unit="percentunit", lo=0, hi=1, steps=[(None, "green"), (0.75, "orange"), (0.9, "red")]),
        panel("stat", "Smallest headroom",
              [q(f"min by (resource) (cluster_resource:dcops_cluster_headroom:ratio{{{c}}})", "{{resource}}")],
              unit="percentunit",
              steps=[(None, "red"), (0.1, "orange"), (0.25, "green")]),
        panel("timeseries", "Capacity and allocated", [q(f"dcops_cluster_capacity{{{c}}}", cr + " capacity"),
                                                       q(f"dcops_cluster_allocated{{{c}}}", cr + " allocated")], w=24),
        panel("timeseries", "Headroom", [q(f"cluster_resource:dcops_cluster_headroom:ratio{{{c}}}", cr)],
              unit="percentunit"),
        panel("table", "Headroom per cluster and resource",
              [q(f"cluster_resource:dcops_cluster_headroom:diff{{{c}}}", instant=True, table=True),
               q(f"cluster_resource:dcops_cluster_headroom:ratio{{{c}}}", instant=True, table=True)],
              transformations=[{"id": "joinByLabels", "options": {"value": "__name__",
                                                                  "join": ["cluster", "resource"]}}]),
    ], [var_query("cluster", "label_values(dcops_cluster_capacity, cluster)", "Cluster"),
        var_query("resource", "label_values(dcops_cluster_capacity, resource)", "Resource")])


def poller() -> dict[str, Any]:
    rate = "$__rate_interval"
    return dashboard("dcops-poller", "dcops / Poller health", "The SNMP poller and trap receiver of dcops itself.", [
        panel("stat", "Devices polled", [q("dcops_poller_devices", "devices")], w=6, h=4),
        panel("stat", "Last cycle", [q("dcops_poller_cycle_duration_seconds", "cycle")], w=6, h=4, unit="s",
              steps=[(None, "green"), (45, "orange"), (60, "red")]),
        panel("stat", "Failed polls", [q(f"sum(rate(dcops_poller_errors_total[{rate}])) / "
                                         f"sum(rate(dcops_poller_polls_total[{rate}]))", "failed")],
              w=6, h=4, unit="percentunit", steps=[(None, "green"), (0.1, "orange"), (0.3, "red")]),
        panel("stat", "Overruns (1 h)", [q("increase(dcops_poller_overruns_total[1h])", "overruns")], w=6, h=4,
              steps=[(None, "green"), (1, "red")]),
        panel("timeseries", "Cycle duration", [q("dcops_poller_cycle_duration_seconds", "cycle")], unit="s"),
        panel("timeseries", "Polls per second", [q(f"rate(dcops_poller_polls_total[{rate}])", "polls")],
              unit="reqps"),
        panel("timeseries", "Errors by reason", [q(f"sum by (reason) (rate(dcops_poller_errors_total[{rate}]))",
                                                   "{{reason}}")], unit="reqps"),
        panel("timeseries", "Overruns", [q(f"increase(dcops_poller_overruns_total[{rate}])", "overruns")]),
        panel("timeseries", "Traps received", [q(f"sum by (source) (rate(dcops_traps_received_total[{rate}]))",
                                                 "{{source}}")], unit="reqps"),
        panel("table", "Slowest devices to poll", [q("topk(15, dcops_device_poll_duration_seconds)", instant=True,
                                                     table=True)], unit="s",
              transformations=[{"id": "filterFieldsByName", "options": {"include": {
                  "pattern": "device|site|role|Value"}}},
                  {"id": "sortBy", "options": {"sort": [{"field": "Value", "desc": True}]}}]),
    ], refresh="30s")


DASHBOARDS = {"dcops-overview.json": overview, "dcops-device.json": device, "dcops-interfaces.json": interfaces,
              "dcops-power.json": power, "dcops-capacity.json": capacity, "dcops-poller.json": poller}


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {name: json.dumps(build(), indent=2, ensure_ascii=False) + "\n" for name, build in DASHBOARDS.items()}


def main() -> int:
    OUT.mkdir(exist_ok=True)
    for name, text in render().items():
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
