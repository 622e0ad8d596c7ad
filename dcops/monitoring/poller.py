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
import functools
import inspect
import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import defer
from sqlmodel import Session

from dcops.dcim.choices import CredentialKind, DeviceStatus
from dcops.dcim.models import Credential, Device
from dcops.monitoring import profiles as prof
from dcops.monitoring.discovery import Discovery, discover, no_data_reason, profiles_of
from dcops.monitoring.rates import uptime_went_back
from dcops.monitoring.state import PollExtras, compact_history, record_poller_status
from dcops.monitoring.state_models import DeviceState, MonitoringSetting
from dcops.monitoring.types import PollResult, Sample
from dcops.security import decrypt_secrets

log = logging.getLogger("dcops.poller")

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
GET_CHUNK = 40  # OIDs per GET request
DEFAULT_INTERVAL_S = 60
POLLED_STATUSES = (DeviceStatus.ACTIVE, DeviceStatus.MAINTENANCE)
_VERSIONS = {CredentialKind.SNMP_V1: "1", CredentialKind.SNMP_V2C: "2c", CredentialKind.SNMP_V3: "3"}
_PRIV = {"aes128": "aes"}


@dataclass
class Target:
    """Everything needed to poll one device, read from the database before the poll."""

    device_id: int | None
    name: str
    role: str
    snmp: Any  # dcops.monitoring.snmp.SnmpTarget
    interval_s: int = DEFAULT_INTERVAL_S
    maintenance: bool = False
    v3_only: bool = False
    previous_counters: dict[str, tuple[int, int, float]] = field(default_factory=dict)
    previous_uptime: int | None = None
    previous_at: float | None = None
    table_rows: dict[str, int] = field(default_factory=dict)
    #: the last discovery result (which profiles apply and why); None: discover on the next poll
    discovery: Discovery | None = None


@dataclass
class PollerOptions:
    """Tuning of the poller (defaults fit 2,000 devices a minute on two cores)."""

    concurrency: int = 100
    timeout_s: float = 2.0
    retries: int = 1
    jitter: float = 0.25  # polls start within the first quarter of a cycle
    deadline: float = 0.9  # every poll ends by 90 % of the cycle
    batch: int = 200  # results per write transaction
    compact_every_s: float = 300.0
    refresh_s: float = 30.0  # how often the device list is re-read


# --- targets -----------------------------------------------------------------------------------------


def snmp_target(credential: Credential, host: str, port: int, *, timeout_s: float, retries: int) -> Any:
    """Build the SNMP client's target for a stored credential (secrets decrypted in memory only)."""
    from dcops.monitoring.snmp import SnmpTarget

    secrets = decrypt_secrets(credential.secret_blob) if credential.secret_blob else {}
    version = _VERSIONS.get(CredentialKind(credential.kind))
    if version is None:
        raise ValueError(f"credential '{credential.name}' is not an SNMP credential")
    if version != "3":
        return SnmpTarget(host=host, port=port, version=version, community=secrets.get("community", ""),
                          timeout=timeout_s, retries=retries)
    return SnmpTarget(host=host, port=port, version="3", username=credential.username,
                      auth_protocol=str(credential.auth_protocol), auth_key=secrets.get("auth_key", "") or "",
                      priv_protocol=_PRIV.get(str(credential.priv_protocol), str(credential.priv_protocol)),
                      priv_key=secrets.get("priv_key", "") or "", timeout=timeout_s, retries=retries)


def load_targets(session: Session, *, device_ids: Iterable[int] | None = None,
                 options: PollerOptions | None = None) -> list[Target]:
    """Return the pollable devices (active or in maintenance, with an address, an SNMP credential, enabled)."""
    options = options or PollerOptions()
    query = (
        select(Device, Credential, MonitoringSetting, DeviceState)
        .join(Credential, Credential.id == Device.snmp_credential_id)  # type: ignore[arg-type]
        .outerjoin(MonitoringSetting, MonitoringSetting.device_id == Device.id)  # type: ignore[arg-type]
        .outerjoin(DeviceState, DeviceState.device_id == Device.id)  # type: ignore[arg-type]
        .where(Device.status.in_(POLLED_STATUSES), Device.mgmt_address.is_not(None))  # type: ignore[union-attr]
        .order_by(Device.id)
        # a target needs the counters and table sizes, not the last samples, facts or /metrics lines
        .options(defer(DeviceState.samples), defer(DeviceState.facts), defer(DeviceState.exposition))  # type: ignore
    )
    if device_ids is not None:
        query = query.where(Device.id.in_(list(device_ids)))  # type: ignore[union-attr]
    targets = []
    for device, credential, setting, state in session.execute(query).all():
        if setting is not None and not setting.enabled:
            continue
        if credential.kind not in _VERSIONS:
            continue
        try:
            snmp = snmp_target(credential, device.mgmt_address, setting.snmp_port if setting else 161,
                               timeout_s=options.timeout_s, retries=options.retries)
        except Exception as exc:  # an undecryptable credential must not stop the others
            log.error("device %s: cannot use its SNMP credential: %s", device.name, exc)
            continue
        counters = {k: (int(v[0]), int(v[1]), float(v[2])) for k, v in (state.counters if state else {}).items()}
        targets.append(Target(
            device_id=device.id, name=device.name, role=str(device.role), snmp=snmp,
            interval_s=setting.interval_s if setting else DEFAULT_INTERVAL_S,
            maintenance=device.status == DeviceStatus.MAINTENANCE, v3_only=bool(setting and setting.v3_only),
            previous_counters=counters, previous_uptime=state.uptime_ticks if state else None,
            previous_at=state.last_success_at.timestamp() if state and state.last_success_at else None,
            table_rows=dict(state.table_rows) if state else {},
        ))
    _attach_discovery(session, targets)
    return targets


