"""``dcops scheduler``: the single leader that enqueues poll slices and the periodic work.

Leadership is a PostgreSQL session advisory lock held on a dedicated connection: the first scheduler takes it,
a second waits as a standby and takes over within one retry when the leader's connection drops (process killed,
host gone). On SQLite (one machine) a file lock in the data directory plays the same part.

Each tick (a few seconds) the leader runs every feature's scheduling round (:data:`dcops.engine.hooks.SCHEDULE`;
monitoring's sends the due devices in poll slices, see :mod:`dcops.monitoring.poll_schedule`) and sends the
periodic work (:data:`dcops.engine.hooks.PERIODIC`) that is due.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy import text

from dcops.config import get_settings
from dcops.database import get_engine
from dcops.engine.dispatch import submit
from dcops.engine.hooks import PERIODIC, SCHEDULE, Plan

log = logging.getLogger("dcops.scheduler")

LOCK_KEY = "dcops:scheduler"
__all__ = ["LOCK_KEY", "Leadership", "Plan", "run", "tick"]


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


def tick(plan: Plan, *, tick_s: float, slice_size: int) -> int:
    """Run each feature's scheduling round and send the periodic work that is due; return the units sent."""
    now = time.time()
    sent = 0
    for step in SCHEDULE.all():  # the poll slices (monitoring) and any other feature's round
        sent += step(plan, now, tick_s, slice_size)
    for work in PERIODIC.all():
        period = work.period()
        if period > 0 and now - plan.periodic_at.get(work.name, 0.0) >= period:
            plan.periodic_at[work.name] = now
            submit(work.queue, "dcops.periodic", work.name, expires=period)
    return sent


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
