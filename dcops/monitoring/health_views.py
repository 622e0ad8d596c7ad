"""What the console shows of monitoring: device health, open alerts, the poller's heartbeat.

Reads only (one query each, sized for thousands of devices); every change goes through
``dcops.monitoring.alerting``. ``health_of`` is the one rule that colours a device everywhere.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, select
from sqlmodel import Session, col

from dcops.database import utcnow
from dcops.dcim.choices import DeviceStatus
from dcops.dcim.models import Device, Site
from dcops.monitoring.alert_models import Alert, AlertState, Severity
from dcops.monitoring.state_models import DeviceState, PollerStatus

HEALTH_ORDER = ("up", "warning", "down", "unknown", "maintenance", "planned")
SEVERITY_ORDER = (Severity.CRITICAL.value, Severity.WARNING.value, Severity.INFO.value)


def health_of(status: str, reachable: bool | None, polled: bool, alerting: bool) -> str:
    """Return a device's health: up, warning, down, unknown, maintenance or planned."""
    if status == DeviceStatus.MAINTENANCE:
        return "maintenance"
    if status in (DeviceStatus.PLANNED, DeviceStatus.STAGED, DeviceStatus.DECOMMISSIONED):
        return "planned"
    if status == DeviceStatus.FAILED:
        return "down"
    if polled and not reachable:
        return "down"
    if alerting:
        return "warning"
    return "up" if polled else "unknown"


def alerting_devices(session: Session, where: Any = None) -> set[int]:
    """Return the devices (matching the condition ``where`` on Device) with an open critical/warning alert."""
    stmt = select(col(Alert.device_id)).where(
        col(Alert.state).in_((AlertState.FIRING, AlertState.ACKNOWLEDGED)),
        col(Alert.severity).in_((Severity.CRITICAL, Severity.WARNING)),
        col(Alert.device_id).is_not(None),
    ).distinct()
    if where is not None:
        stmt = stmt.join(Device, col(Device.id) == col(Alert.device_id)).where(where)
    return {i for (i,) in session.execute(stmt).all()}


def device_health(session: Session, where: Any) -> dict[int, str]:
    """Return the health of each device matching ``where`` (a condition on Device, e.g. its rack)."""
    alerting = alerting_devices(session, where)
    rows = session.execute(
        select(col(Device.id), col(Device.status), col(DeviceState.reachable), col(DeviceState.last_poll_at))
        .outerjoin(DeviceState, col(DeviceState.device_id) == col(Device.id)).where(where)
    ).all()
    return {i: health_of(s, r, p is not None, i in alerting) for i, s, r, p in rows if i is not None}


@dataclass
class SiteHealth:
    """How many devices of a site are in each health."""

    name: str
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def sites_health(session: Session) -> list[SiteHealth]:
    """Count devices by health per site (decommissioned devices left out)."""
    alerting = alerting_devices(session)
    rows = session.execute(
        select(col(Site.name), col(Device.id), col(Device.status), col(DeviceState.reachable),
               col(DeviceState.last_poll_at))
        .join(Site, col(Site.id) == col(Device.site_id))
        .outerjoin(DeviceState, col(DeviceState.device_id) == col(Device.id))
        .where(col(Device.status) != DeviceStatus.DECOMMISSIONED)
    ).all()
    by_site: dict[str, SiteHealth] = {}
    for site, device_id, status, reachable, polled in rows:
        entry = by_site.setdefault(site, SiteHealth(site))
        entry.counts[health_of(status, reachable, polled is not None, device_id in alerting)] += 1
    return [by_site[k] for k in sorted(by_site)]


def open_alerts(session: Session, *, limit: int = 200, device_id: int | None = None) -> list[Alert]:
    """Return firing and acknowledged alerts, most severe and newest first."""
    severity_rank = case({s: i for i, s in enumerate(SEVERITY_ORDER)}, value=col(Alert.severity), else_=9)
    stmt = (select(Alert).where(col(Alert.state).in_((AlertState.FIRING, AlertState.ACKNOWLEDGED)))
            .order_by(severity_rank, col(Alert.started_at).desc()).limit(limit))
    if device_id is not None:
        stmt = stmt.where(col(Alert.device_id) == device_id)
    return list(session.execute(stmt).scalars().all())


def alert_counts(alerts: list[Alert]) -> dict[str, int]:
    """Count alerts by severity, in severity order."""
    counts = Counter(a.severity.value if hasattr(a.severity, "value") else str(a.severity) for a in alerts)
    return {s: counts.get(s, 0) for s in SEVERITY_ORDER}


@dataclass
class PollerHealth:
    """The poller's last heartbeat and whether it is recent."""

    status: PollerStatus | None
    fresh: bool
    errors: int


def poller_health(session: Session, now: datetime | None = None) -> PollerHealth:
    """Return the poller's status; stale when no cycle ended within three intervals (or 3 minutes)."""
    status = session.get(PollerStatus, 1)
    if status is None or status.heartbeat_at is None:
        return PollerHealth(status, False, 0)
    now = now or utcnow()
    window = timedelta(seconds=max(3 * (status.cycle_interval_s or 60), 180))
    return PollerHealth(status, now - status.heartbeat_at <= window, sum((status.errors_total or {}).values()))


Grouped = dict[str, list[tuple[dict[str, Any], float]]]


def latest(session: Session, device_id: int) -> tuple[DeviceState | None, Grouped]:
    """Return a device's last state and its samples grouped by metric."""
    state = session.get(DeviceState, device_id)
    grouped: dict[str, list[tuple[dict[str, Any], float]]] = {}
    if state is not None:
        for metric, labels, value in state.samples or []:
            grouped.setdefault(metric, []).append((dict(labels), float(value)))
    return state, grouped
