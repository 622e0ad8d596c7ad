"""Reads of alerts for the console and the CLI: the filtered history, a device's latest, the silences holding them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from dcops.database import utcnow
from dcops.monitoring.alert_models import Alert, AlertState, Silence

SEVERITIES = ("critical", "warning", "info")


def alert_history(session: Session, *, state: str = "", severity: str = "", q: str = "", offset: int = 0,
                  limit: int = 50) -> tuple[list[Alert], int]:
    """Return one page of alerts, newest first, filtered by state, severity and a search, with the total count."""
    conditions: list[Any] = []
    if state in {s.value for s in AlertState}:
        conditions.append(col(Alert.state) == state)
    if severity in SEVERITIES:
        conditions.append(col(Alert.severity) == severity)
    if q.strip():
        pattern = f"%{q.strip().lower()}%"
        conditions.append(func.lower(col(Alert.device_name)).like(pattern) | func.lower(col(Alert.rule)).like(pattern))
    rows = session.exec(select(Alert).where(*conditions).order_by(col(Alert.id).desc())
                        .limit(limit).offset(max(offset, 0))).all()
    total = session.exec(select(func.count()).select_from(Alert).where(*conditions)).one()
    return list(rows), int(total)


def device_alerts(session: Session, device_id: int, *, limit: int = 20) -> list[Alert]:
    """Return a device's latest alerts (any state), newest first."""
    return list(session.exec(select(Alert).where(col(Alert.device_id) == device_id)
                             .order_by(col(Alert.id).desc()).limit(limit)).all())


def active_silences(session: Session, at: datetime) -> list[Silence]:
    """Return the silences in force at ``at``."""
    return list(session.exec(select(Silence).where(col(Silence.starts_at) <= at, col(Silence.ends_at) > at)).all())


def silenced_until(session: Session, alerts: list[Alert]) -> dict[int, datetime]:
    """For each open alert an active silence matches: when that silence ends (one query for all)."""
    now = utcnow()
    active = active_silences(session, now)
    out: dict[int, datetime] = {}
    for alert in alerts:
        if alert.id is None or str(getattr(alert.state, "value", alert.state)) == AlertState.RESOLVED:
            continue
        ends = [s.ends_at for s in active if s.matches(device_id=alert.device_id, rule=alert.rule,
                                                       severity=str(getattr(alert.severity, "value", alert.severity)),
                                                       at=now)]
        if ends:
            out[alert.id] = max(ends)
    return out
