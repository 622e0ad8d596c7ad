"""The batched writer: record many polls in one transaction, newest result only, then evaluate their alerts.

One call of :func:`write_batch`:

1. keeps the newest result per device in the batch and makes sure every device has its ``device_state`` row
   (one multi-row ``INSERT ... ON CONFLICT DO NOTHING``: two writers never collide on the primary key);
2. locks those rows (``SELECT ... FOR UPDATE`` in device-id order on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
   serialises writers already) and drops every result not newer than the stored one, so an out-of-order or
   repeated write can never move uptime back (no false reboot) nor a device from up to down;
3. applies the rest to their state rows, inserts their history in one multi-row insert, updates only the
   interface rows that changed, commits;
4. evaluates the alert rules of the applied results over the batch, each against the state it replaced,
   serialised per device (:mod:`dcops.monitoring.alert_batch` takes the devices' advisory locks on PostgreSQL).

The caller runs it in a worker thread (``asyncio.to_thread``), never on the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import defer
from sqlmodel import Session, col

from dcops.database import is_postgresql
from dcops.monitoring.metrics import device_fragment
from dcops.monitoring.sensor_state import record_sensors
from dcops.monitoring.state import PollExtras, _samples_from_json, apply_state, record_interfaces_batch
from dcops.monitoring.state_models import DeviceState, MetricHistory
from dcops.monitoring.types import PollResult

log = logging.getLogger("dcops.writer")


@dataclass
class WriteReport:
    """What one batch did."""

    applied: int = 0
    stale: int = 0


def _deferred(model: type, *names: str) -> list[Any]:
    """Load options deferring the columns ``names`` (ORM attributes by name: mypy types them as values)."""
    return [defer(getattr(model, name)) for name in names]


def _ensure_rows(session: Session, device_ids: list[int]) -> None:
    have = set(session.execute(select(col(DeviceState.device_id))
                               .where(col(DeviceState.device_id).in_(device_ids))).scalars())
    device_ids = [d for d in device_ids if d not in have]  # usually none: a device's row exists after its first poll
    if not device_ids:
        return
    if is_postgresql(session):
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]  # SQLite's twin of it
    table = DeviceState.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ at class creation
    stmt = dialect_insert(table).values([{"device_id": d, "reachable": False, "consecutive_failures": 0,
                                          "duration_s": 0.0, "maintenance": False, "varbinds": 0, "samples": [],
                                          "facts": {}, "counters": {}, "table_rows": {}} for d in device_ids])
    session.execute(stmt.on_conflict_do_nothing(index_elements=["device_id"]))


def _previous(state: DeviceState) -> PollResult:
    """The stored poll as the alert evaluator reads it: samples and facts (its raw counters are not needed)."""
    assert state.last_poll_at is not None  # called for a state that was recorded before
    return PollResult(device_id=state.device_id, device_name="", at=state.last_poll_at,
                      reachable=state.reachable, samples=_samples_from_json(state.samples), facts=dict(state.facts))


def _labels(session: Session, ids: list[int]) -> dict[int, tuple[str, str, str]]:
    from dcops.dcim.models import Device, Site

    rows = session.execute(select(col(Device.id), col(Device.name), col(Site.name), col(Device.role))
                           .join(Site, col(Site.id) == col(Device.site_id))
                           .where(col(Device.id).in_(ids))).all()
    return {d: (name, site, str(role)) for d, name, site, role in rows if d is not None}


def _load_sensor_rows(session: Session, ids: list[int]) -> list[object]:
    """Put the batch's sensor rows in the session in one query (their readings, rewritten here, left unread).

    ``record_sensors`` then finds each in the identity map instead of reading it (one query per device less).
    """
    from dcops.monitoring.sensor_models import DeviceSensors

    return list(session.execute(select(DeviceSensors).where(col(DeviceSensors.device_id).in_(ids))
                                .options(*_deferred(DeviceSensors, "sensors"))).scalars())


def _history_row(result: PollResult) -> dict[str, object]:
    from dcops.monitoring.state import series_key

    return {"device_id": result.device_id, "at": result.at, "resolution_s": 0,
            "values": {series_key(s): s.value for s in result.samples}}


def write_batch(session: Session, polls: Sequence[tuple[PollResult, PollExtras]], *,
                evaluate: bool = True) -> WriteReport:
    """Record a batch of polls (newest only, one transaction), then evaluate the alert rules on what was applied."""
    report = WriteReport()
    newest: dict[int, tuple[PollResult, PollExtras]] = {}
    for result, extras in polls:
        if result.device_id is None:
            continue
        kept = newest.get(result.device_id)
        if kept is None or kept[0].at < result.at:
            if kept is not None:
                report.stale += 1
            newest[result.device_id] = (result, extras)
        else:
            report.stale += 1
    if not newest:
        return report
    ids = sorted(newest)
    _ensure_rows(session, ids)
    query = (select(DeviceState).where(col(DeviceState.device_id).in_(ids)).order_by(col(DeviceState.device_id))
             # rewritten here, never read: the raw counters, table sizes and /metrics lines of the stored poll
             .options(*_deferred(DeviceState, "exposition", "counters", "table_rows")))
    if is_postgresql(session):
        query = query.with_for_update()
    states = {s.device_id: s for s in session.execute(query).scalars()}
    labels = _labels(session, ids)
    held = _load_sensor_rows(session, ids)  # noqa: F841 - kept: the session's identity map only holds them weakly
    applied: list[tuple[PollResult, PollResult | None]] = []
    history = []
    interfaces = {}
    for device_id in ids:
        result, extras = newest[device_id]
        state = states[device_id]
        if state.last_poll_at is not None and state.last_poll_at >= result.at:
            report.stale += 1  # an older (or the same) poll than the one stored: never applied
            continue
        previous = _previous(state) if state.last_poll_at is not None else None
        apply_state(state, result, extras)
        if device_id in labels:
            state.exposition = device_fragment(*labels[device_id], state.samples)
        history.append(_history_row(result))
        if extras.interfaces:
            interfaces[device_id] = (extras.interfaces, result.at, extras.uptime_ticks)
        if result.reachable:
            record_sensors(session, result, extras.discovery)
        applied.append((result, previous))
    if history:
        session.execute(insert(MetricHistory.__table__), history)  # type: ignore[attr-defined]  # set by SQLModel
    if interfaces:
        record_interfaces_batch(session, interfaces)
    session.commit()
    report.applied = len(applied)
    if evaluate:
        _evaluate(session, applied)
    return report


def _evaluate(session: Session, applied: list[tuple[PollResult, PollResult | None]]) -> None:
    from dcops.monitoring.alert_batch import evaluate_polls

    try:
        evaluate_polls(session, applied)  # commits its own transaction
    except Exception:  # the poller must go on whatever happens here
        session.rollback()
        log.exception("alert evaluation failed for a batch of %d polls", len(applied))
