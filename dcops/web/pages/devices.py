"""The device page: inventory data, interfaces, sensors, UPS figures, history charts, alerts and change log."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlmodel import Session

from dcops.auth.choices import ADMIN_OPERATOR, STAFF
from dcops.auth.models import ChangeLogEntry
from dcops.database import SessionDep, utcnow
from dcops.dcim import service as dcim
from dcops.dcim.models import Cluster, Device, DeviceType, Rack, Site
from dcops.monitoring import sensor_state
from dcops.monitoring.alert_models import Alert
from dcops.monitoring.sensors import UNITS
from dcops.monitoring.state import parse_series_key
from dcops.monitoring.state_models import Interface, MetricHistory
from dcops.web import fmt, status, svg
from dcops.web.auth import Page, Viewer
from dcops.web.render import lang_of, render

router = APIRouter()

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


Points = list[tuple[datetime, float]]
MAX_POINTS = 288  # a 24 h chart at 5-minute resolution is as fine as its pixels


def _history(session: Session, device_id: int, keys: list[str], since: datetime) -> dict[str, Points]:
    """Return the points of each wanted series key, at most MAX_POINTS evenly spread over the range.

    The rows' times are read first (small), then the values of the chosen rows only: a day of per-minute
    polls holds 1,440 JSON documents of every metric of the device, and a chart needs a fifth of them.
    """
    stamps = session.execute(
        select(MetricHistory.id, MetricHistory.at)
        .where(MetricHistory.device_id == device_id, MetricHistory.at >= since).order_by(MetricHistory.at)
    ).all()
    step = max(1, -(-len(stamps) // MAX_POINTS))
    chosen = [i for i, _ in stamps[::step]]
    out: dict[str, Points] = {k: [] for k in keys}
    for start in range(0, len(chosen), 500):
        rows = session.execute(select(MetricHistory.at, MetricHistory.values)
                               .where(MetricHistory.id.in_(chosen[start:start + 500]))  # type: ignore[union-attr]
                               .order_by(MetricHistory.at)).all()
        for at, values in rows:
            for key in keys:
                if key in values:
                    out[key].append((at, float(values[key])))
    return out


def _series_key(metric: str, labels: dict[str, Any]) -> str:
    if not labels:
        return metric
    return metric + "{" + ",".join(f"{k}={v}" for k, v in sorted(labels.items())) + "}"


def _charts(session: Session, device_id: int, grouped: dict[str, list[tuple[dict[str, Any], float]]],
            lang: str) -> list[dict[str, str]]:
    wanted = []
    for metric, title, unit in CHARTS:
        series = grouped.get(metric)
        if series:
            labels = max(series, key=lambda s: s[1])[0] if metric.startswith("if_") else series[0][0]
            wanted.append((metric, title, unit, _series_key(metric, labels), labels))
    points = _history(session, device_id, [w[3] for w in wanted], utcnow() - timedelta(hours=24))
    charts = []
    for metric, title, unit, key, labels in wanted[:6]:
        rate = metric in ("if_in_bps", "if_out_bps")
        chart = svg.line_chart(
            points[key], unit="" if rate else unit,
            label_time=lambda t: fmt.local_time(t).strftime("%H:%M") if fmt.local_time(t) else "",
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
    dtype = session.get(DeviceType, device.device_type_id)
    site = session.get(Site, device.site_id)
    rack = session.get(Rack, device.rack_id) if device.rack_id else None
    cluster = session.get(Cluster, device.cluster_id) if device.cluster_id else None
    state, grouped = status.latest(session, id)
    health = status.device_health(session, Device.id == id).get(id, "unknown")
    rates: dict[str, dict[str, float]] = {}
    for metric in ("if_in_bps", "if_out_bps", "if_utilization_percent"):
        for labels, value in grouped.get(metric, []):
            rates.setdefault(str(labels.get("ifname", "")), {})[metric] = value
    interfaces = list(session.execute(
        select(Interface).where(Interface.device_id == id).order_by(Interface.ifindex)).scalars())
    sensors = [(str(labels.get("sensor", "")), metric, value) for metric in ("temperature_celsius", "fan_rpm")
               for labels, value in grouped.get(metric, [])]
    readings = sensor_state.sensors_view(session, id)
    discovery = sensor_state.discovery_view(session, id)
    ups = [(label, metric, grouped[metric][0][1]) for metric, label in UPS_METRICS if grouped.get(metric)]
    alerts = list(session.execute(select(Alert).where(Alert.device_id == id).order_by(Alert.id.desc())  # type: ignore
                                  .limit(20)).scalars())
    changes = list(session.execute(
        select(ChangeLogEntry).where(ChangeLogEntry.object_type == dcim.devices.label, ChangeLogEntry.object_id == id)
        .order_by(ChangeLogEntry.id.desc()).limit(20)).scalars())  # type: ignore[union-attr]
    charts = _charts(session, id, grouped, lang_of(request))
    return render(request, "device.html", session, active="inventory", title="Device", device=device, dtype=dtype,
                  site=site, rack=rack, cluster=cluster, state=state, health=health, interfaces=interfaces,
                  rates=rates, sensors=sensors, ups=ups, alerts=alerts, changes=changes, charts=charts,
                  readings=readings, discovery=discovery, units=UNITS,
                  can_edit=viewer.can(ADMIN_OPERATOR))
