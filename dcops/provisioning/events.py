"""Store a run's job events in batches, from a thread of their own.

Ansible's output is read by one thread that also hands every event over; if that thread waited on a database
commit per event (per member of a batch, for the task banners) it would slow Ansible down. The writer collects
the rows and commits whatever came in every ``every_s`` seconds in one transaction, and the rest when it closes
(before the job's outcome is recorded, so a finished job always has all its events).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from dcops.database import session_scope
from dcops.provisioning.models import JobEvent

log = logging.getLogger(__name__)


class EventWriter:
    """Batch job event rows into one commit every ``every_s`` seconds while a run lasts (a context manager)."""

    def __init__(self, every_s: float = 0.2) -> None:
        self.every_s = every_s
        self._rows: list[JobEvent] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="job-events", daemon=True)

    def __enter__(self) -> EventWriter:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.flush()

    def add(self, row: JobEvent) -> None:
        """Queue one event row for the next commit."""
        with self._lock:
            self._rows.append(row)

    def flush(self) -> None:
        """Commit the queued rows in one transaction (kept for the next try if the database is away)."""
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return
        try:
            with session_scope() as session:
                session.add_all(rows)
        except Exception:
            with self._lock:
                self._rows[:0] = rows
            raise

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.flush()
            except Exception:
                log.warning("job events could not be stored yet", exc_info=True)
