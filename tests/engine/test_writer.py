"""The batched writer: newest result only, no primary-key collision, /metrics from the writer's fragments."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from dcops.database import session_scope
from dcops.monitoring import metrics, staleness
from dcops.monitoring.alert_models import Alert
from dcops.monitoring.state import PollExtras
from dcops.monitoring.state_models import DeviceState, MetricHistory
from dcops.monitoring.types import PollResult, Sample
from dcops.monitoring.writer import write_batch


def _poll(device: Any, at: datetime, uptime: float, cpu: float) -> tuple[PollResult, PollExtras]:
    result = PollResult(device_id=device.id, device_name=device.name, at=at, reachable=True, samples=[
        Sample("device_up", 1.0), Sample("device_uptime_seconds", uptime), Sample("cpu_load_percent", cpu)])
    return result, PollExtras(uptime_ticks=int(uptime * 100))


def test_an_older_result_written_late_is_never_applied_and_raises_no_reboot(session: Any, factory: Any) -> None:
    device = factory.device(name="hv-1", role="hypervisor")
    session.commit()
    t0 = datetime.now(UTC)
    with session_scope() as s:
        assert write_batch(s, [_poll(device, t0, 1000, 10)]).applied == 1
    with session_scope() as s:  # the newer poll lands first, and the same batch repeats an older one
        report = write_batch(s, [_poll(device, t0 + timedelta(seconds=120), 1120, 30),
                                 _poll(device, t0 + timedelta(seconds=60), 1060, 20)])
    assert (report.applied, report.stale) == (1, 1)
    with session_scope() as s:  # the older poll arrives last (a slow worker)
        assert write_batch(s, [_poll(device, t0 + timedelta(seconds=60), 1060, 20)]).applied == 0
    state = session.get(DeviceState, device.id)
    assert state.last_poll_at == t0 + timedelta(seconds=120) and state.uptime_ticks == 112000
    assert session.execute(select(func.count()).select_from(MetricHistory)).scalar_one() == 2
    assert session.execute(select(Alert).where(Alert.rule == "unexpected_reboot")).first() is None


def test_two_writers_first_poll_of_the_same_devices_do_not_collide(session: Any, factory: Any) -> None:
    devices = [factory.device(name=f"sw-{i}", role="switch") for i in range(20)]
    session.commit()
    at = datetime.now(UTC)
    errors: list[BaseException] = []

    def write(offset: int) -> None:
        try:
            with session_scope() as s:
                write_batch(s, [_poll(d, at + timedelta(seconds=offset), 100 + offset, 5) for d in devices],
                            evaluate=False)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = session.execute(select(DeviceState.last_poll_at)).scalars().all()
    assert len(rows) == 20 and set(rows) == {at + timedelta(seconds=3)}  # the newest everywhere


def test_metrics_come_from_the_writers_fragments_and_follow_a_rename(session: Any, factory: Any, client: Any,
                                                                     admin: Any) -> None:
    device = factory.device(name="hv-old", role="hypervisor")
    session.commit()
    with session_scope() as s:
        write_batch(s, [_poll(device, datetime.now(UTC), 500, 42.5)], evaluate=False)
    assert 'device="hv-old"' in session.get(DeviceState, device.id).exposition
    session.commit()
    metrics.clear_cache()
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics", headers=admin).text)}
    [cpu] = families["dcops_cpu_load_percent"].samples
    assert cpu.value == 42.5 and cpu.labels["device"] == "hv-old"
    device.name = "hv-new"
    session.add(device)
    session.commit()
    metrics._cache = None  # the body's 5 s cache, not the fragments
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics", headers=admin).text)}
    assert [s.labels["device"] for s in families["dcops_cpu_load_percent"].samples] == ["hv-new"]


def test_a_device_not_polled_within_two_intervals_raises_an_alert_cleared_by_the_next_poll(
        session: Any, factory: Any) -> None:
    from dcops.auth.actor import SYSTEM
    from dcops.dcim.service import save_credential

    cred = save_credential(session, actor=SYSTEM, data={"name": "v2", "kind": "snmp_v2c", "community": "x"})
    late = factory.device(name="late-1", mgmt_address="127.0.0.1", snmp_credential_id=cred.id)
    fine = factory.device(name="fine-1", mgmt_address="127.0.0.1", snmp_credential_id=cred.id)
    session.commit()
    now = datetime.now(UTC)
    with session_scope() as s:
        write_batch(s, [_poll(late, now - timedelta(seconds=300), 10, 1), _poll(fine, now, 10, 1)], evaluate=False)
    assert staleness.check() == 1
    assert staleness.check() == 1  # still late: the same alert stays open, not a second one
    alerts = session.execute(select(Alert).where(Alert.rule == "device_not_polled")).scalars().all()
    assert [(a.device_id, str(a.state)) for a in alerts] == [(late.id, "firing")]
    session.commit()
    with session_scope() as s:
        write_batch(s, [_poll(late, datetime.now(UTC), 20, 1)], evaluate=False)
    assert staleness.check() == 0
    session.expire_all()
    assert str(session.get(Alert, alerts[0].id).state) == "resolved"

