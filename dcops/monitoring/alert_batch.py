"""Evaluate the alert rules over a batch of polls in one transaction (the writer's path).

Per poll, :func:`dcops.monitoring.alerting.evaluate_poll` costs about six round trips and a commit. Over a batch
this module reads the devices, their monitoring settings, their unused ports and their open (or recently resolved)
alerts in four queries, takes every device's advisory lock at once (PostgreSQL, in device-id order so two batches
never deadlock; the same locks as ``evaluate_poll``, so evaluation stays serialised per device), evaluates each
poll with the same pure evaluator and the same writer (``_apply``), stages the notifications in the outbox and
commits once. On an integrity conflict (a trap raced a poll on one alert) it falls back to one poll at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from dcops.database import is_postgresql
from dcops.dcim.models import Device
from dcops.monitoring import notify
from dcops.monitoring.alert_models import OPEN_STATES, Alert
from dcops.monitoring.alerting import _apply, evaluate_poll, evaluate_rack, poll_snapshot
from dcops.monitoring.evaluate import FLAP_WINDOW, State, evaluate
from dcops.monitoring.rules import default_rules
from dcops.monitoring.types import PollResult

log = logging.getLogger("dcops.alerts")


def _states(session: Session, ids: list[int], since: datetime) -> dict[int, dict[Any, State]]:
    rows = session.execute(
        select(Alert).where(col(Alert.device_id).in_(ids),
                            or_(col(Alert.state).in_(OPEN_STATES), col(Alert.resolved_at) >= since - FLAP_WINDOW))
        .order_by(col(Alert.id))).scalars().all()
    out: dict[int, dict[Any, State]] = {d: {} for d in ids}
    for row in rows:
        if row.device_id is None:  # not one of ids (the query asked for these devices only)
            continue
        out[row.device_id][(row.rule, row.subject)] = State(
            rule=row.rule, subject=row.subject, state=row.state, started_at=row.started_at, hits=row.hits,
            last_true_at=row.last_true_at, resolved_at=row.resolved_at, flaps=row.flaps, value=row.value,
            alert_id=row.id)
    return out


def _inventories(session: Session, devices: dict[int, Device]) -> dict[int, dict[str, Any]]:
    from dcops.monitoring.state_models import Interface, MonitoringSetting

    ids = list(devices)
    v3 = {s.device_id: bool(s.v3_only) for s in session.execute(
        select(MonitoringSetting).where(col(MonitoringSetting.device_id).in_(ids))).scalars()}
    unused: dict[int, set[str]] = {d: set() for d in ids}
    in_use: dict[int, set[str]] = {d: set() for d in ids}
    for device_id, name, is_unused in session.execute(select(col(Interface.device_id), col(Interface.name),
                                                             col(Interface.unused))
                                                      .where(col(Interface.device_id).in_(ids),
                                                             col(Interface.unused).is_(True)
                                                             | (col(Interface.alias) != ""))).all():
        (unused if is_unused else in_use)[device_id].add(name)
    return {d: {"serial": dev.serial, "v3_only": v3.get(d, False), "unused_ports": unused[d],
                "ports_in_use": in_use[d]} for d, dev in devices.items()}


def _overrides(session: Session, ids: list[int]) -> dict[int, list[Any]]:
    from dcops.monitoring.sensor_models import SensorThreshold

    out: dict[int, list[Any]] = {d: [] for d in ids}
    for row in session.execute(select(SensorThreshold).where(col(SensorThreshold.device_id).in_(ids))
                               .order_by(col(SensorThreshold.id))).scalars():
        out[row.device_id].append(row)
    return out


def evaluate_polls(session: Session, polls: Sequence[tuple[PollResult, PollResult | None]]) -> None:
    """Evaluate the rules against many recorded polls (each against the state it replaced), one commit."""
    polls = [(r, p) for r, p in polls if r.device_id is not None]
    if not polls:
        return
    ids = sorted({r.device_id for r, _ in polls if r.device_id is not None})
    try:
        if is_postgresql(session):
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext('alerts:' || x)) "
                                 "FROM unnest(CAST(:ids AS integer[])) AS x ORDER BY x"), {"ids": ids})
        devices = {d.id: d for d in session.execute(select(Device).where(col(Device.id).in_(ids))).scalars()
                   if d.id is not None}
        inventories = _inventories(session, devices)
        overrides = _overrides(session, list(devices))
        states = _states(session, list(devices), min(r.at for r, _ in polls))
        rules = list(default_rules())
        to_notify: list[tuple[int, str]] = []
        racks: dict[int, datetime] = {}
        for result, previous in polls:
            device = devices.get(result.device_id) if result.device_id is not None else None
            if device is None or device.id is None:
                continue
            snap = poll_snapshot(result, previous=previous, role=str(device.role), inventory=inventories[device.id],
                                 overrides=overrides[device.id], device=device.name)
            samples = snap.samples
            new_states, transitions = evaluate(rules, snap, states[device.id])
            to_notify += _apply(session, snap, transitions, new_states, "")
            if device.rack_id is not None and "pdu_power_watts" in samples:
                racks[device.rack_id] = result.at
        outbox = notify.stage(session, to_notify)
        session.commit()
    except IntegrityError:  # a trap and a poll raced on one alert: evaluate one poll at a time instead
        session.rollback()
        for result, previous in polls:
            evaluate_poll(session, result=result, previous=previous)
        return
    notify.kick(outbox)
    for rack_id, at in racks.items():
        try:
            evaluate_rack(session, rack_id=rack_id, at=at)
        except Exception:
            session.rollback()
            log.exception("rack evaluation failed for rack %s", rack_id)
