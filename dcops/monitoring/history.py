"""Metric history: one row per poll and device (a JSON object of series key -> value), downsampled with age.

History keeps every poll for ``RAW_KEEP`` (24 h), then 5-minute averages for ``DOWNSAMPLED_KEEP``
(30 days); :func:`compact_history` does both (the SQLite path; PostgreSQL's is :mod:`.partitions`).
Every reading of history goes through :func:`history_points`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from dcops.database import utcnow
from dcops.exceptions import ValidationError
from dcops.monitoring.state_models import MetricHistory
from dcops.monitoring.types import Sample

RAW_KEEP = timedelta(hours=24)
DOWNSAMPLE_STEP_S = 300
DOWNSAMPLED_KEEP = timedelta(days=30)
MAX_POINTS = 11_000

Points = list[tuple[datetime, float]]


def series_key(sample: Sample) -> str:
    """Return the history key of a sample: ``metric`` or ``metric{label=value,...}``."""
    if not sample.labels:
        return sample.metric
    return sample.metric + "{" + ",".join(f"{k}={v}" for k, v in sample.labels) + "}"


def parse_series_key(key: str) -> tuple[str, dict[str, str]]:
    """Split a history key into its metric and labels."""
    if not key.endswith("}") or "{" not in key:
        return key, {}
    metric, _, rest = key.partition("{")
    labels = dict(part.split("=", 1) for part in rest[:-1].split(",") if "=" in part)
    return metric, labels


def labels_key(metric: str, labels: dict[str, Any]) -> str:
    """Return the history key of ``metric`` with ``labels`` (in any order)."""
    return series_key(Sample(metric, 0.0, tuple(sorted((k, str(v)) for k, v in labels.items()))))


def history_points(session: Session, *, device_id: int, keys: Callable[[str], bool] | Collection[str],
                   start: datetime, end: datetime | None = None, max_rows: int | None = None) -> dict[str, Points]:
    """Return the points of each series key of a device wanted by ``keys`` between ``start`` and ``end``.

    ``max_rows`` thins the rows evenly: their times are read first (small), then the values of the chosen rows
    only (a day of per-minute polls holds 1,440 JSON documents of every metric of the device; a chart needs few).
    """
    wanted = keys if callable(keys) else set(keys).__contains__
    where = [col(MetricHistory.device_id) == device_id, col(MetricHistory.at) >= start]
    if end is not None:
        where.append(col(MetricHistory.at) <= end)
    if max_rows is None:
        rows = list(session.exec(select(col(MetricHistory.at), col(MetricHistory.values)).where(*where)
                                 .order_by(col(MetricHistory.at))).all())
    else:
        stamps = session.exec(select(col(MetricHistory.id), col(MetricHistory.at)).where(*where)
                              .order_by(col(MetricHistory.at))).all()
        step = max(1, -(-len(stamps) // max_rows))
        chosen = [i for i, _ in stamps[::step]]
        rows = []
        for first in range(0, len(chosen), 500):
            rows += session.exec(select(col(MetricHistory.at), col(MetricHistory.values))
                                 .where(col(MetricHistory.id).in_(chosen[first:first + 500]))
                                 .order_by(col(MetricHistory.at))).all()
    out: dict[str, Points] = {}
    for at, values in rows:
        for key, value in values.items():
            if wanted(key):
                out.setdefault(key, []).append((at, float(value)))
    return out


def _bucket(at: datetime, step: int) -> datetime:
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % step, UTC)


def compact_history(session: Session, *, now: datetime | None = None, raw_keep: timedelta = RAW_KEEP,
                    step_s: int = DOWNSAMPLE_STEP_S, keep: timedelta = DOWNSAMPLED_KEEP) -> int:
    """Average raw rows older than ``raw_keep`` into ``step_s`` buckets, prune old rows; return raw rows folded."""
    now = now or utcnow()
    cutoff = _bucket(now - raw_keep, step_s)  # whole buckets only: a bucket is never folded twice
    folded = 0
    raw, old = col(MetricHistory.resolution_s) == 0, col(MetricHistory.at) < cutoff
    device_ids = session.exec(select(col(MetricHistory.device_id)).where(raw, old).distinct()).all()
    for device_id in device_ids:
        rows = session.exec(
            select(col(MetricHistory.at), col(MetricHistory.values))
            .where(col(MetricHistory.device_id) == device_id, raw, old)
        ).all()
        buckets: dict[datetime, dict[str, list[float]]] = {}
        for at, values in rows:
            acc = buckets.setdefault(_bucket(at, step_s), {})
            for key, value in values.items():
                acc.setdefault(key, []).append(float(value))
        for start, acc in buckets.items():
            session.add(MetricHistory(device_id=device_id, at=start, resolution_s=step_s,
                                      values={k: sum(v) / len(v) for k, v in acc.items()}))
        session.execute(delete(MetricHistory).where(col(MetricHistory.device_id) == device_id, raw, old))
        folded += len(rows)
    session.execute(delete(MetricHistory).where(col(MetricHistory.resolution_s) > 0,
                                                col(MetricHistory.at) < now - keep))
    return folded


@dataclass
class Series:
    """The points of one series (metric + labels) over a time range."""

    metric: str
    labels: dict[str, str]
    points: list[tuple[datetime, float]]


def history(session: Session, *, device_id: int, metric: str, labels: dict[str, str] | None = None,
            start: datetime, end: datetime, step_s: int) -> list[Series]:
    """Return the series of ``metric`` (matching ``labels``) between start and end, averaged per ``step_s``."""
    if end <= start:
        raise ValidationError("end must be after start", field="end")
    if step_s < 1:
        raise ValidationError("step must be at least 1 second", field="step")
    if (end - start).total_seconds() / step_s > MAX_POINTS:
        raise ValidationError(f"too many points: (end - start) / step must stay under {MAX_POINTS}", field="step")
    wanted = labels or {}

    def matches(key: str) -> bool:
        name, key_labels = parse_series_key(key)
        return name == metric and all(key_labels.get(k) == v for k, v in wanted.items())

    found: dict[str, dict[datetime, list[float]]] = {}
    for key, points in history_points(session, device_id=device_id, keys=matches, start=start, end=end).items():
        for at, value in points:
            found.setdefault(key, {}).setdefault(_bucket(at, step_s), []).append(value)
    out = []
    for key in sorted(found):
        name, key_labels = parse_series_key(key)
        points = [(t, sum(v) / len(v)) for t, v in sorted(found[key].items())]
        out.append(Series(name, key_labels, points))
    return out
