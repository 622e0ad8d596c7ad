"""The ``device_not_polled`` rule: a pollable device not recorded within 2 of its intervals raises an alert.

The check runs in the scheduler's periodic work. It sends the event ``device_not_polled`` for each late device
(the alert fires once and stays open), and ``device_polled`` for a device whose alert is open but which has been
recorded again since, which resolves it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select

from dcops.database import session_scope, utcnow
from dcops.monitoring.alert_models import OPEN_STATES, Alert
from dcops.monitoring.alerting import record_events
from dcops.monitoring.poll_schedule import pollable_rows

RULE = "device_not_polled"
#: a device enrolled but never polled counts as late this long after the check first saw it
_first_seen: dict[int, datetime] = {}


def late_devices(now: datetime | None = None) -> tuple[list[int], list[int]]:
    """Return (device ids not recorded within 2 intervals, device ids recorded in time)."""
    now = now or utcnow()
    with session_scope() as session:
        rows = pollable_rows(session)
    late: list[int] = []
    fresh: list[int] = []
    for device_id, interval, last in rows:
        window = timedelta(seconds=2 * interval)
        since = last or _first_seen.setdefault(device_id, now)
        (late if now - since > window else fresh).append(device_id)
    return late, fresh


def check() -> int:
    """Raise or clear ``device_not_polled``; return how many devices are late."""
    late, fresh = late_devices()
    with session_scope() as session:
        open_ids = set(session.exec(select(col(Alert.device_id)).where(
            col(Alert.rule) == RULE, col(Alert.state).in_(OPEN_STATES))).all())
    with session_scope() as session:
        for device_id in late:
            if device_id not in open_ids:
                record_events(session, device_id=device_id, events=[(RULE, "snmp")])
        for device_id in fresh:
            if device_id in open_ids:
                record_events(session, device_id=device_id, events=[("device_polled", "snmp")])
    return len(late)
