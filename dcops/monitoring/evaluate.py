"""Alert rule evaluation, pure: rules + the previous alert states + one snapshot -> new states and transitions.

No database, no clock: the snapshot carries its own time. Continuous conditions (thresholds, facts against the
inventory) go pending, fire once they held ``for_polls`` evaluations and ``for`` seconds, and resolve when they
clear past the hysteresis band. Occurrences (traps, a reboot, a changed sysDescr) fire at once and resolve after
``clear_after`` without a new occurrence. A subject the snapshot says nothing about keeps its state. An alert that
fires again within :data:`FLAP_WINDOW` of resolving is reopened, and from :data:`FLAP_LIMIT` reopenings on its
notifications are damped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from dcops.monitoring.rules import Rule

FLAP_WINDOW = timedelta(minutes=15)
FLAP_LIMIT = 3
OCCURRENCE_KINDS = ("decreased", "fact_changed", "event")
_FALSE = ("", "0", "no", "false", "none")

Key = tuple[str, str]  # (rule name, subject)


@dataclass
class Snapshot:
    """What is known about one device (or rack) at one moment."""

    at: datetime
    device_id: int | None = None
    device: str = ""
    scope: str = "device"
    #: metric -> subject -> value; the subject is the sample's label value ("" for device-wide metrics)
    samples: dict[str, dict[str, float]] = field(default_factory=dict)
    previous: dict[str, dict[str, float]] = field(default_factory=dict)
    facts: dict[str, str] = field(default_factory=dict)
    previous_facts: dict[str, str] = field(default_factory=dict)
    #: from the source of truth: serial, unused_ports (a set of interface names), v3_only...
    inventory: dict[str, Any] = field(default_factory=dict)
    #: (event name, subject) pairs, e.g. traps
    events: list[tuple[str, str]] = field(default_factory=list)
    #: sensor description -> {"class", "value", "unit", "limits": {high, low, high_warn, low_warn, source} | None,
    #: "severity" (state sensors: their mapped state)}; see :func:`sensor_level`
    sensors: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class State:
    """The evaluator's view of one alert: open, or resolved recently enough to count flaps."""

    rule: str
    subject: str
    state: str  # pending | firing | acknowledged | resolved
    started_at: datetime
    hits: int = 0
    last_true_at: datetime | None = None
    resolved_at: datetime | None = None
    flaps: int = 0
    value: float | str | None = None
    alert_id: int | None = None

    @property
    def open(self) -> bool:
        return self.state != "resolved"


@dataclass
class Transition:
    """A change the caller must record (and maybe notify)."""

    rule: Rule
    subject: str
    to: str  # pending | firing | resolved | cancelled
    at: datetime
    value: float | str | None
    summary: str
    state: State
    reopened: bool = False

    @property
    def damped(self) -> bool:
        """Tell whether notifications for this change are withheld because the alert flaps."""
        return self.state.flaps >= FLAP_LIMIT


def _fmt(value: float | str | None) -> str:
    if isinstance(value, float):
        return f"{value:.0f}" if value == int(value) else f"{value:.2f}"
    return "" if value is None else str(value)


