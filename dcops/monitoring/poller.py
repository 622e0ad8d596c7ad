"""The SNMP poller: poll every active device with an SNMP credential on its interval, record, evaluate alerts.

Scheduling runs in cycles. A cycle lasts the shortest device interval (60 s by default) and polls
the devices that are due; each device starts at its own offset inside the first ``jitter`` part
of the cycle (spread evenly by device id, so polls never all start together), with at most
``concurrency`` polls in flight. Every poll has a deadline inside the cycle: an unreachable device
costs one timeout of its first request (the system group), never a timeout per table, and a slow
one is cut off, so a cycle ends within its interval even when many devices time out. Results are
written by one writer task in batches (one transaction per batch), off the event loop.

The unit of work is :func:`poll_device` (takes a device id, reads what it needs, records its
result), so it can move to a task queue; the cycle uses the same pieces in bulk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import Session

from dcops.database import session_scope
from dcops.engine.scheduler import Leadership
from dcops.exceptions import NotFoundError
from dcops.monitoring import profiles as prof
from dcops.monitoring.poll_one import poll_target
from dcops.monitoring.snmp import SnmpClient
from dcops.monitoring.state import PollExtras, compact_history, record_poller_status
from dcops.monitoring.targets import (
    DEFAULT_INTERVAL_S,
    POLLED_STATUSES,
    PollerOptions,
    Target,
    load_targets,
    snmp_target,
)
from dcops.monitoring.types import PollResult
from dcops.monitoring.writer import write_batch

log = logging.getLogger("dcops.poller")

# the poller's public names, wherever they live (callers import them from here)
__all__ = ["DEFAULT_INTERVAL_S", "POLLED_STATUSES", "CycleReport", "Poller", "PollerOptions", "Target",
           "load_targets", "poll_device", "poll_target", "run_poller", "snmp_target", "store_results"]


# --- recording -------------------------------------------------------------------------------------


def store_results(session: Session, polls: Sequence[tuple[PollResult, PollExtras]]) -> None:
    """Record a batch of polls in one transaction (newest result per device only), then evaluate their alerts."""
    write_batch(session, polls)


async def poll_device(device_id: int, *, client: SnmpClient | None = None,
                      options: PollerOptions | None = None) -> PollResult:
    """Poll one inventory device now and record the result (the unit of work); raise NotFoundError if unknown."""
    options = options or PollerOptions()
    with session_scope() as session:
        targets = load_targets(session, device_ids=[device_id], options=options)
    if not targets:
        raise NotFoundError(f"device {device_id} is not pollable (active, address, SNMP credential, enabled)")
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(SnmpClient())
        result, extras = await poll_target(client, targets[0])
    with session_scope() as session:
        store_results(session, [(result, extras)])
    return result


# --- the cycle scheduler ---------------------------------------------------------------------------


def _offset(device_id: int | None, span: float) -> float:
    # golden-ratio spreading: consecutive ids land far apart, every id always at the same place
    return ((device_id or 0) * 0.6180339887498949) % 1.0 * span


@dataclass
class CycleReport:
    """What one cycle did."""

    devices: int
    duration_s: float
    interval_s: float
    ok: int = 0
    failed: int = 0
    skipped: int = 0


@dataclass
class Poller:
    """The poll scheduler and its counters (exported through the poller status row)."""

    options: PollerOptions = field(default_factory=PollerOptions)
    polls_total: int = 0
    overruns_total: int = 0
    errors_total: Counter[str] = field(default_factory=Counter)
    last_cycle: CycleReport | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    _next_due: dict[int, float] = field(default_factory=dict)
    _last_compact: float = 0.0
    #: devices skipped at the deadline of the last cycle: they start first (offset 0) in the next one
    _missed: set[int] = field(default_factory=set)

    async def run_cycle(self, client: SnmpClient, targets: Sequence[Target], interval_s: float) -> CycleReport:
        """Poll ``targets`` once within ``interval_s`` and store the results; return the cycle's report."""
        opts = self.options
        start = time.monotonic()
        deadline = start + interval_s * opts.deadline
        semaphore = asyncio.Semaphore(opts.concurrency)
        queue: asyncio.Queue[tuple[PollResult, PollExtras] | None] = asyncio.Queue()
        report = CycleReport(devices=len(targets), duration_s=0.0, interval_s=interval_s)
        all_profiles = prof.load_profiles()

        def write(batch: list[tuple[PollResult, PollExtras]]) -> None:
            with session_scope() as session:
                store_results(session, batch)

        async def writer() -> None:
            done = False
            while not done:
                item = await queue.get()
                batch = []
                while item is not None:
                    batch.append(item)
                    if len(batch) >= opts.batch or queue.empty():
                        break
                    item = queue.get_nowait()
                done = item is None
                if batch:
                    try:
                        await asyncio.to_thread(write, batch)
                    except Exception:
                        log.exception("could not record %d poll results", len(batch))

        missed, self._missed = self._missed, set()

        async def one(target: Target) -> None:
            late = target.device_id in missed
            await asyncio.sleep(0.0 if late else _offset(target.device_id, interval_s * opts.jitter))
            async with semaphore:
                left = deadline - time.monotonic()
                if left <= 0.05:
                    report.skipped += 1
                    self.overruns_total += 1
                    if target.device_id is not None:
                        self._missed.add(target.device_id)
                    return
                result, extras = await poll_target(client, target, deadline_s=left, all_profiles=all_profiles)
            self.polls_total += 1
            reason = result.facts.pop("poll_error_reason", None)
            if reason:
                self.errors_total[reason] += 1
            if result.reachable:
                report.ok += 1
            else:
                report.failed += 1
            queue.put_nowait((result, extras))

        writing = asyncio.create_task(writer())
        try:  # the devices missed last time are started first: the semaphore serves them before the others
            ordered = sorted(targets, key=lambda t: t.device_id not in missed)
            await asyncio.gather(*(one(t) for t in ordered))
        finally:
            queue.put_nowait(None)
            await writing
        report.duration_s = time.monotonic() - start
        if report.duration_s > interval_s:
            self.overruns_total += len(targets)  # every device of the next cycle starts late
        self.last_cycle = report
        return report

    def due(self, targets: Sequence[Target], now: float, cycle_s: float) -> list[Target]:
        """Return the targets due in the cycle starting at ``now`` and plan their next poll."""
        due = []
        for t in targets:
            assert t.device_id is not None
            if self._next_due.get(t.device_id, 0.0) <= now + cycle_s / 2:
                due.append(t)
                self._next_due[t.device_id] = now + t.interval_s
        known = {t.device_id for t in targets}
        for device_id in [d for d in self._next_due if d not in known]:
            del self._next_due[device_id]  # removed devices do not pile up in memory
        return due

    def save_status(self, devices: int) -> None:
        """Write the poller's counters to the database (for /metrics and the API)."""
        cycle = self.last_cycle
        with session_scope() as session:
            record_poller_status(
                session, heartbeat_at=datetime.now(UTC), started_at=self.started_at, devices=devices,
                cycle_duration_s=cycle.duration_s if cycle else 0.0,
                cycle_interval_s=cycle.interval_s if cycle else 0.0,
                polls_total=self.polls_total, overruns_total=self.overruns_total, errors_total=dict(self.errors_total))

    def maybe_compact(self) -> None:
        """Fold old history into 5-minute averages every ``compact_every_s``."""
        now = time.monotonic()
        if now - self._last_compact < self.options.compact_every_s:
            return
        self._last_compact = now
        with session_scope() as session:
            folded = compact_history(session)
        if folded:
            log.info("history: folded %d raw rows into 5-minute averages", folded)

    async def run_forever(self, *, cycles: int | None = None) -> None:
        """Run cycles until cancelled (or ``cycles`` cycles, for tests and benchmarks)."""
        done = 0
        async with SnmpClient() as client:
            targets: list[Target] = []
            refreshed = -1e9
            while cycles is None or done < cycles:
                start = time.monotonic()
                try:
                    if start - refreshed >= self.options.refresh_s or not targets:
                        targets = await asyncio.to_thread(_load_all, self.options)
                        refreshed = start
                    cycle_s = float(min((t.interval_s for t in targets), default=DEFAULT_INTERVAL_S))
                    due = self.due(targets, start, cycle_s)
                    if due:
                        await self.run_cycle(client, due, cycle_s)
                    await asyncio.to_thread(self.save_status, len(targets))
                    await asyncio.to_thread(self.maybe_compact)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("poll cycle failed; the poller goes on")
                    cycle_s = DEFAULT_INTERVAL_S
                done += 1
                if cycles is None or done < cycles:
                    await asyncio.sleep(max(0.0, start + cycle_s - time.monotonic()))


async def run_poller(options: PollerOptions | None = None) -> None:
    """Poll every pollable device on its interval until cancelled (``dcops serve`` and ``dcops poller``).

    One poller polls per database: it holds the poller lock (a PostgreSQL advisory lock, a file lock on SQLite);
    a second ``dcops poller`` or ``dcops serve`` waits as a standby and takes over when the first stops.
    """
    lock = Leadership("dcops:poller", "poller.lock")
    waited = False
    while not await asyncio.to_thread(lock.try_acquire):
        if not waited:
            log.warning("another poller holds the poller lock; standing by")
            waited = True
        await asyncio.sleep(5)
    log.info("SNMP poller started")
    try:
        await Poller(options or PollerOptions()).run_forever()
    finally:
        lock.release()


def _load_all(options: PollerOptions) -> list[Target]:
    with session_scope() as session:
        return load_targets(session, options=options)
