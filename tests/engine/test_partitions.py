"""Metric history on PostgreSQL: daily partitions created ahead, downsampling and retention in SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from dcops.monitoring.partitions import compact, ensure_partitions, partition_name
from dcops.monitoring.state_models import MetricHistory

pytestmark = pytest.mark.postgresql_only


def test_partitions_ahead_and_downsampling_in_sql(session: Any, factory: Any) -> None:
    device = factory.device(name="hv-p")
    session.commit()
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    created = ensure_partitions(session, today=now.date() + timedelta(days=30))
    assert partition_name(now.date() + timedelta(days=30)) in created and len(created) == 4
    assert ensure_partitions(session, today=now.date() + timedelta(days=30)) == []  # idempotent
    old = now - timedelta(hours=30)
    start = old.replace(minute=0, second=0, microsecond=0)
    rows = [{"device_id": device.id, "at": start + timedelta(minutes=i), "resolution_s": 0,
             "values": {"cpu_load_percent": float(i)}} for i in range(10)]
    rows.append({"device_id": device.id, "at": now, "resolution_s": 0, "values": {"cpu_load_percent": 99.0}})
    session.execute(insert(MetricHistory.__table__), rows)  # type: ignore[attr-defined]
    session.commit()
    assert compact(session, now=now) == 10
    left = session.execute(select(MetricHistory.at, MetricHistory.resolution_s, MetricHistory.values)
                           .order_by(MetricHistory.at)).all()
    assert [(r, v) for _, r, v in left] == [(300, {"cpu_load_percent": 2.0}), (300, {"cpu_load_percent": 7.0}),
                                            (0, {"cpu_load_percent": 99.0})]
    kind = session.execute(text("SELECT relkind FROM pg_class WHERE relname = 'metric_history'")).scalar_one()
    assert kind == "p"  # partitioned
