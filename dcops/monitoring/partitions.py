"""Metric history at scale: daily range partitions on PostgreSQL, downsampling and retention in SQL.

On PostgreSQL ``metric_history`` is partitioned by range of ``at`` (migration ``0008_scaleout``): one partition a
day, named ``metric_history_pYYYYMMDD``, created :data:`AHEAD_DAYS` ahead by the scheduler; rows with no
partition of their own land in ``metric_history_default``. Retention drops whole partitions (no row-by-row
delete, no bloat), and downsampling is one ``INSERT ... SELECT`` per run. SQLite keeps the plain table and the
Python fold of :func:`dcops.monitoring.state.compact_history`.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session

from dcops.database import is_postgresql, session_scope, utcnow
from dcops.monitoring.history import DOWNSAMPLE_STEP_S, DOWNSAMPLED_KEEP, RAW_KEEP, _bucket, compact_history

log = logging.getLogger("dcops.partitions")
AHEAD_DAYS = 3


def _partitioned(session: Session) -> bool:
    return is_postgresql(session) and bool(session.execute(text(
        "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = 'metric_history'")).first())


def partition_name(day: date) -> str:
    """Return the name of the partition holding ``day``."""
    return f"metric_history_p{day:%Y%m%d}"


def ensure_partitions(session: Session, *, today: date | None = None, ahead: int = AHEAD_DAYS) -> list[str]:
    """Create the daily partitions from today to ``ahead`` days ahead (PostgreSQL); return those created."""
    if not _partitioned(session):
        return []
    today = today or utcnow().date()
    existing = set(session.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'metric_history'")).scalars())
    created = []
    for offset in range(ahead + 1):
        day = today + timedelta(days=offset)
        name = partition_name(day)
        if name in existing:
            continue
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        try:
            with session.begin_nested():  # today's may clash with rows already in the default partition
                session.execute(text(
                    f'CREATE TABLE "{name}" PARTITION OF metric_history '
                    f"FOR VALUES FROM ('{start.isoformat()}') TO ('{(start + timedelta(days=1)).isoformat()}')"))
            created.append(name)
        except Exception as exc:
            log.info("partition %s not created: %s", name, str(exc).splitlines()[0])
    session.commit()
    return created


def drop_expired(session: Session, *, now: datetime | None = None, keep: timedelta = DOWNSAMPLED_KEEP) -> list[str]:
    """Drop the daily partitions wholly older than ``keep`` (PostgreSQL); return their names."""
    if not _partitioned(session):
        return []
    limit = ((now or utcnow()) - keep).date()
    names = session.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'metric_history' "
        "AND c.relname LIKE 'metric\\_history\\_p%'")).scalars().all()
    dropped = []
    for name in names:
        day = datetime.strptime(name[-8:], "%Y%m%d").date()
        if day + timedelta(days=1) <= limit:
            session.execute(text(f'DROP TABLE "{name}"'))
            dropped.append(name)
    session.commit()
    return dropped


_DOWNSAMPLE = """
INSERT INTO metric_history (device_id, at, resolution_s, "values")
SELECT device_id, bucket, :step, json_object_agg(key, avg_value)
FROM (
    SELECT h.device_id, to_timestamp(floor(extract(epoch FROM h.at) / :step) * :step) AS bucket,
           kv.key, avg((kv.value)::text::float8) AS avg_value
    FROM metric_history h, json_each(h."values") kv
    WHERE h.resolution_s = 0 AND h.at < :cutoff AND json_typeof(kv.value) = 'number'
    GROUP BY h.device_id, bucket, kv.key
) folded
GROUP BY device_id, bucket
"""


def compact(session: Session, *, now: datetime | None = None, raw_keep: timedelta = RAW_KEEP,
            step_s: int = DOWNSAMPLE_STEP_S, keep: timedelta = DOWNSAMPLED_KEEP) -> int:
    """Fold raw rows older than ``raw_keep`` into ``step_s`` averages and apply retention; return rows folded."""
    if not is_postgresql(session):
        return compact_history(session, now=now, raw_keep=raw_keep, step_s=step_s, keep=keep)
    now = now or utcnow()
    cutoff = _bucket(now - raw_keep, step_s)  # whole buckets only: a bucket is never folded twice
    params = {"step": step_s, "cutoff": cutoff}
    session.execute(text(_DOWNSAMPLE), params)
    folded = session.execute(text("DELETE FROM metric_history WHERE resolution_s = 0 AND at < :cutoff"),
                             {"cutoff": cutoff}).rowcount  # type: ignore[attr-defined]  # a DELETE's CursorResult
    session.execute(text("DELETE FROM metric_history WHERE resolution_s > 0 AND at < :old"), {"old": now - keep})
    session.commit()
    drop_expired(session, now=now, keep=keep)
    return int(folded or 0)


def maintain_history() -> int:
    """Create the next partitions ahead, then downsample and prune history; return the rows folded (periodic)."""
    with session_scope() as session:
        ensure_partitions(session)
    with session_scope() as session:
        return compact(session)