def _attach_discovery(session: Session, targets: list[Target]) -> None:
    """Give each target its stored discovery result (a device never discovered gets none)."""
    from dcops.monitoring.sensor_state import stored_discoveries

    found = stored_discoveries(session, [t.device_id for t in targets if t.device_id is not None])
    for target in targets:
        target.discovery = found.get(target.device_id) if target.device_id is not None else None


# --- one poll ----------------------------------------------------------------------------------------


@dataclass
class _Progress:
    scalars: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    profiles: list[prof.Profile] = field(default_factory=list)
    varbinds: int = 0
    discovered: Discovery | None = None  # set when this poll ran discovery


def _error_reason(exc: BaseException) -> str:
    from dcops.monitoring.snmp import SnmpAuthError, SnmpTimeout

    if isinstance(exc, SnmpTimeout | asyncio.TimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, SnmpAuthError):
        return "auth"
    return "error"


async def _get(client: Any, target: Any, oids: Sequence[str], progress: _Progress) -> None:
    for start in range(0, len(oids), GET_CHUNK):
        for vb in await client.get(target, list(oids[start:start + GET_CHUNK])):
            progress.scalars[vb.oid.strip(".")] = vb
            progress.varbinds += 1


@functools.lru_cache(maxsize=4)
def _accepts_max_repetitions(client_type: type) -> bool:
    try:
        return "max_repetitions" in inspect.signature(client_type.walk_columns).parameters
    except (AttributeError, TypeError, ValueError):
        return False


async def _walk(client: Any, target: Any, name: str, columns: dict[str, str], rows_hint: int | None,
                progress: _Progress) -> None:
    by_oid = {oid.strip("."): column for column, oid in columns.items()}
    kwargs: dict[str, Any] = {}
    if _accepts_max_repetitions(type(client)):
        # one GETBULK round trip per column group when the table size is known (+1 to see its end)
        kwargs["max_repetitions"] = max(2, min(50, (rows_hint or 10) + 1))
    walked = await client.walk_columns(target, list(by_oid), **kwargs)
    rows: dict[str, dict[str, Any]] = {}
    for index, found in walked.items():
        row = rows.setdefault(str(index), {})
        for column_oid, vb in found.items():
            column = by_oid.get(str(column_oid).strip("."))
            if column is not None:
                row[column] = vb
                progress.varbinds += 1
    progress.tables[name] = rows


async def _read(client: Any, target: Target, all_profiles: Sequence[prof.Profile], progress: _Progress) -> None:
    system = [p for p in all_profiles if p.name == "system"]
    await _get(client, target.snmp, prof.scalar_oids(system), progress)
    sys_object_id = prof.text(progress.scalars.get(SYS_OBJECT_ID))
    sys_descr = prof.text(progress.scalars.get(SYS_DESCR))
    known = {p.name for p in all_profiles}
    found = target.discovery
    if found is None or not found.still_fits(role=target.role, sys_object_id=sys_object_id, sys_descr=sys_descr,
                                             known=known):
        found = await discover(client, target.snmp, all_profiles, role=target.role, sys_object_id=sys_object_id,
                               sys_descr=sys_descr)
        target.discovery = progress.discovered = found
    progress.profiles = profiles_of(found, all_profiles)
    others = [p for p in progress.profiles if p.name != "system"]
    scalars = [oid for oid in prof.scalar_oids(others) if oid not in progress.scalars]
    if scalars:
        await _get(client, target.snmp, scalars, progress)
    for profile in others:
        for table in profile.tables:
            for name, columns in prof.walked_tables(table):
                await _walk(client, target.snmp, name, columns, target.table_rows.get(name), progress)