def _observe(rule: Rule, snap: Snapshot, states: dict[Key, State]) -> dict[str, tuple[bool, Any, dict[str, Any]]]:
    """Return subject -> (condition holds, value, extra template values) for what the snapshot knows."""
    out: dict[str, tuple[bool, Any, dict[str, Any]]] = {}
    if rule.kind == "metric":
        allowed = snap.inventory.get(rule.subjects_in) if rule.subjects_in else None
        for subject, value in snap.samples.get(rule.metric, {}).items():
            if allowed is not None and subject not in allowed:
                known = states.get((rule.name, subject))
                if known is None or not known.open:  # an open alert is followed until it resolves
                    continue
            if any(snap.samples.get(m, {}).get(subject) != v for m, v in rule.when.items()):
                out[subject] = (False, value, {})
                continue
            current = states.get((rule.name, subject))
            holds = rule.still_breached(value) if current and current.state in ("firing", "acknowledged") \
                else rule.firing_threshold(value)
            out[subject] = (holds, value, {"threshold": _fmt(rule.above if rule.above is not None else rule.below)})
    elif rule.kind == "decreased":
        for subject, value in snap.samples.get(rule.metric, {}).items():
            before = snap.previous.get(rule.metric, {}).get(subject)
            if before is not None and value < before:
                out[subject] = (True, value, {"previous": _fmt(before)})
    elif rule.kind == "fact_changed":
        for name in rule.target:
            new, old = snap.facts.get(name, ""), snap.previous_facts.get(name, "")
            if new and old and new != old:
                out[name] = (True, new, {"previous": old})
    elif rule.kind == "fact_differs":
        seen, expected = snap.facts.get(rule.metric, ""), str(snap.inventory.get(rule.from_inventory or "", "") or "")
        if seen and expected:
            out[""] = (seen.strip() != expected.strip(), seen, {"expected": expected})
    elif rule.kind == "fact_true":
        if rule.metric in snap.facts:
            fact = snap.facts[rule.metric]
            gated = bool(snap.inventory.get(rule.inventory_flag)) if rule.inventory_flag else True
            out[""] = (gated and fact.strip().lower() not in _FALSE, fact, {})
    elif rule.kind == "sensor":
        for subject, sensor in snap.sensors.items():
            if rule.target and sensor.get("class") not in rule.target:
                continue
            current = states.get((rule.name, subject))
            firing = current is not None and current.state in ("firing", "acknowledged")
            level = sensor_level(sensor, hysteresis=firing)
            out[subject] = (level == rule.level, sensor.get("value"), _sensor_extra(sensor, level))
    elif rule.kind == "event":
        for name, subject in snap.events:
            if name in rule.target:
                out[subject or name] = (True, name, {})
            elif name in rule.resolve_on:
                out[subject or name] = (False, name, {})
    return out


#: a firing sensor alert clears only once the value is back by this share of the limit (at least 0.5 unit)
SENSOR_HYSTERESIS = 0.03


def sensor_level(sensor: dict[str, Any], *, hysteresis: bool = False) -> str:
    """Return ok, warning or critical for a snapshot sensor; ``hysteresis`` widens limits to keep an alert up."""
    if sensor.get("class") == "state":
        return str(sensor.get("severity") or "unknown")
    limits, value = sensor.get("limits"), sensor.get("value")
    if not limits or value is None:
        return "ok"

    def past(name: str, above: bool) -> bool:
        limit = limits.get(name)
        if limit is None:
            return False
        band = max(abs(limit) * SENSOR_HYSTERESIS, 0.5) if hysteresis else 0.0
        return value > limit - band if above else value < limit + band

    if past("high", True) or past("low", False):
        return "critical"
    if past("high_warn", True) or past("low_warn", False):
        return "warning"
    return "ok"


def _sensor_extra(sensor: dict[str, Any], level: str) -> dict[str, Any]:
    limits = sensor.get("limits") or {}
    value = sensor.get("value")
    if sensor.get("class") == "state":
        state = sensor.get("state_name") or ""
        return {"class": "state", "unit": "", "limit": "", "limit_source": "device",
                "reading": f"state {state} ({sensor.get('severity', '')})".replace("state  (", "state (")}
    names = ("high", "low") if level == "critical" else ("high_warn", "low_warn")
    candidates = [float(limits[n]) for n in names if limits.get(n) is not None]
    limit = min(candidates, key=lambda x: abs(x - value)) if candidates and value is not None else None
    unit = sensor.get("unit", "")
    source = {"device": "the device's limit", "override": "override", "default": "default limit"}.get(
        limits.get("source", ""), "limit")
    reading = f"{_fmt(value)} {unit}".strip() + (f", {source} {_fmt(limit)} {unit}".rstrip() if limit is not None
                                                   else "")
    return {"class": sensor.get("class", ""), "unit": unit, "limit": _fmt(limit),
            "limit_source": source, "reading": reading}


