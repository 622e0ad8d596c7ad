"""Record poll results: the latest state per device, interfaces, bounded history and its downsampling.

History keeps every poll for ``RAW_KEEP`` (24 h), then 5-minute averages for ``DOWNSAMPLED_KEEP``
(30 days); :func:`compact_history` does both and is called by the poller every few minutes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlmodel import Session

from dcops.database import utcnow
from dcops.exceptions import NotFoundError, ValidationError
from dcops.monitoring.profiles import InterfaceRow
from dcops.monitoring.state_models import DeviceState, Interface, MetricHistory, PollerStatus
from dcops.monitoring.types import PollResult, Sample

RAW_KEEP = timedelta(hours=24)
DOWNSAMPLE_STEP_S = 300
DOWNSAMPLED_KEEP = timedelta(days=30)
MAX_POINTS = 11_000


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


def _samples_json(samples: Iterable[Sample]) -> list[Any]:
    return [[s.metric, dict(s.labels), s.value] for s in samples]


def _samples_from_json(raw: Iterable[Any]) -> list[Sample]:
    return [Sample(m, float(v), tuple(sorted(labels.items()))) for m, labels, v in raw]


def _sorted_labels(sample: Sample) -> Sample:
    return Sample(sample.metric, sample.value, tuple(sorted(sample.labels)))


# --- reading the latest state ------------------------------------------------------------------------


def previous_result(session: Session, device_id: int) -> PollResult | None:
    """Return the last recorded poll of a device as a PollResult, or None if it was never polled."""
    state = session.get(DeviceState, device_id)
    if state is None or state.last_poll_at is None:
        return None
    return _as_result(state, name="")


def _as_result(state: DeviceState, name: str) -> PollResult:
    return PollResult(
        device_id=state.device_id, device_name=name, at=state.last_poll_at or utcnow(), reachable=state.reachable,
        duration_s=state.duration_s, error=state.error, samples=_samples_from_json(state.samples),
        facts=dict(state.facts), counters={k: (int(v[0]), int(v[1]), float(v[2])) for k, v in state.counters.items()},
        varbinds=state.varbinds,
    )


def latest_samples(session: Session, device_ids: Iterable[int]) -> dict[int, list[Sample]]:
    """Return the samples of the last poll of each device (devices never polled are absent)."""
    ids = list(device_ids)
    if not ids:
        return {}
    rows = session.execute(select(DeviceState.device_id, DeviceState.samples)
                           .where(DeviceState.device_id.in_(ids))).all()  # type: ignore[attr-defined]
    return {device_id: _samples_from_json(samples) for device_id, samples in rows}


# --- recording a poll ---------------------------------------------------------------------------------


@dataclass
class PollExtras:
    """What a poll gives besides the PollResult: interfaces, table sizes, raw sysUpTime, maintenance flag."""

    interfaces: list[InterfaceRow] | None = None
    table_rows: dict[str, int] | None = None
    uptime_ticks: int | None = None
    maintenance: bool = False


def record(session: Session, result: PollResult, extras: PollExtras | None = None) -> DeviceState:
    """Store one poll of an inventory device: latest state, interfaces and a history row (no commit)."""
    if result.device_id is None:
        raise ValidationError("only inventory devices are recorded (commissioning polls are not)")
    extras = extras or PollExtras()
    state = session.get(DeviceState, result.device_id)
    if state is None:
        state = DeviceState(device_id=result.device_id)
        session.add(state)
    state.last_poll_at = result.at
    state.duration_s = result.duration_s
    state.error = (result.error or None) and result.error[:500]  # type: ignore[index]
    state.maintenance = extras.maintenance
    state.varbinds = result.varbinds
    state.samples = _samples_json(_sorted_labels(s) for s in result.samples)
    if result.reachable:
        state.reachable = True
        state.last_success_at = result.at
        state.consecutive_failures = 0
        state.facts = dict(result.facts)
        state.counters = {k: list(v) for k, v in result.counters.items()}
        if extras.table_rows is not None:
            state.table_rows = dict(extras.table_rows)
        if extras.uptime_ticks is not None:
            state.uptime_ticks = extras.uptime_ticks
    else:
        state.reachable = False
        state.consecutive_failures = (state.consecutive_failures or 0) + 1
    values = {series_key(s): s.value for s in result.samples}
    session.add(MetricHistory(device_id=result.device_id, at=result.at, resolution_s=0, values=values))
    if extras.interfaces:
        _record_interfaces(session, result.device_id, extras.interfaces, result.at, extras.uptime_ticks)
    return state


def _record_interfaces(session: Session, device_id: int, rows: Sequence[InterfaceRow], at: datetime,
                       uptime_ticks: int | None) -> None:
    existing = {i.ifindex: i for i in session.execute(select(Interface).where(Interface.device_id == device_id))
                .scalars()}
    for row in rows:
        iface = existing.get(row.ifindex)
        if iface is None:
            iface = Interface(device_id=device_id, ifindex=row.ifindex)
            session.add(iface)
        iface.name = row.name[:200]
        iface.alias = row.alias[:200]
        iface.speed_bps = row.speed_bps
        iface.admin_up = row.admin_up
        iface.oper_up = row.oper_up
        if row.last_change_ticks is not None and uptime_ticks is not None and uptime_ticks >= row.last_change_ticks:
            iface.last_change = at - timedelta(seconds=(uptime_ticks - row.last_change_ticks) / 100)
        iface.updated_at = at


def record_poller_status(session: Session, **values: Any) -> PollerStatus:
    """Update the poller's own health row (no commit)."""
    status = session.get(PollerStatus, 1)
    if status is None:
        status = PollerStatus(id=1)
        session.add(status)
    for key, value in values.items():
        setattr(status, key, value)
    return status