async def poll_target(client: Any, target: Target, *, deadline_s: float | None = None,
                      all_profiles: Sequence[prof.Profile] | None = None) -> tuple[PollResult, PollExtras]:
    """Poll one device within ``deadline_s``; never raises for SNMP or network trouble."""
    all_profiles = all_profiles if all_profiles is not None else prof.load_profiles()
    started = time.monotonic()
    at = datetime.now(UTC)
    progress = _Progress()
    error: str | None = None
    reason: str | None = None
    try:
        await asyncio.wait_for(_read(client, target, all_profiles, progress), deadline_s)
    except Exception as exc:  # SnmpError, timeouts, decode errors: the device answers badly, the poller goes on
        reason = _error_reason(exc)
        error = f"{reason}: {exc}" if str(exc) else reason
        if reason == "timeout" and progress.scalars:
            error = "poll cut at its deadline (slow agent)"
    duration = time.monotonic() - started
    extras = PollExtras(maintenance=target.maintenance)
    reachable = bool(progress.scalars)
    result = PollResult(device_id=target.device_id, device_name=target.name, at=at, reachable=reachable,
                        duration_s=duration, error=error, varbinds=progress.varbinds)
    result.samples.append(Sample("device_up", 1.0 if reachable else 0.0))
    result.samples.append(Sample("device_poll_duration_seconds", round(duration, 4)))
    if reason:
        result.facts["poll_error_reason"] = reason  # read back by the cycle for its error counters
    if not reachable:
        return result, extras
    now = at.timestamp()
    uptime_vb = progress.scalars.get(SYS_UPTIME)
    uptime = int(prof.number(uptime_vb) or 0) if prof.present(uptime_vb) else None
    elapsed = now - target.previous_at if target.previous_at else 0.0
    evaluation = prof.evaluate(progress.profiles or [p for p in all_profiles if p.name == "system"],
                               scalars=progress.scalars, tables=progress.tables, at=now)
    rebooted = uptime_went_back(target.previous_uptime, uptime, elapsed)
    result.samples += prof.finish(evaluation, target.previous_counters, rebooted=rebooted)
    result.facts.update(evaluation.facts)
    result.facts["profiles"] = ",".join(p.name for p in progress.profiles)
    result.counters = evaluation.counters
    result.sensors = evaluation.sensors
    extras.discovery = progress.discovered
    if error is None:
        result.error = no_data_reason(progress.profiles, evaluation, target.role,
                                      prof.text(progress.scalars.get(SYS_OBJECT_ID)))
    extras.interfaces = evaluation.interfaces
    extras.table_rows = evaluation.table_rows
    extras.uptime_ticks = uptime
    return result, extras


# --- recording -------------------------------------------------------------------------------------


def _evaluate_alerts(session: Session, result: PollResult, previous: PollResult | None) -> None:
    try:
        from dcops.monitoring.alerting import evaluate_poll
    except ImportError:
        return
    try:
        evaluate_poll(session, result=result, previous=previous)  # commits its own transaction
    except Exception:
        session.rollback()
        log.exception("alert evaluation failed for device %s", result.device_name)


def store_results(session: Session, polls: Sequence[tuple[PollResult, PollExtras]]) -> None:
    """Record a batch of polls in one transaction (newest result per device only), then evaluate their alerts."""
    from dcops.monitoring.writer import write_batch

    write_batch(session, polls)


async def poll_device(device_id: int, *, client: Any = None, options: PollerOptions | None = None) -> PollResult:
    """Poll one inventory device now and record the result (the unit of work); raise NotFoundError if unknown."""
    from dcops.database import session_scope
    from dcops.exceptions import NotFoundError
    from dcops.monitoring.snmp import SnmpClient

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

    async def run_cycle(self, client: Any, targets: Sequence[Target], interval_s: float) -> CycleReport:
        """Poll ``targets`` once within ``interval_s`` and store the results; return the cycle's report."""
        from dcops.database import session_scope

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
        from dcops.database import session_scope

        cycle = self.last_cycle
        with session_scope() as session:
            record_poller_status(
                session, heartbeat_at=datetime.now(UTC), started_at=self.started_at, devices=devices,
                cycle_duration_s=cycle.duration_s if cycle else 0.0,
                cycle_interval_s=cycle.interval_s if cycle else 0.0,
                polls_total=self.polls_total, overruns_total=self.overruns_total, errors_total=dict(self.errors_total))

    def maybe_compact(self) -> None:
        """Fold old history into 5-minute averages every ``compact_every_s``."""
        from dcops.database import session_scope

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
        from dcops.monitoring.snmp import SnmpClient

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
    from dcops.engine.scheduler import Leadership

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
    from dcops.database import session_scope

    with session_scope() as session:
        return load_targets(session, options=options)
