"""``dcops scheduler``: the single leader that enqueues poll slices and the periodic work.

Leadership is a PostgreSQL session advisory lock held on a dedicated connection: the first scheduler takes it,
a second waits as a standby and takes over within one retry when the leader's connection drops (process killed,
host gone). On SQLite (one machine) a file lock in the data directory plays the same part.

Each tick (a few seconds) the leader reads every pollable device's interval and last poll, and enqueues the due
ones in slices, **oldest last poll first**: a device that missed its slot (its slice expired in an overloaded
cycle, or a worker died) goes first next time. A device is not enqueued again within its interval after being
sent, and a slice expires after ~one interval, so a backlog never turns into double polls. A device's first
slot is spread over the first quarter of its interval (by id), so polls do not all start at once.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text

from dcops.config import get_settings
from dcops.database import get_engine, session_scope, utcnow
from dcops.engine.dispatch import submit

log = logging.getLogger("dcops.scheduler")

LOCK_KEY = "dcops:scheduler"
JITTER = 0.25


class Leadership:
    """Hold the scheduler's leader lock (PostgreSQL advisory lock, or a file lock on SQLite)."""

    def __init__(self, key: str = LOCK_KEY, lock_file: str = "scheduler.lock") -> None:
        self.key, self.lock_file = key, lock_file
        self._conn: Any = None
        self._file: Any = None

    def try_acquire(self) -> bool:
        """Take the lock if free; tell whether this process now leads."""
        engine = get_engine()
        if engine.dialect.name == "postgresql":
            conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            if conn.execute(text("SELECT pg_try_advisory_lock(hashtext(:k))"), {"k": self.key}).scalar():
                self._conn = conn
                return True
            conn.close()
            return False
        import fcntl

        path = get_settings().data_dir / self.lock_file
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def held(self) -> bool:
        """Tell whether the lock is still ours (the connection holding it still answers)."""
        if self._file is not None:
            return True
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
            return True
        except Exception:
            log.warning("lost the scheduler lock's connection; standing down")
            self._conn = None
            return False

    def release(self) -> None:
        """Give the lock up."""
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": self.key})
                self._conn.close()
            except Exception:
                pass
            self._conn = None
        if self._file is not None:
            self._file.close()
            self._file = None


def _offset(device_id: int, span: float) -> float:
    return (device_id * 0.6180339887498949) % 1.0 * span


@dataclass
class Plan:
    """The leader's memory of what it sent (rebuilt from the database by a new leader)."""

    started: float = field(default_factory=time.time)
    sent_at: dict[int, float] = field(default_factory=dict)
    periodic_at: dict[str, float] = field(default_factory=dict)
    slices_sent: int = 0
    devices_sent: int = 0


def pollable() -> list[tuple[int, int, float | None]]:
    """Return (device id, interval s, last poll as epoch seconds or None) of every pollable device."""
    from dcops.dcim.models import Credential, Device
    from dcops.monitoring.poller import POLLED_STATUSES
    from dcops.monitoring.state_models import DeviceState, MonitoringSetting

    with session_scope() as session:
        rows = session.execute(
            select(Device.id, MonitoringSetting.interval_s, MonitoringSetting.enabled, DeviceState.last_poll_at)
            .join(Credential, Credential.id == Device.snmp_credential_id)  # type: ignore[arg-type]
            .outerjoin(MonitoringSetting, MonitoringSetting.device_id == Device.id)  # type: ignore[arg-type]
            .outerjoin(DeviceState, DeviceState.device_id == Device.id)  # type: ignore[arg-type]
            .where(Device.status.in_(POLLED_STATUSES), Device.mgmt_address.is_not(None))  # type: ignore
        ).all()
    return [(d, interval or 60, last.timestamp() if last else None) for d, interval, enabled, last in rows
            if enabled is not False]


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


def _periods() -> dict[str, tuple[str, float]]:
    import os

    from dcops.engine.tasks import PERIODIC

    out = {}
    for name, (_body, queue, period) in PERIODIC.items():
        override = os.environ.get(f"DCOPS_EVERY_{name.upper()}")
        out[name] = (queue, float(override) if override else period)
    return out


def tick(plan: Plan, *, tick_s: float, slice_size: int) -> int:
    """Enqueue the due devices in slices and the periodic work that is due; return the devices sent."""
    from dcops.monitoring.state import record_poller_status

    now = time.time()
    devices = pollable()
    due = due_devices(devices, plan, now, tick_s)
    intervals = {d: i for d, i, _ in devices}
    for start in range(0, len(due), slice_size):
        ids = due[start:start + slice_size]
        interval = min(intervals[d] for d in ids)
        submit("poll", "dcops.poll_slice", ids, interval * 0.8, now, expires=interval * 0.9)
        plan.slices_sent += 1
    plan.devices_sent += len(due)
    for name, (queue, period) in _periods().items():
        if period > 0 and now - plan.periodic_at.get(name, 0.0) >= period:
            plan.periodic_at[name] = now
            submit(queue, "dcops.periodic", name, expires=period)
    with session_scope() as session:
        record_poller_status(session, heartbeat_at=utcnow(), devices=len(devices),
                             cycle_interval_s=float(min(intervals.values(), default=60)))
    return len(due)


def run(stop: threading.Event, *, tick_s: float = 5.0, slice_size: int = 50, retry_s: float = 2.0) -> Plan:
    """Lead (or wait as a standby, then lead) until ``stop`` is set; return the last plan (tests)."""
    leadership = Leadership()
    plan = Plan()
    while not stop.is_set():
        if not leadership.try_acquire():
            stop.wait(retry_s)
            continue
        log.info("scheduler: leader now")
        plan = Plan()
        try:
            while not stop.is_set() and leadership.held():
                try:
                    tick(plan, tick_s=tick_s, slice_size=slice_size)
                except Exception:
                    log.exception("scheduler tick failed; going on")
                stop.wait(tick_s)
        finally:
            leadership.release()
    return plan