def _advance(rule: Rule, key: Key, holds: bool, value: Any, extra: dict[str, Any], snap: Snapshot,
             current: State | None) -> tuple[State | None, str | None, bool]:
    """Move one alert state; return (new state, transition name or None, reopened)."""
    at = snap.at
    is_open = current is not None and current.open
    if not holds:
        if not is_open:
            return current, None, False
        assert current is not None
        if current.state == "pending":
            return replace(current, state="resolved", hits=0, resolved_at=at), "cancelled", False
        if rule.kind in OCCURRENCE_KINDS and rule.kind != "event":
            return current, None, False
        return replace(current, state="resolved", resolved_at=at, value=value), "resolved", False
    if is_open:
        assert current is not None
        state = replace(current, hits=current.hits + 1, last_true_at=at, value=value)
        if state.state == "pending" and _ready(rule, state, at):
            return _fire(state, at), "firing", current.alert_id is not None and current.flaps > 0
        return state, None, False
    recent = current is not None and current.resolved_at is not None and at - current.resolved_at <= FLAP_WINDOW
    state = State(rule=rule.name, subject=key[1], state="pending", started_at=at, hits=1, last_true_at=at,
                  value=value, flaps=(current.flaps + 1) if recent and current else 0,
                  alert_id=current.alert_id if recent and current else None)
    if _ready(rule, state, at):
        return _fire(state, at), "firing", recent
    return state, "pending", recent


def _ready(rule: Rule, state: State, at: datetime) -> bool:
    if rule.kind in OCCURRENCE_KINDS:
        return True
    return state.hits >= rule.for_polls and (at - state.started_at).total_seconds() >= rule.for_s


def _fire(state: State, at: datetime) -> State:
    return replace(state, state="firing")


def evaluate(rules: Sequence[Rule], snap: Snapshot, states: dict[Key, State]) -> tuple[dict[Key, State],
                                                                                      list[Transition]]:
    """Evaluate ``rules`` against ``snap``; return every state after it and the transitions to record."""
    new_states = dict(states)
    transitions: list[Transition] = []
    for rule in rules:
        if rule.scope != snap.scope:
            continue
        observed = _observe(rule, snap, states)
        for subject, (holds, value, extra) in observed.items():
            key = (rule.name, subject)
            state, change, reopened = _advance(rule, key, holds, value, extra, snap, states.get(key))
            if state is not None:
                new_states[key] = state
            if change and state is not None:
                transitions.append(_transition(rule, subject, change, snap, state, value, extra, reopened))
        if rule.kind in OCCURRENCE_KINDS and rule.clear_after is not None:
            for key, state in states.items():
                if key[0] != rule.name or not state.open or key[1] in observed:
                    continue
                last = state.last_true_at or state.started_at
                if (snap.at - last).total_seconds() >= rule.clear_after:
                    done = replace(state, state="resolved", resolved_at=snap.at)
                    new_states[key] = done
                    transitions.append(_transition(rule, key[1], "resolved", snap, done, state.value, {}, False))
    return new_states, transitions


def _transition(rule: Rule, subject: str, change: str, snap: Snapshot, state: State, value: Any,
                extra: dict[str, Any], reopened: bool) -> Transition:
    summary = rule.render(device=snap.device or "?", subject=subject, value=_fmt(value), rule=rule.name, **extra)
    return Transition(rule=rule, subject=subject, to=change, at=snap.at, value=value, summary=summary, state=state,
                      reopened=reopened)


def suppression(*, device_id: int | None, rule: str, severity: str, at: datetime, in_maintenance: bool,
                silences: Iterable[Any], damped: bool = False) -> str:
    """Say why notifications for an alert are withheld ("" when they are not)."""
    if in_maintenance:
        return "device in maintenance"
    for silence in silences:
        if silence.matches(device_id=device_id, rule=rule, severity=severity, at=at):
            return f"silenced (silence {getattr(silence, 'id', '?')})"
    if damped:
        return "flapping"
    return ""


def samples_by_metric(samples: Iterable[Any]) -> dict[str, dict[str, float]]:
    """Group :class:`~dcops.monitoring.types.Sample` objects by metric, then by subject (their label values)."""
    out: dict[str, dict[str, float]] = {}
    for sample in samples:
        subject = ",".join(v for _, v in sample.labels)
        out.setdefault(sample.metric, {})[subject] = float(sample.value)
    return out
