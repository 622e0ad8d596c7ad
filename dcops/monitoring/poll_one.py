"""Poll one device: read its system group, discover (or reuse) its profiles, read their scalars and tables.

:func:`poll_target` never raises for SNMP or network trouble: a device that answers badly is a result
(unreachable, timed out, cut at its deadline), and the poller goes on with the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dcops.monitoring import profiles as prof
from dcops.monitoring.discovery import Discovery, discover, no_data_reason, profiles_of
from dcops.monitoring.rates import uptime_went_back
from dcops.monitoring.snmp import SnmpAuthError, SnmpClient, SnmpTarget, SnmpTimeout, Varbind
from dcops.monitoring.state import PollExtras
from dcops.monitoring.targets import Target
from dcops.monitoring.types import PollResult, Sample

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
GET_CHUNK = 40  # OIDs per GET request


@dataclass
class _Progress:
    scalars: dict[str, Varbind] = field(default_factory=dict)
    tables: dict[str, dict[str, dict[str, Varbind]]] = field(default_factory=dict)
    profiles: list[prof.Profile] = field(default_factory=list)
    varbinds: int = 0
    discovered: Discovery | None = None  # set when this poll ran discovery


def _error_reason(exc: BaseException) -> str:
    if isinstance(exc, SnmpTimeout | asyncio.TimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, SnmpAuthError):
        return "auth"
    return "error"


async def _get(client: SnmpClient, target: SnmpTarget, oids: Sequence[str], progress: _Progress) -> None:
    for start in range(0, len(oids), GET_CHUNK):
        for vb in await client.get(target, list(oids[start:start + GET_CHUNK])):
            progress.scalars[vb.oid.strip(".")] = vb
            progress.varbinds += 1


async def _walk(client: SnmpClient, target: SnmpTarget, name: str, columns: dict[str, str], rows_hint: int | None,
                progress: _Progress) -> None:
    by_oid = {oid.strip("."): column for column, oid in columns.items()}
    # one GETBULK round trip per column group when the table size is known (+1 to see its end)
    repetitions = max(2, min(50, (rows_hint or 10) + 1))
    walked = await client.walk_columns(target, list(by_oid), max_repetitions=repetitions)
    rows: dict[str, dict[str, Varbind]] = {}
    for index, found in walked.items():
        row = rows.setdefault(str(index), {})
        for column_oid, vb in found.items():
            column = by_oid.get(str(column_oid).strip("."))
            if column is not None:
                row[column] = vb
                progress.varbinds += 1
    progress.tables[name] = rows


async def _read(client: SnmpClient, target: Target, all_profiles: Sequence[prof.Profile], progress: _Progress) -> None:
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


async def poll_target(client: SnmpClient, target: Target, *, deadline_s: float | None = None,
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
