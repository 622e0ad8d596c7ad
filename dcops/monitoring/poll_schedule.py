"""Which devices are due a poll, for the scheduler's leader (``dcops scheduler``) and the staleness check.

Each tick the leader reads every pollable device's interval and last poll, and sends the due ones in slices,
**oldest last poll first**: a device that missed its slot (its slice expired in an overloaded cycle, or a worker
died) goes first next time. A device is not sent again within its interval after being sent, and a slice expires
after ~one interval, so a backlog never turns into double polls. A device's first slot is spread over the first
quarter of its interval (by id), so polls do not all start at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from dcops.database import session_scope, utcnow
from dcops.dcim.models import Credential, Device
from dcops.engine.dispatch import submit
from dcops.engine.hooks import Plan
from dcops.monitoring.state import record_poller_status
from dcops.monitoring.state_models import DeviceState, MonitoringSetting
from dcops.monitoring.targets import DEFAULT_INTERVAL_S, POLLED_STATUSES

JITTER = 0.25


def pollable_rows(session: Session) -> list[tuple[int, int, datetime | None]]:
    """Return (device id, interval s, last poll) of every pollable device whose monitoring is not switched off."""
    rows = session.exec(
        select(col(Device.id), col(MonitoringSetting.interval_s), col(MonitoringSetting.enabled),
               col(DeviceState.last_poll_at))
        .join(Credential, col(Credential.id) == col(Device.snmp_credential_id))
        .outerjoin(MonitoringSetting, col(MonitoringSetting.device_id) == col(Device.id))
        .outerjoin(DeviceState, col(DeviceState.device_id) == col(Device.id))
        .where(col(Device.status).in_(POLLED_STATUSES), col(Device.mgmt_address).is_not(None))
    ).all()
    return [(device_id, interval or DEFAULT_INTERVAL_S, last) for device_id, interval, enabled, last in rows
            if enabled is not False and device_id is not None]


def pollable() -> list[tuple[int, int, float | None]]:
    """Return (device id, interval s, last poll as epoch seconds or None) of every pollable device."""
    with session_scope() as session:
        rows = pollable_rows(session)
    return [(d, interval, last.timestamp() if last else None) for d, interval, last in rows]


def _offset(device_id: int, span: float) -> float:
    return (device_id * 0.6180339887498949) % 1.0 * span


def due_devices(devices: list[tuple[int, int, float | None]], plan: Plan, now: float, tick_s: float) -> list[int]:
    """Return the due device ids, oldest last poll first, and note them as sent."""
    due: list[tuple[float, int]] = []
    for device_id, interval, last in devices:
        next_at = last + interval if last is not None else plan.started + _offset(device_id, interval * JITTER)
        sent = plan.sent_at.get(device_id)
        if sent is not None and (last is None or last < sent):
            next_at = max(next_at, sent + interval)  # in a queue or being polled: not again within its interval
        if next_at <= now + tick_s / 2:
            due.append((last if last is not None else -1.0, device_id))
    due.sort()
    for _, device_id in due:
        plan.sent_at[device_id] = now
    known = {d for d, _, _ in devices}
    for device_id in [d for d in plan.sent_at if d not in known]:
        del plan.sent_at[device_id]
    return [d for _, d in due]


def schedule_polls(plan: Plan, now: float, tick_s: float, slice_size: int) -> int:
    """Send the due devices to the poll queue in slices and record the scheduler's heartbeat; return how many."""
    devices = pollable()
    due = due_devices(devices, plan, now, tick_s)
    intervals = {d: i for d, i, _ in devices}
    for start in range(0, len(due), slice_size):
        ids = due[start:start + slice_size]
        interval = min(intervals[d] for d in ids)
        submit("poll", "dcops.poll_slice", ids, interval * 0.8, now, expires=interval * 0.9)
        plan.slices_sent += 1
    plan.devices_sent += len(due)
    with session_scope() as session:
        record_poller_status(session, heartbeat_at=utcnow(), devices=len(devices),
                             cycle_interval_s=float(min(intervals.values(), default=DEFAULT_INTERVAL_S)))
    return len(due)
