"""Two workers that look like two hosts and two schedulers, on PostgreSQL and RabbitMQ, polling the demo's agents.

Counts, not clocks: polls per device against the cycles that passed, alerts by rule, deliveries by dedup id.
The issue's figure, "at most 1 extra poll per device in 150 s" at a 60 s interval (2.5 intervals), is checked
scaled to a 5 s interval: at most 1 extra poll per device over the whole run (7 intervals or more), and one more
for a device of the slice redelivered after the kill -9 of a worker mid-poll, across two workers, two schedulers
and the kill -9 of the leading scheduler.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from dcops.auth.actor import SYSTEM
from dcops.demo.build import build_demo
from dcops.demo.monitoring import start_simulation
from dcops.monitoring import notify
from dcops.monitoring.alert_models import Alert
from dcops.monitoring.outbox_models import NotificationOutbox
from dcops.monitoring.state_models import DeviceState, MetricHistory, MonitoringSetting
from tests.engine.cluster import Cluster, Receiver, wait_for

pytestmark = pytest.mark.postgresql_only
INTERVAL_S = 5


def _history(session: Any) -> dict[int, list[Any]]:
    rows = session.execute(select(MetricHistory.device_id, MetricHistory.at).where(MetricHistory.resolution_s == 0)
                           .order_by(MetricHistory.at)).all()
    session.commit()
    out: dict[int, list[Any]] = {}
    for device_id, at in rows:
        out.setdefault(device_id, []).append(at)
    return out


def _every_device_has(session: Any, devices: int, polls: int) -> bool:
    counts = _history(session)
    return len(counts) == devices and min(len(v) for v in counts.values()) >= polls


def _slices(log: str) -> tuple[set[str], set[str]]:
    """Poll slices a worker's log shows received, and those it shows ended (succeeded, failed or retried)."""
    received = set(re.findall(r"Task dcops\.poll_slice\[([0-9a-f-]+)\] received", log))
    ended = set(re.findall(r"Task dcops\.poll_slice\[([0-9a-f-]+)\] (?:succeeded|raised|failed|retry)", log))
    return received, ended


def _mid_poll(cluster: Cluster, name: str) -> bool:
    received, ended = _slices(cluster.log(name))
    return bool(received - ended)


def test_two_hosts_two_schedulers_kill_a_worker_and_the_leader(session: Any, tmp_path: Any) -> None:
    build_demo(session, users=False)
    session.commit()
    simulator = start_simulation(session, tmp_path)
    for setting in session.execute(select(MonitoringSetting)).scalars():
        setting.interval_s = INTERVAL_S
    session.commit()
    receiver = Receiver()
    notify.save_channel(session, actor=SYSTEM, data={"name": "hook", "kind": "webhook", "url": receiver.url,
                                                     "severities": ""})
    devices = len(session.execute(select(MonitoringSetting)).scalars().all())
    cluster = Cluster(tmp_path, extra_env={"DCOPS_EVERY_DRAIN_OUTBOX": "2"})
    try:
        cluster.worker("worker-a", host="host-a")
        cluster.worker("worker-b", host="host-b")
        cluster.scheduler("scheduler-1")
        cluster.scheduler("scheduler-2")
        wait_for(lambda: _every_device_has(session, devices, 3), "three polls of every device")
        leaders = [n for n in ("scheduler-1", "scheduler-2") if "leader now" in cluster.log(n)]
        assert len(leaders) == 1, leaders  # two schedulers running: one leads, the other stands by
        # kill -9 one worker while it polls a slice (its log shows the slice received, not ended), and the leader
        wait_for(lambda: _mid_poll(cluster, "worker-a"), "worker-a to be polling a slice")
        cluster.kill9("worker-a")
        cluster.kill9(leaders[0])
        received, ended = _slices(cluster.log("worker-a"))
        cut = received - ended
        assert cut, "worker-a finished its slice before the kill: nothing was cut mid-poll"
        standby = "scheduler-2" if leaders[0] == "scheduler-1" else "scheduler-1"
        before = {d: len(v) for d, v in _history(session).items()}
        wait_for(lambda: all(len(v) >= before[d] + 3 for d, v in _history(session).items()),
                 "three more polls of every device after the kills")
        assert "leader now" in cluster.log(standby)
        # the slice cut by the kill is delivered again to the live worker (acks_late): its result is not lost
        wait_for(lambda: cut <= _slices(cluster.log("worker-b"))[1], "worker-b to finish the slice cut by the kill")
        wait_for(lambda: session.execute(select(func.count()).select_from(NotificationOutbox)
                                         .where(NotificationOutbox.state == "pending")).scalar_one() == 0
                 or bool(session.rollback()), "the outbox to empty")
    finally:
        cluster.stop()
        simulator.stop()
        receiver.close()
    session.expire_all()
    history = _history(session)
    assert len(history) == devices  # every device polled
    for device_id, times in history.items():
        span = (times[-1] - times[0]).total_seconds()
        # about once an interval: the polls the span holds, one at each end, and for a device of the slice cut by
        # the kill, its redelivery (at least once: the worker may have written that device before it died). Two
        # pollers polling every device would show twice as many.
        assert len(times) <= span / INTERVAL_S + 3, (device_id, len(times), span)
        state = session.get(DeviceState, device_id)
        assert state.last_poll_at == times[-1]  # the newest result is the one stored (nothing applied out of order)
    for name in ("worker-b", standby):  # no write failed (no primary-key collision, no lost batch)
        assert "Traceback" not in cluster.log(name) and " ERROR dcops" not in cluster.log(name), cluster.log(name)
    alerts = session.execute(select(Alert)).scalars().all()
    rules = Counter(a.rule for a in alerts)
    assert rules["unexpected_reboot"] == 0 and rules["device_unreachable"] == 0, rules  # no false alert
    assert rules["device_not_polled"] == 0, rules  # the kills left no device unpolled for 2 intervals
    assert rules["ups_on_battery"] == 1  # the demo's real alert fired once, whatever the workers did
    per_device = Counter((a.rule, a.device_id, a.subject) for a in alerts)
    assert max(per_device.values()) == 1, per_device  # no alert raised twice by two workers
    outbox = {r.dedup_id: r for r in session.execute(select(NotificationOutbox)).scalars()}
    assert outbox and all(r.state == "delivered" for r in outbox.values())
    got = Counter(dedup for dedup, _, _ in receiver.received)
    assert set(got) == set(outbox)  # every notification delivered (none lost), each named by its dedup id
    events = Counter((alert_id, status) for _, status, alert_id in {(d, st, a) for d, st, a in receiver.received})
    assert max(events.values()) == 1, events  # one dedup id per alert event: never two different notifications
    assert sum(got.values()) <= len(outbox) + 1  # at most one repeat (same dedup id): a delivery cut by the kill
