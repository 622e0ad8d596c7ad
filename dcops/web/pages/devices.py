"""The device page: inventory data, interfaces, sensors, UPS figures, history charts, alerts and change log."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import Response
from sqlmodel import Session, col

from dcops import changelog
from dcops.auth.choices import ADMIN_OPERATOR, STAFF
from dcops.database import SessionDep, utcnow
from dcops.dcim import service as dcim
from dcops.dcim.models import Device
from dcops.monitoring import device_reads, sensor_state
from dcops.monitoring.alert_views import device_alerts
from dcops.monitoring.history import labels_key, parse_series_key
from dcops.monitoring.sensors import UNITS
from dcops.routing import ApiRouter
from dcops.web import fmt, status, svg
from dcops.web.auth import Page, Viewer
from dcops.web.render import lang_of, render

router = ApiRouter()

#: metric -> (title, unit); the first series of each metric the device has is charted, in this order
CHARTS = (
    ("cpu_load_percent", "CPU", "%"), ("memory_used_percent", "RAM", "%"),
    ("temperature_celsius", "Temperature", " °C"), ("if_in_bps", "In", ""), ("if_out_bps", "Out", ""),
    ("ups_battery_charge_percent", "Battery charge", "%"), ("ups_load_percent", "Load", "%"),
    ("pdu_power_watts", "Power", " W"),
)
UPS_METRICS = (("ups_on_battery", "On battery"), ("ups_battery_charge_percent", "Battery charge"),
               ("ups_runtime_seconds", "Runtime"), ("ups_load_percent", "Load"),
               ("ups_input_voltage_volts", "Input voltage"))


MAX_POINTS = 288  # a 24 h chart at 5-minute resolution is as fine as its pixels


def _clock(at: datetime) -> str:
    local = fmt.local_time(at)
    return local.strftime("%H:%M") if local else ""


def _charts(session: Session, device_id: int, grouped: dict[str, list[tuple[dict[str, Any], float]]],
            lang: str) -> list[dict[str, str]]:
    wanted = []
    for metric, title, unit in CHARTS:
        series = grouped.get(metric)
        if series:
            labels = max(series, key=lambda s: s[1])[0] if metric.startswith("if_") else series[0][0]
            wanted.append((metric, title, unit, labels_key(metric, labels), labels))
    points = device_reads.chart_points(session, device_id, [w[3] for w in wanted], utcnow() - timedelta(hours=24),
                                       MAX_POINTS)
    charts = []
    for metric, title, unit, key, labels in wanted[:6]:
        rate = metric in ("if_in_bps", "if_out_bps")
        chart = svg.line_chart(
            points[key], unit="" if rate else unit,
            label_time=_clock,
            label_value=(lambda v: fmt.bytes_rate(v, lang)) if rate else (lambda v: fmt.number(v, lang, 1)),
        )
        name, _ = parse_series_key(key)
        charts.append({"title": title, "subject": ", ".join(str(v) for v in labels.values()), "svg": chart,
                       "metric": name})
    return charts


@router.get("/devices/{id}")
def device_page(id: int, request: Request, session: SessionDep, viewer: Viewer = Depends(Page(STAFF))) -> Response:
    """Show everything dcops knows about one device."""
    device = dcim.devices.get(session, actor=viewer.actor, id=id)
    where = device_reads.placement(session, device)
    state, grouped = status.latest(session, id)
    health = status.device_health(session, col(Device.id) == id).get(id, "unknown")
    rates: dict[str, dict[str, float]] = {}
    for metric in ("if_in_bps", "if_out_bps", "if_utilization_percent"):
        for labels, value in grouped.get(metric, []):
            rates.setdefault(str(labels.get("ifname", "")), {})[metric] = value
    interfaces = device_reads.interfaces(session, id)
    sensors = [(str(labels.get("sensor", "")), metric, value) for metric in ("temperature_celsius", "fan_rpm")
               for labels, value in grouped.get(metric, [])]
    readings = sensor_state.sensors_view(session, id)
    discovery = sensor_state.discovery_view(session, id)
    ups = [(label, metric, grouped[metric][0][1]) for metric, label in UPS_METRICS if grouped.get(metric)]
    alerts = device_alerts(session, id, limit=20)
    changes = changelog.history(session, object_type=dcim.devices.label, object_id=id, limit=20)
    charts = _charts(session, id, grouped, lang_of(request))
    return render(request, "device.html", session, active="inventory", title="Device", device=device,
                  dtype=where.device_type, site=where.site, rack=where.rack, cluster=where.cluster, state=state,
                  health=health, interfaces=interfaces, rates=rates, sensors=sensors, ups=ups, alerts=alerts,
                  changes=changes, charts=charts, readings=readings, discovery=discovery, units=UNITS,
                  can_edit=viewer.can(ADMIN_OPERATOR))