# --- history ------------------------------------------------------------------------------------------


def _bucket(at: datetime, step: int) -> datetime:
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % step, UTC)


def compact_history(session: Session, *, now: datetime | None = None, raw_keep: timedelta = RAW_KEEP,
                    step_s: int = DOWNSAMPLE_STEP_S, keep: timedelta = DOWNSAMPLED_KEEP) -> int:
    """Average raw rows older than ``raw_keep`` into ``step_s`` buckets, prune old rows; return raw rows folded."""
    now = now or utcnow()
    cutoff = _bucket(now - raw_keep, step_s)  # whole buckets only: a bucket is never folded twice
    folded = 0
    device_ids = session.execute(
        select(MetricHistory.device_id).where(MetricHistory.resolution_s == 0, MetricHistory.at < cutoff).distinct()
    ).scalars().all()
    for device_id in device_ids:
        rows = session.execute(
            select(MetricHistory.at, MetricHistory.values)
            .where(MetricHistory.device_id == device_id, MetricHistory.resolution_s == 0, MetricHistory.at < cutoff)
        ).all()
        buckets: dict[datetime, dict[str, list[float]]] = {}
        for at, values in rows:
            acc = buckets.setdefault(_bucket(at, step_s), {})
            for key, value in values.items():
                acc.setdefault(key, []).append(float(value))
        for start, acc in buckets.items():
            session.add(MetricHistory(device_id=device_id, at=start, resolution_s=step_s,
                                      values={k: sum(v) / len(v) for k, v in acc.items()}))
        session.execute(delete(MetricHistory).where(
            MetricHistory.device_id == device_id, MetricHistory.resolution_s == 0, MetricHistory.at < cutoff))
        folded += len(rows)
    session.execute(delete(MetricHistory).where(MetricHistory.resolution_s > 0, MetricHistory.at < now - keep))
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
    rows = session.execute(
        select(MetricHistory.at, MetricHistory.values)
        .where(MetricHistory.device_id == device_id, MetricHistory.at >= start, MetricHistory.at <= end)
        .order_by(MetricHistory.at)
    ).all()
    found: dict[str, dict[datetime, list[float]]] = {}
    for at, values in rows:
        for key, value in values.items():
            name, key_labels = parse_series_key(key)
            if name != metric or any(key_labels.get(k) != v for k, v in wanted.items()):
                continue
            found.setdefault(key, {}).setdefault(_bucket(at, step_s), []).append(float(value))
    out = []
    for key in sorted(found):
        name, key_labels = parse_series_key(key)
        points = [(t, sum(v) / len(v)) for t, v in sorted(found[key].items())]
        out.append(Series(name, key_labels, points))
    return out


def get_interface(session: Session, interface_id: int) -> Interface:
    """Return an interface or raise NotFoundError."""
    iface = session.get(Interface, interface_id)
    if iface is None:
        raise NotFoundError(f"interface {interface_id} not found")
    return iface
