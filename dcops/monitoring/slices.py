"""Poll one slice of devices: the unit of work of the ``poll`` queue (and of nothing else in embedded mode).

A slice is a list of device ids. The task reads their targets, skips a device recorded less than half an
interval ago (a slice the broker delivered again after a worker died mid-poll), polls the rest concurrently
with :func:`dcops.monitoring.poll_one.poll_target`, and records them with the batched writer
(:func:`dcops.monitoring.poller.store_results`), off the event loop. Each result is applied only if it is newer
than the stored one, so a late or repeated slice can never move a device's state back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import col, select

from dcops.database import session_scope, utcnow
from dcops.monitoring import profiles as prof
from dcops.monitoring.poll_one import poll_target
from dcops.monitoring.poller import store_results
from dcops.monitoring.snmp import SnmpClient
from dcops.monitoring.state import PollExtras
from dcops.monitoring.state_models import DeviceState
from dcops.monitoring.targets import PollerOptions, Target, load_targets
from dcops.monitoring.types import PollResult

log = logging.getLogger("dcops.monitoring.slices")


@dataclass
class SliceReport:
    """What one slice did."""

    devices: int = 0
    polled: int = 0
    skipped_recent: int = 0
    ok: int = 0
    failed: int = 0
    duration_s: float = 0.0


def _recently_polled(device_ids: Sequence[int], targets: Sequence[Target], sent_at: float | None) -> set[int]:
    """Devices recorded since half an interval before the slice was sent: another slice did this slot's work."""
    intervals = {t.device_id: t.interval_s for t in targets}
    now = utcnow().timestamp()
    since = min(sent_at, now) if sent_at else now
    with session_scope() as session:
        rows = session.exec(select(col(DeviceState.device_id), col(DeviceState.last_poll_at))
                            .where(col(DeviceState.device_id).in_(list(device_ids)))).all()
    return {d for d, at in rows if at is not None and at.timestamp() >= since - intervals.get(d, 60) / 2}


async def poll_targets(targets: Sequence[Target], *, options: PollerOptions, deadline_s: float,
                       client: SnmpClient | None = None) -> SliceReport:
    """Poll ``targets`` (at most ``options.concurrency`` at once) within ``deadline_s`` and record them in batches."""
    report = SliceReport(devices=len(targets))
    started = time.monotonic()
    all_profiles = prof.load_profiles()
    semaphore = asyncio.Semaphore(options.concurrency)
    results: list[tuple[PollResult, PollExtras]] = []

    async def one(target: Target, snmp: SnmpClient) -> None:
        async with semaphore:
            left = deadline_s - (time.monotonic() - started)
            if left <= 0.05:
                return
            result, extras = await poll_target(snmp, target, deadline_s=left, all_profiles=all_profiles)
        result.facts.pop("poll_error_reason", None)
        results.append((result, extras))

    if client is None:
        async with SnmpClient() as own:
            await asyncio.gather(*(one(t, own) for t in targets))
    else:
        await asyncio.gather(*(one(t, client) for t in targets))
    for start in range(0, len(results), options.batch):
        batch = results[start:start + options.batch]
        await asyncio.to_thread(_write, batch)
    report.polled = len(results)
    report.ok = sum(1 for r, _ in results if r.reachable)
    report.failed = report.polled - report.ok
    report.duration_s = time.monotonic() - started
    return report


class _PollLoop:
    """This process's polling loop: one event loop in its own thread and one SNMP client, for every slice.

    A worker runs slices in several threads (Celery's thread pool); each hands its polls to this loop and waits.
    One loop and one socket for all: no loop, socket and executor made per slice, no two event loops contending
    for the GIL, SNMPv3 engine ids discovered once per process (as the embedded poller's client keeps them), and
    the answers of all the slices in flight read in the same wake-ups. The writes still run in the loop's worker
    threads, several at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._client: SnmpClient | None = None

    def _running(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="dcops-poll-loop", daemon=True)
                thread.start()
                self._loop, self._thread, self._pid, self._client = loop, thread, os.getpid(), None
            return self._loop

    async def _poll(self, targets: Sequence[Target], options: PollerOptions, deadline_s: float) -> SliceReport:
        if self._client is None:  # made on the loop's thread: no await between the test and the assignment
            self._client = SnmpClient()
        return await poll_targets(targets, options=options, deadline_s=deadline_s, client=self._client)

    def run(self, targets: Sequence[Target], *, options: PollerOptions, deadline_s: float) -> SliceReport:
        """Poll and record ``targets`` on this process's loop; return when they are recorded."""
        return asyncio.run_coroutine_threadsafe(self._poll(targets, options, deadline_s), self._running()).result()


_LOOP = _PollLoop()


def _write(batch: list[tuple[PollResult, PollExtras]]) -> None:
    with session_scope() as session:
        store_results(session, batch)


def warm_up(queues: Sequence[str]) -> None:
    """Load what a poll slice needs once per worker process, before its first slice (engine's ``WORKER_START``).

    The profiles (parsed from YAML: about 1.5 s of CPU), the alert rules and a pooled database connection: without
    this, the first slice each worker takes pays them, late and at the cost of its polls.
    """
    if "poll" not in queues:
        return
    from sqlalchemy import text

    from dcops.monitoring.rules import default_rules

    prof.load_profiles()
    list(default_rules())
    with session_scope() as session:
        session.execute(text("SELECT 1"))


def poll_slice(device_ids: Sequence[int], deadline_s: float | None = None,
               sent_at: float | None = None) -> dict[str, float]:
    """Poll and record one slice of devices now (the ``dcops.poll_slice`` task); return its report.

    ``sent_at`` (epoch seconds) is when the scheduler sent the slice: a device recorded since then (or within half
    an interval before) is skipped, so a slice sent twice (a new leader) or delivered twice (a killed worker)
    polls nothing twice.
    """
    options = PollerOptions(concurrency=int(os.environ.get("DCOPS_POLL_CONCURRENCY", "100")),
                            timeout_s=float(os.environ.get("DCOPS_POLL_TIMEOUT", "2.0")))
    with session_scope() as session:
        targets = load_targets(session, device_ids=list(device_ids), options=options)
    recent = _recently_polled([t.device_id for t in targets if t.device_id is not None], targets, sent_at)
    todo = [t for t in targets if t.device_id not in recent]
    interval = min((t.interval_s for t in targets), default=60)
    report = _LOOP.run(todo, options=options, deadline_s=deadline_s or interval * options.deadline)
    report.skipped_recent = len(recent)
    if recent:
        log.info("slice: %d device(s) already polled this interval (redelivered slice), skipped", len(recent))
    return {k: float(v) for k, v in report.__dict__.items()}
