"""The alert service on a real database: pending rows, dedup, cancel, reopen on flapping, damping, manual resolve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from dcops.auth.actor import SYSTEM
from dcops.monitoring import alerting
from dcops.monitoring.alert_models import Alert, AlertEvent
from dcops.monitoring.evaluate import FLAP_LIMIT
from dcops.monitoring.types import PollResult, Sample

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def _poll(session: Any, device: Any, minutes: float, **metrics: float) -> None:
    at = T0 + timedelta(minutes=minutes)
    result = PollResult(device_id=device.id, device_name=device.name, at=at, reachable=True,
                        samples=[Sample(k, v) for k, v in metrics.items()])
    alerting.evaluate_poll(session, result=result, previous=None)


def _alerts(session: Any) -> list[tuple[int, str, str, int]]:
    session.expire_all()
    rows = session.execute(select(Alert).order_by(Alert.id)).scalars()
    return [(a.id, a.rule, a.state, a.flaps) for a in rows]


def test_pending_then_firing_deduplicated_then_resolved(db: str, session: Any, factory: Any) -> None:
    hv = factory.device(name="hv-svc", role="hypervisor")
    _poll(session, hv, 0, cpu_load_percent=95)
    assert [(r, s) for _, r, s, _ in _alerts(session)] == [("cpu_high", "pending")]
    for minute in range(1, 5):
        _poll(session, hv, minute, cpu_load_percent=96)
    assert [(r, s) for _, r, s, _ in _alerts(session)] == [("cpu_high", "pending")]
    for minute in range(5, 9):
        _poll(session, hv, minute, cpu_load_percent=97)
    [(alert_id, _, state, _)] = _alerts(session)
    assert state == "firing"
    _poll(session, hv, 9, cpu_load_percent=10)
    assert _alerts(session) == [(alert_id, "cpu_high", "resolved", 0)]
    kinds = session.execute(select(AlertEvent.kind).where(AlertEvent.alert_id == alert_id)
                            .order_by(AlertEvent.id)).scalars().all()
    assert kinds == ["pending", "firing", "resolved"]


def test_cancelled_pending_leaves_no_alert(db: str, session: Any, factory: Any) -> None:
    hv = factory.device(name="hv-blip", role="hypervisor")
    _poll(session, hv, 0, cpu_load_percent=95)
    _poll(session, hv, 1, cpu_load_percent=20)
    assert _alerts(session) == []


def test_flapping_alert_reopens_the_same_row_and_stops_notifying(db: str, session: Any, factory: Any) -> None:
    ups = factory.device(name="ups-flap", role="ups")
    minute = 0.0
    for _ in range(FLAP_LIMIT + 1):
        _poll(session, ups, minute, ups_on_battery=1)
        _poll(session, ups, minute + 0.5, ups_on_battery=0)
        minute += 1
    [(alert_id, rule, state, flaps)] = _alerts(session)
    assert (rule, state, flaps) == ("ups_on_battery", "resolved", FLAP_LIMIT)
    alert = session.get(Alert, alert_id)
    assert alert.suppressed == "flapping"
    kinds = session.execute(select(AlertEvent.kind).where(AlertEvent.alert_id == alert_id)).scalars().all()
    assert kinds.count("reopened") == FLAP_LIMIT and kinds.count("suppressed") == 1
    # quiet for longer than the flap window: a new episode is a new alert
    _poll(session, ups, minute + 60, ups_on_battery=1)
    assert [(r, s, f) for _, r, s, f in _alerts(session)] == [("ups_on_battery", "resolved", FLAP_LIMIT),
                                                              ("ups_on_battery", "firing", 0)]


def test_manual_resolve_of_a_standing_condition_fires_again(db: str, session: Any, factory: Any) -> None:
    ups = factory.device(name="ups-man", role="ups")
    _poll(session, ups, 0, ups_on_battery=1)
    [(alert_id, _, _, _)] = _alerts(session)
    alerting.acknowledge(session, actor=SYSTEM, id=alert_id, comment="looking")
    _poll(session, ups, 1, ups_on_battery=1)
    assert _alerts(session) == [(alert_id, "ups_on_battery", "acknowledged", 0)]  # ack survives polls
    alerting.resolve(session, actor=SYSTEM, id=alert_id)
    _poll(session, ups, 2, ups_on_battery=1)
    assert _alerts(session) == [(alert_id, "ups_on_battery", "firing", 1)]


def test_unreachable_device_keeps_its_other_alerts(db: str, session: Any, factory: Any) -> None:
    ups = factory.device(name="ups-gone", role="ups")
    _poll(session, ups, 0, ups_on_battery=1)
    for minute in (1, 2, 3):
        alerting.evaluate_poll(session, result=PollResult(device_id=ups.id, device_name=ups.name, reachable=False,
                                                          at=T0 + timedelta(minutes=minute)), previous=None)
    assert sorted((r, s) for _, r, s, _ in _alerts(session)) == [("device_unreachable", "firing"),
                                                                 ("ups_on_battery", "firing")]
