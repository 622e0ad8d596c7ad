"""The alert service: evaluate polls, traps and audits into alerts; acknowledge, resolve; queue notifications.

The poller calls :func:`evaluate_poll` after each poll. Each call reads the device's open (and recently resolved)
alerts, runs the pure evaluator, writes the transitions with their history and commits; notifications are handed
to :mod:`dcops.monitoring.notify`'s worker thread after the commit, so nothing here waits on the network.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from dcops.auth.actor import SYSTEM, Actor
from dcops.auth.choices import ChangeAction
from dcops.crud import Resource, record_change
from dcops.database import utcnow
from dcops.dcim.models import Device, Rack
from dcops.exceptions import ConflictError, ValidationError
from dcops.monitoring import notify
from dcops.monitoring.alert_models import OPEN_STATES, Alert, AlertEvent, AlertState, Severity, Silence
from dcops.monitoring.evaluate import FLAP_WINDOW, Snapshot, State, Transition, evaluate, samples_by_metric, suppression
from dcops.monitoring.rules import Rule, default_rules
from dcops.monitoring.types import PollResult

log = logging.getLogger("dcops.alerts")

alerts = Resource(
    Alert, label="alert", plural="alerts", repr_field="rule", search=("rule", "device_name", "subject", "summary"),
    filters=("state", "severity", "device_id", "rule", "category"),
    orderings=("id", "started_at", "severity", "state", "rule"), default_ordering="-id", unique=(),
)


def _check_silence(session: Session, obj: Silence, before: dict[str, Any] | None, options: dict[str, Any]) -> list[str]:
    if obj.starts_at is None:
        obj.starts_at = utcnow()
    # a time sent without a zone is UTC, as everywhere in dcops
    obj.starts_at = obj.starts_at if obj.starts_at.tzinfo else obj.starts_at.replace(tzinfo=UTC)
    obj.ends_at = obj.ends_at if obj.ends_at.tzinfo else obj.ends_at.replace(tzinfo=UTC)
    if obj.ends_at <= obj.starts_at:
        raise ValidationError("ends_at must be after starts_at", field="ends_at")
    if obj.device_id is None and not obj.rule and obj.severity is None:
        raise ValidationError("a silence needs at least one matcher: device_id, rule or severity", field="rule")
    return []


silences = Resource(
    Silence, label="silence", plural="silences", repr_field="comment", search=("comment", "rule", "created_by"),
    filters=("device_id", "rule", "severity"), orderings=("id", "starts_at", "ends_at"), unique=(),
    check=_check_silence,
)


# --- evaluation --------------------------------------------------------------------------------------


def _inventory(session: Session, device: Device) -> dict[str, Any]:
    """What the source of truth says about a device, for the rules that compare against it."""
    from dcops.monitoring.state_models import Interface, MonitoringSetting

    setting = session.get(MonitoringSetting, device.id)
    marked = session.execute(
        select(col(Interface.name), col(Interface.unused)).where(
            col(Interface.device_id) == device.id, col(Interface.unused).is_(True) | (col(Interface.alias) != ""))
    ).all()
    unused = {name for name, is_unused in marked if is_unused}
    return {"serial": device.serial, "v3_only": bool(setting and setting.v3_only), "unused_ports": unused,
            "ports_in_use": {name for name, is_unused in marked if not is_unused}}


def poll_snapshot(result: PollResult, *, previous: PollResult | None, role: str, inventory: dict[str, Any],
                  overrides: Iterable[Any] = (), device: str = "") -> Snapshot:
    """Build the rules' snapshot of one poll (pure): samples, facts, sensors with the limits in use, ports in use.

    A port is in use when the inventory says so (an alias) or when it was up at the previous poll, so
    ``interface_down`` stays quiet about ports that were never used.
    """
    from dcops.monitoring.sensor_state import judged
    from dcops.monitoring.sensors import UNITS

    samples = samples_by_metric(result.samples)
    samples["device_up"] = {"": 1.0 if result.reachable else 0.0}
    before = samples_by_metric(previous.samples) if previous else {}
    inv = dict(inventory)
    was_up = {name for name, value in before.get("if_oper_up", {}).items() if value >= 1}
    inv["ports_in_use"] = set(inv.get("ports_in_use") or set()) | was_up
    sensors: dict[str, dict[str, Any]] = {}
    for subject, (reading, limits, _severity) in judged(result.sensors, role, overrides).items():
        if limits is None:  # an override disables this sensor's alerts
            continue
        sensors[subject] = {
            "class": reading.sensor_class, "value": reading.value, "unit": UNITS.get(reading.sensor_class, ""),
            "severity": reading.severity, "state_name": reading.state_name,
            "limits": None if limits.empty() else {"high": limits.high, "low": limits.low,
                                                   "high_warn": limits.high_warn, "low_warn": limits.low_warn,
                                                   "source": limits.source}}
    return Snapshot(
        at=result.at, device_id=result.device_id, device=device or result.device_name, samples=samples,
        previous=before, facts=dict(result.facts) if result.reachable else {},
        previous_facts=dict(previous.facts) if previous else {}, inventory=inv, sensors=sensors,
    )


def _load_states(session: Session, *, device_id: int | None, scope_key: str, at: datetime) -> dict[Any, State]:
    """Return the evaluator states of a device's (or the racks') open and recently resolved alerts."""
    cond = col(Alert.device_id) == device_id if device_id is not None else col(Alert.device_id).is_(None)
    rows = session.execute(
        select(Alert).where(cond, or_(col(Alert.state).in_(OPEN_STATES), col(Alert.resolved_at) >= at - FLAP_WINDOW))
        .order_by(col(Alert.id))
    ).scalars().all()
    states: dict[Any, State] = {}
    for row in rows:
        if device_id is None and row.labels.get("scope") != scope_key:
            continue
        states[(row.rule, row.subject)] = State(
            rule=row.rule, subject=row.subject, state=row.state, started_at=row.started_at, hits=row.hits,
            last_true_at=row.last_true_at, resolved_at=row.resolved_at, flaps=row.flaps, value=row.value,
            alert_id=row.id,
        )
    return states


def _event(session: Session, alert: Alert, kind: str, message: str = "", actor: str = "", at: datetime | None = None
           ) -> None:
    session.add(AlertEvent(alert_id=alert.id or 0, kind=kind, message=message[:500], actor=actor, at=at or utcnow()))


def _apply(session: Session, snap: Snapshot, transitions: list[Transition], states: dict[Any, State],
           scope_key: str) -> list[tuple[int, str]]:
    """Write states and transitions; return (alert id, status) pairs to notify."""
    to_notify: list[tuple[int, str]] = []
    by_key = {(t.rule.name, t.subject): t for t in transitions}
    device = session.get(Device, snap.device_id) if snap.device_id is not None else None
    active_silences: list[Silence] | None = None
    for key, state in states.items():
        t = by_key.get(key)
        row = session.get(Alert, state.alert_id) if state.alert_id is not None else None
        if t is None:
            if row is not None and row.state in OPEN_STATES:  # progress only: hits, value, last seen
                row.hits, row.last_true_at = state.hits, state.last_true_at
                row.value = state.value if isinstance(state.value, float | int) else row.value
            continue
        rule = t.rule
        if row is None:
            row = Alert(rule=rule.name, severity=Severity(rule.severity), category=rule.category,
                        device_id=snap.device_id, device_name=snap.device, subject=t.subject,
                        state=AlertState.PENDING, started_at=t.at,
                        labels={"scope": scope_key} if snap.scope == "rack" else {})
            session.add(row)
        reopened = False
        if t.to in ("pending", "firing"):
            if row.state == AlertState.RESOLVED:
                reopened = True
                row.resolved_at, row.resolved_by = None, ""
            row.state = AlertState.PENDING if t.to == "pending" else AlertState.FIRING
            row.open_key = f"{rule.name}|{snap.device_id if snap.device_id is not None else scope_key}|{t.subject}"
            row.flaps = state.flaps
        elif t.to == "resolved":
            row.state, row.resolved_at, row.resolved_by, row.open_key = AlertState.RESOLVED, t.at, "auto", None
        elif t.to == "cancelled":
            if row.fired_at is None and row.id is not None:
                session.delete(row)
                continue
            row.state, row.open_key = AlertState.RESOLVED, None
            row.resolved_at = row.resolved_at or t.at
        row.hits, row.last_true_at, row.summary = state.hits, state.last_true_at, t.summary
        row.value = float(t.value) if isinstance(t.value, float | int) else row.value
        if isinstance(t.value, str):
            row.labels = {**row.labels, "value": t.value[:200]}
        session.flush()
        state.alert_id = row.id
        if reopened:
            _event(session, row, "reopened", f"condition back within {FLAP_WINDOW} of resolving", at=t.at)
        if t.to == "firing":
            row.fired_at = t.at
            _event(session, row, "firing", t.summary, at=t.at)
            if active_silences is None:
                active_silences = _active_silences(session, t.at)
            reason = suppression(device_id=snap.device_id, rule=rule.name, severity=rule.severity, at=t.at,
                                 in_maintenance=bool(device and device.status == "maintenance"),
                                 silences=active_silences, damped=t.damped)
            row.suppressed = reason
            if reason:
                _event(session, row, "suppressed", reason, at=t.at)
            else:
                row.notified = True
                to_notify.append((row.id, "firing"))  # type: ignore[arg-type]  # flushed: the row has its id
        elif t.to == "resolved":
            _event(session, row, "resolved", "condition cleared", at=t.at)
            if row.notified and not row.suppressed:
                to_notify.append((row.id, "resolved"))  # type: ignore[arg-type]  # flushed: the row has its id
        elif t.to == "pending":
            _event(session, row, "pending", t.summary, at=t.at)
    return to_notify


def _active_silences(session: Session, at: datetime) -> list[Silence]:
    stmt = select(Silence).where(col(Silence.starts_at) <= at, col(Silence.ends_at) > at)
    return list(session.execute(stmt).scalars().all())


def _serialise(session: Session, device_id: int | None, scope_key: str) -> None:
    """Take the transaction-scoped advisory lock of one device (or rack) on PostgreSQL: one evaluation at a time.

    SQLite needs none: every transaction there starts with BEGIN IMMEDIATE, which serialises all writers.
    """
    from dcops.database import is_postgresql

    if is_postgresql(session):
        key = f"alerts:{device_id}" if device_id is not None else f"alerts:{scope_key}"
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})


def run_snapshot(session: Session, snap: Snapshot, *, rules: Iterable[Rule] | None = None,
                 scope_key: str = "") -> list[Transition]:
    """Evaluate one snapshot, write the result, commit, then queue its notifications."""
    rule_list = list(rules if rules is not None else default_rules())
    for attempt in range(2):
        _serialise(session, snap.device_id, scope_key)
        states = _load_states(session, device_id=snap.device_id, scope_key=scope_key, at=snap.at)
        new_states, transitions = evaluate(rule_list, snap, states)
        try:
            to_notify = _apply(session, snap, transitions, new_states, scope_key)
            outbox = notify.stage(session, to_notify)
            session.commit()
        except IntegrityError:  # a trap and a poll of one device raced on the same alert: read again
            session.rollback()
            if attempt:
                raise
            continue
        notify.kick(outbox)
        return transitions
    return []


def evaluate_poll(session: Session, *, result: PollResult, previous: PollResult | None) -> None:
    """Evaluate the alert rules against one poll (the poller calls this after recording it)."""
    if result.device_id is None:
        return
    device = session.get(Device, result.device_id)
    if device is None:
        return
    from dcops.monitoring.sensor_state import overrides_of

    snap = poll_snapshot(result, previous=previous, role=str(device.role), inventory=_inventory(session, device),
                         overrides=overrides_of(session, device.id),  # type: ignore[arg-type]  # a stored device
                         device=device.name)
    samples = snap.samples
    try:
        run_snapshot(session, snap)
        if device.rack_id is not None and "pdu_power_watts" in samples:
            evaluate_rack(session, rack_id=device.rack_id, at=result.at)
    except Exception:  # the poller must go on whatever happens here
        session.rollback()
        log.exception("alert evaluation failed for device %s", device.name)


def rack_power_draw(session: Session, rack_id: int) -> tuple[float, str]:
    """Return a rack's power draw in watts and its source: the sum of its PDUs' readings, else nameplate."""
    from dcops.dcim.service import rack_power_draw as nameplate
    from dcops.monitoring.state_models import DeviceState

    pdus = session.execute(
        select(DeviceState).join(Device, col(Device.id) == col(DeviceState.device_id))
        .where(col(Device.rack_id) == rack_id, col(Device.role) == "pdu")
    ).scalars().all()
    measured = [float(v) for st in pdus for metric, _labels, v in st.samples if metric == "pdu_power_watts"]
    if measured:
        return sum(measured), "pdu"
    return float(nameplate(session, rack_id)), "nameplate"


def evaluate_rack(session: Session, *, rack_id: int, at: datetime | None = None) -> list[Transition]:
    """Evaluate the rack rules (power draw against the rack's budget) for one rack."""
    rack = session.get(Rack, rack_id)
    if rack is None or rack.power_budget_w <= 0:
        return []
    draw, source = rack_power_draw(session, rack_id)
    percent = 100.0 * draw / rack.power_budget_w
    snap = Snapshot(at=at or utcnow(), scope="rack", device=rack.name,
                    samples={"rack_power_percent": {rack.name: round(percent, 1)}}, facts={"power_source": source})
    return run_snapshot(session, snap, scope_key=f"rack:{rack_id}")


def record_events(session: Session, *, device_id: int | None, events: list[tuple[str, str]],
                  at: datetime | None = None, facts: dict[str, str] | None = None) -> list[Transition]:
    """Evaluate events (traps) or audit facts for one known device."""
    device = session.get(Device, device_id) if device_id is not None else None
    if device is None:
        return []
    snap = Snapshot(at=at or utcnow(), device_id=device.id, device=device.name, events=events, facts=facts or {},
                    inventory=_inventory(session, device))
    return run_snapshot(session, snap)


# --- operators ----------------------------------------------------------------------------------------


def acknowledge(session: Session, *, actor: Actor, id: int, comment: str = "") -> Alert:
    """Acknowledge a firing alert: on-call owns it now; it still resolves on its own."""
    alert = alerts.get(session, actor=actor, id=id, for_update=True)
    if alert.state != AlertState.FIRING:
        raise ConflictError(f"alert {id} is {alert.state}; only a firing alert can be acknowledged")
    before = alerts.snapshot(alert)
    alert.state, alert.acknowledged_at = AlertState.ACKNOWLEDGED, utcnow()
    alert.acknowledged_by, alert.ack_comment = actor.username, comment
    _event(session, alert, "acknowledged", comment, actor=actor.username)
    record_change(session, actor=actor, action=ChangeAction.UPDATE, object_type="alert", object_id=id,
                  object_repr=f"{alert.rule} {alert.device_name} {alert.subject}".strip(), before=before,
                  after=alerts.snapshot(alert))
    session.commit()
    return alert


def resolve(session: Session, *, actor: Actor, id: int, comment: str = "") -> Alert:
    """Resolve an open alert by hand (it fires again if its condition still holds)."""
    alert = alerts.get(session, actor=actor, id=id, for_update=True)
    if alert.state not in OPEN_STATES:
        raise ConflictError(f"alert {id} is already resolved")
    before = alerts.snapshot(alert)
    alert.state, alert.resolved_at, alert.resolved_by, alert.open_key = (
        AlertState.RESOLVED, utcnow(), actor.username, None)
    _event(session, alert, "resolved", comment or "resolved by hand", actor=actor.username)
    record_change(session, actor=actor, action=ChangeAction.UPDATE, object_type="alert", object_id=id,
                  object_repr=f"{alert.rule} {alert.device_name} {alert.subject}".strip(), before=before,
                  after=alerts.snapshot(alert))
    outbox = notify.stage(session, [(id, "resolved")]) if alert.notified and not alert.suppressed else []
    session.commit()
    notify.kick(outbox)
    return alert


def events_of(session: Session, *, actor: Actor, id: int) -> list[AlertEvent]:
    """Return the history of alert ``id``, oldest first."""
    alerts.get(session, actor=actor, id=id)
    return list(session.execute(
        select(AlertEvent).where(col(AlertEvent.alert_id) == id).order_by(col(AlertEvent.id))
    ).scalars().all())


def create_silence(session: Session, *, actor: Actor, data: dict[str, Any]) -> Silence:
    """Create a silence owned by ``actor``."""
    data = {**data, "created_by": actor.username}
    if data.get("starts_at") is None:
        data["starts_at"] = utcnow()
    obj, _ = silences.create(session, actor=actor, data=data)
    return obj


def expire_silence(session: Session, *, actor: Actor, id: int) -> Silence:
    """End a silence now (kept for the record)."""
    obj, _ = silences.update(session, actor=actor, id=id, data={"ends_at": max(utcnow(), _starts(session, id))})
    return obj


def _starts(session: Session, id: int) -> datetime:
    silence = session.get(Silence, id)
    return silence.starts_at + timedelta(seconds=1) if silence else utcnow()


__all__ = ["evaluate_poll", "evaluate_rack", "record_events", "acknowledge", "resolve", "alerts", "silences",
           "SYSTEM"]
