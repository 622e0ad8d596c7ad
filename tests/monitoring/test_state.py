"""State service: latest values, previous result, interfaces, history and its downsampling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dcops.exceptions import ValidationError
from dcops.monitoring.profiles import InterfaceRow
from dcops.monitoring.state import (
    PollExtras,
    compact_history,
    history,
    latest_samples,
    parse_series_key,
    previous_result,
    record,
    series_key,
)
from dcops.monitoring.state_models import DeviceState, Interface, MetricHistory
from dcops.monitoring.types import PollResult, Sample

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _result(device_id: int, at: datetime, *, reachable: bool = True, value: float = 1.0) -> PollResult:
    samples = [Sample("device_up", 1.0 if reachable else 0.0)]
    if reachable:
        samples += [Sample("cpu_load_percent", value), Sample("if_in_bps", value * 10, (("ifname", "eth0"),)),
                    Sample("if_in_bps", value * 20, (("ifname", "eth1"),))]
    return PollResult(device_id=device_id, device_name="d", at=at, reachable=reachable, samples=samples,
                      facts={"serial": "SN1"} if reachable else {}, counters={"k": (5, 64, at.timestamp())})


def test_series_keys_round_trip():
    sample = Sample("if_in_bps", 1.0, (("ifname", "Gi1/0/1"),))
    assert series_key(sample) == "if_in_bps{ifname=Gi1/0/1}"
    assert parse_series_key(series_key(sample)) == ("if_in_bps", {"ifname": "Gi1/0/1"})
    assert parse_series_key("device_up") == ("device_up", {})


def test_record_keeps_latest_state_and_previous_result(session, factory):
    device = factory.device()
    assert previous_result(session, device.id) is None
    record(session, _result(device.id, T0, value=40.0), PollExtras(uptime_ticks=100))
    session.commit()
    previous = previous_result(session, device.id)
    assert previous is not None and previous.reachable and previous.facts == {"serial": "SN1"}
    assert previous.counters == {"k": (5, 64, T0.timestamp())}
    assert {s.metric for s in previous.samples} == {"device_up", "cpu_load_percent", "if_in_bps"}
    latest = latest_samples(session, [device.id, 999])
    assert list(latest) == [device.id]
    assert Sample("cpu_load_percent", 40.0) in latest[device.id]


def test_capacity_reads_measured_host_use_through_its_hook(session, factory):
    from dcops.capacity.hooks import MEASURED_USE

    polled, never = factory.device(), factory.device()
    record(session, _result(polled.id, T0, value=40.0), PollExtras())
    session.commit()
    provider = MEASURED_USE.first()
    assert provider is not None  # monitoring's provides.py registered it
    # only the metrics headroom uses, only for the hosts polled
    assert provider(session, [polled.id, never.id]) == {polled.id: {"cpu_load_percent": 40.0}}


def test_chart_points_thin_the_rows_evenly_and_keep_every_wanted_key(session, factory):
    from dcops.monitoring.device_reads import chart_points

    device = factory.device()
    for minute in range(10):
        record(session, _result(device.id, T0 + timedelta(minutes=minute), value=float(minute)), PollExtras())
        session.commit()
    wanted = ["cpu_load_percent", "if_in_bps{ifname=eth1}", "not_measured"]
    every = chart_points(session, device.id, wanted, T0, max_points=100)
    assert [v for _, v in every["cpu_load_percent"]] == [float(m) for m in range(10)]
    assert [v for _, v in every["if_in_bps{ifname=eth1}"]] == [20.0 * m for m in range(10)]
    assert every["not_measured"] == []
    thinned = chart_points(session, device.id, wanted, T0, max_points=5)  # every other row, in time order
    assert [v for _, v in thinned["cpu_load_percent"]] == [0.0, 2.0, 4.0, 6.0, 8.0]


def test_failures_count_up_and_keep_facts_and_counters(session, factory):
    device = factory.device()
    record(session, _result(device.id, T0), PollExtras())
    for n in range(1, 4):
        record(session, _result(device.id, T0 + timedelta(minutes=n), reachable=False), PollExtras())
        session.commit()
        state = session.get(DeviceState, device.id)
        assert state.consecutive_failures == n and not state.reachable
    assert state.facts == {"serial": "SN1"} and "k" in state.counters
    assert state.last_success_at == T0
    record(session, _result(device.id, T0 + timedelta(minutes=5)), PollExtras())
    session.commit()
    assert session.get(DeviceState, device.id).consecutive_failures == 0


def test_interfaces_are_upserted_and_keep_the_unused_flag(session, factory):
    device = factory.device()
    rows = [InterfaceRow(1, "Gi1/0/1", "uplink", 10**9, True, True, 100), InterfaceRow(2, "Gi1/0/2", "", 10**9,
                                                                                        False, False, None)]
    record(session, _result(device.id, T0), PollExtras(interfaces=rows, uptime_ticks=10_100))
    session.commit()
    port = session.execute(select(Interface).where(Interface.ifindex == 2)).scalar_one()
    port.unused = True
    session.commit()
    rows[1] = InterfaceRow(2, "Gi1/0/2", "", 10**9, True, True, 20_000)
    record(session, _result(device.id, T0 + timedelta(minutes=1)), PollExtras(interfaces=rows, uptime_ticks=20_100))
    session.commit()
    ifaces = session.execute(select(Interface).order_by(Interface.ifindex)).scalars().all()
    assert [(i.name, i.oper_up, i.unused) for i in ifaces] == [("Gi1/0/1", True, False), ("Gi1/0/2", True, True)]
    assert ifaces[0].last_change == T0 - timedelta(seconds=100)  # unchanged since the first poll
    assert ifaces[1].last_change == T0 + timedelta(minutes=1) - timedelta(seconds=1)  # came up 1 s before the poll


def test_history_query_steps_and_label_filters(session, factory):
    device = factory.device()
    for n in range(10):
        record(session, _result(device.id, T0 + timedelta(minutes=n), value=float(n)), PollExtras())
    session.commit()
    series = history(session, device_id=device.id, metric="if_in_bps", start=T0, end=T0 + timedelta(minutes=10),
                     step_s=300)
    assert [s.labels for s in series] == [{"ifname": "eth0"}, {"ifname": "eth1"}]
    assert [v for _, v in series[0].points] == [pytest.approx(20.0), pytest.approx(70.0)]  # means of 0..4, 5..9 x10
    one = history(session, device_id=device.id, metric="if_in_bps", labels={"ifname": "eth1"}, start=T0,
                  end=T0 + timedelta(minutes=3), step_s=60)
    assert len(one) == 1 and [v for _, v in one[0].points] == [0.0, 20.0, 40.0, 60.0]
    with pytest.raises(ValidationError):
        history(session, device_id=device.id, metric="x", start=T0, end=T0 - timedelta(seconds=1), step_s=60)
    with pytest.raises(ValidationError):
        history(session, device_id=device.id, metric="x", start=T0, end=T0 + timedelta(days=30), step_s=1)


def test_compaction_averages_old_polls_into_five_minute_rows_and_prunes(session, factory):
    device = factory.device()
    now = T0 + timedelta(days=2)
    for n in range(20):  # 20 polls, a minute apart, 2 days old: four 5-minute buckets
        record(session, _result(device.id, T0 + timedelta(minutes=n), value=float(n)), PollExtras())
    record(session, _result(device.id, now - timedelta(minutes=1), value=99.0), PollExtras())  # recent: kept raw
    ancient = MetricHistory(device_id=device.id, at=now - timedelta(days=31), resolution_s=300, values={"x": 1.0})
    session.add(ancient)
    session.commit()
    folded = compact_history(session, now=now)
    session.commit()
    assert folded == 20
    rows = session.execute(select(MetricHistory).order_by(MetricHistory.at)).scalars().all()
    assert [(r.resolution_s, r.values["cpu_load_percent"]) for r in rows] == [
        (300, 2.0), (300, 7.0), (300, 12.0), (300, 17.0), (0, 99.0)]
    assert compact_history(session, now=now) == 0  # nothing folded twice
    session.commit()
    assert session.execute(select(func.count()).select_from(MetricHistory)).scalar_one() == 5
    # the query reads downsampled and raw rows alike
    series = history(session, device_id=device.id, metric="cpu_load_percent", start=T0, end=now, step_s=3600)
    assert [v for _, v in series[0].points][0] == pytest.approx(9.5)
