"""Prometheus ``/metrics``: a prometheus-client custom collector over dcops' latest state.

A scrape never polls a device and never reads history. The writer renders each device's lines when it
records a poll (:func:`device_fragment`, stored in ``device_state.exposition``); the process serving
``/metrics`` keeps those fragments in memory and, per scrape, reads only the (id, last poll, labels) of
each device and the fragments of the devices polled since its last scrape, then joins them per family.
A scrape at 10,000 devices is a join of strings, not 10,000 x 100 metric objects. The body is cached
for ``CACHE_S`` seconds, so several Prometheus servers scraping at once cost one read.
``prometheus_client`` is imported here only. Mount :data:`metrics_router` on the application root
(``app.include_router(metrics_router)``); it asks for a staff bearer token like the API.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from fastapi import Depends, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import BindParameter, bindparam, func, select
from sqlmodel import Session, col

from dcops.auth.actor import Actor
from dcops.auth.choices import STAFF
from dcops.auth.deps import Allow
from dcops.capacity.headroom import headroom
from dcops.database import SessionDep
from dcops.dcim.choices import DeviceRole
from dcops.dcim.models import Device, DeviceType, Rack, Site
from dcops.monitoring.alert_models import Alert, AlertState
from dcops.monitoring.state_models import DeviceState, PollerStatus
from dcops.monitoring.types import METRICS, PROMETHEUS_EXTRA
from dcops.routing import ApiRouter

log = logging.getLogger("dcops.metrics")
CACHE_S = 5.0
PREFIX = "dcops_"


@dataclass
class Snapshot:
    """What one scrape exports, read from the database in a few queries."""

    devices: list[tuple[str, str, str, list[Any]]] = field(default_factory=list)  # name, site, role, samples
    poller: dict[str, Any] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)
    racks: list[tuple[str, str, float, float]] = field(default_factory=list)  # site, rack, draw, budget
    clusters: list[tuple[str, str, float, float]] = field(default_factory=list)  # cluster, resource, cap, alloc
    traps: dict[str, int] = field(default_factory=dict)


def _alerts(session: Session) -> dict[str, int]:
    rows = session.execute(select(col(Alert.severity), func.count()).where(
        col(Alert.state).in_((AlertState.FIRING, AlertState.ACKNOWLEDGED)))
        .group_by(col(Alert.severity))).all()
    return {str(sev): int(n) for sev, n in rows}


def _racks(session: Session, pdu_watts: dict[int, float]) -> list[tuple[str, str, float, float]]:
    rows = session.execute(
        select(col(Rack.id), col(Rack.name), col(Site.name), col(Rack.power_budget_w))
        .join(Site, col(Site.id) == col(Rack.site_id))
    ).all()
    nameplate: dict[int | None, float] = {rack_id: float(watts) for rack_id, watts in session.execute(
        select(col(Device.rack_id), func.coalesce(func.sum(col(DeviceType.max_power_w)), 0)).join(DeviceType)
        .where(col(Device.rack_id).is_not(None)).group_by(col(Device.rack_id))).all()}
    pdus = session.execute(select(col(Device.id), col(Device.rack_id)).where(col(Device.role) == DeviceRole.PDU)
                           ).all()
    measured: dict[int, float] = {}
    for device_id, rack_id in pdus:
        if rack_id is not None and device_id in pdu_watts:
            measured[rack_id] = measured.get(rack_id, 0.0) + pdu_watts[device_id]
    return [(site, name, measured.get(rid, float(nameplate.get(rid, 0))), float(budget))
            for rid, name, site, budget in rows]


_clusters_failing = False


def _clusters(session: Session) -> list[tuple[str, str, float, float]]:
    global _clusters_failing
    try:
        report = headroom(session)
    except Exception:  # capacity data incomplete: the rest of /metrics still answers
        # said once per failing spell (each scrape would repeat it), then again after it recovered
        log.log(logging.DEBUG if _clusters_failing else logging.WARNING,
                "no cluster capacity for /metrics; its cluster families stay empty", exc_info=True)
        _clusters_failing = True
        return []
    _clusters_failing = False
    return [(c.name, r, float(v.get("usable", 0.0)), float(v.get("allocated", 0.0)))
            for c in report.clusters for r, v in c.resources.items()]


def read_snapshot(session: Session) -> Snapshot:
    """Read everything /metrics exports."""
    snap = Snapshot()
    rows = session.execute(
        select(col(Device.id), col(Device.name), col(Site.name), col(Device.role), col(DeviceState.samples))
        .join(DeviceState, col(DeviceState.device_id) == col(Device.id))
        .join(Site, col(Site.id) == col(Device.site_id))
    ).all()
    pdu_watts: dict[int, float] = {}
    for device_id, name, site, role, samples in rows:
        snap.devices.append((name, site, str(role), samples or []))
        for metric, _labels, value in samples or []:
            if metric == "pdu_power_watts":
                pdu_watts[device_id] = float(value)
    extras = _extras(session, pdu_watts)
    snap.poller, snap.alerts, snap.racks = extras.poller, extras.alerts, extras.racks
    snap.clusters, snap.traps = extras.clusters, extras.traps
    session.rollback()
    return snap


class StateCollector(Collector):
    """A prometheus-client collector yielding the families of one snapshot."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        families: dict[str, GaugeMetricFamily] = {}
        for metric, (help_text, labels) in METRICS.items():
            families[metric] = GaugeMetricFamily(PREFIX + metric, help_text, labels=["device", "site", "role", *labels])
        for name, site, role, samples in snap.devices:
            for metric, labels, value in samples:
                family = families.get(metric)
                if family is None:
                    continue
                own = METRICS[metric][1]
                family.add_metric([name, site, role, *(str(labels.get(k, "")) for k in own)], float(value))
        yield from families.values()
        yield from self._extra(snap)

    def _extra(self, snap: Snapshot) -> Iterator[Metric]:
        def gauge(name: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, PROMETHEUS_EXTRA[name][0], labels=list(PROMETHEUS_EXTRA[name][1]))

        def counter(name: str) -> CounterMetricFamily:
            return CounterMetricFamily(name.removesuffix("_total"), PROMETHEUS_EXTRA[name][0],
                                       labels=list(PROMETHEUS_EXTRA[name][1]))

        alerts = gauge("dcops_alerts_firing")
        for severity in ("critical", "warning", "info"):
            alerts.add_metric([severity], float(snap.alerts.get(severity, 0)))
        yield alerts
        poller = snap.poller
        devices = gauge("dcops_poller_devices")
        devices.add_metric([], float(poller.get("devices", 0)))
        cycle = gauge("dcops_poller_cycle_duration_seconds")
        cycle.add_metric([], float(poller.get("cycle", 0.0)))
        polls = counter("dcops_poller_polls_total")
        polls.add_metric([], float(poller.get("polls", 0)))
        errors = counter("dcops_poller_errors_total")
        for reason in sorted(set(poller.get("errors", {})) | {"timeout", "auth", "error"}):
            errors.add_metric([reason], float(poller.get("errors", {}).get(reason, 0)))
        overruns = counter("dcops_poller_overruns_total")
        overruns.add_metric([], float(poller.get("overruns", 0)))
        traps = counter("dcops_traps_received_total")
        for source in ("known", "unknown"):
            traps.add_metric([source], float(snap.traps.get(source, 0)))
        draw, budget = gauge("dcops_rack_power_draw_watts"), gauge("dcops_rack_power_budget_watts")
        for site, rack, watts, limit in snap.racks:
            draw.add_metric([site, rack], watts)
            budget.add_metric([site, rack], limit)
        capacity, allocated = gauge("dcops_cluster_capacity"), gauge("dcops_cluster_allocated")
        for cluster, resource, cap, alloc in snap.clusters:
            capacity.add_metric([cluster, resource], cap)
            allocated.add_metric([cluster, resource], alloc)
        yield from (devices, cycle, polls, errors, overruns, traps, draw, budget, capacity, allocated)


# --- device lines, rendered by the writer ------------------------------------------------------------

#: a fragment is one column per family of METRICS, in METRICS' order, after a tag naming that order: a scrape
#: splits each device's fragment once and transposes the columns (no per-line work in Python)
_FAMILIES = tuple(METRICS)
_INDEX = {family: i for i, family in enumerate(_FAMILIES)}
_FAMILY = {family: (i, tuple(METRICS[family][1])) for i, family in enumerate(_FAMILIES)}  # column, own labels
_SEP = "\x1f"
_TAG = "m" + hashlib.sha1("\n".join(_FAMILIES).encode()).hexdigest()[:10]  # a fragment of another order is stale
_PDU = _INDEX.get("pdu_power_watts")
_NONE = (b"",) * len(_FAMILIES)
#: a scrape works on bytes from the database to the body: no decoding of fragments, no encoding of the body
_BSEP, _BTAG = _SEP.encode(), _TAG.encode()
_HEADERS = tuple(f"# HELP {PREFIX}{m} {METRICS[m][0]}\n# TYPE {PREFIX}{m} gauge\n".encode() for m in _FAMILIES)


def _escape(value: str) -> str:
    if "\\" not in value and "\n" not in value and '"' not in value:
        return value  # the usual case: nothing to escape, no copies
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _base(name: str, site: str, role: str) -> str:
    return f'device="{_escape(name)}",site="{_escape(site)}",role="{_escape(role)}"'


def device_fragment(name: str, site: str, role: str, samples: list[Any]) -> str:
    """Render one device's exposition lines: a tag, then one column of lines per family (``tag US col US col ...``)."""
    from prometheus_client.utils import floatToGoString

    base = _base(name, site, role)
    columns: list[list[str]] = [[] for _ in _FAMILIES]
    for metric, labels, value in samples:
        family = _FAMILY.get(metric)
        if family is None:
            continue
        index, keys = family
        own = "".join([f',{k}="{_escape(str(labels.get(k, "")))}"' for k in keys]) if keys else ""
        columns[index].append(f"{PREFIX}{metric}{{{base}{own}}} {floatToGoString(value)}\n")
    return _SEP.join([_TAG, *("".join(c) for c in columns)])


def _columns(data: bytes) -> tuple[bytes, ...] | None:
    """A stored fragment's columns (UTF-8), or None when it was written for another list of families."""
    if not data:
        return _NONE
    parts = data.split(_BSEP)
    if parts[0] != _BTAG or len(parts) != len(_FAMILIES) + 1:
        return None
    return tuple(parts[1:])


def _first_value(lines: bytes) -> float | None:
    """The value of the first line of a family's lines (``name{labels} value``), or None."""
    if not lines:
        return None
    try:
        return float(lines.split(b"\n", 1)[0].rsplit(b" ", 1)[1])
    except (IndexError, ValueError):
        return None


class _Entry(NamedTuple):
    """One device's cached lines (a tuple of plain values: the garbage collector stops tracking it)."""

    key: tuple[Any, ...]  # last poll, name, site, role: the fragment is current while these are
    lines: tuple[bytes, ...]  # one column per family, UTF-8
    pdu_watts: float | None


@dataclass
class _DeviceCache:
    entries: dict[int, _Entry] = field(default_factory=dict)


_caches: dict[str, _DeviceCache] = {}


def _fragments(session: Session, changed: list[int], total: int) -> list[tuple[int, bytes | None]]:
    """Read the stored fragments of ``changed`` as UTF-8 bytes (all in one read when they are most of ``total``)."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":  # UTF-8 bytes straight from the server (binary rows: no hex, no decoding)
        raw = conn.connection.driver_connection
        where = "" if len(changed) * 2 >= total else " WHERE device_id = ANY(%s)"
        assert raw is not None  # a live connection of this session: psycopg's own
        with raw.cursor(binary=True) as cur:
            cur.execute("SELECT device_id, convert_to(exposition, 'UTF8') FROM device_state" + where,
                        [changed] if where else None)
            found = cur.fetchall()
        wanted = set(changed)
        return [(int(d), data) for d, data in found if d in wanted]
    query = select(col(DeviceState.device_id), col(DeviceState.exposition))  # Core rows: no ORM work per row
    rows: list[Any] = []
    for start in range(0, len(changed), 1000):
        # ints inline (literal_execute): one statement shape per chunk size, not per id list
        ids: BindParameter[int] = bindparam("ids", changed[start:start + 1000], expanding=True, literal_execute=True)
        rows.extend(conn.execute(query.where(col(DeviceState.device_id).in_(ids))).all())
    return [(d, None if text is None else text.encode()) for d, text in rows]


def _refresh(session: Session, cache: _DeviceCache) -> dict[int, float]:
    """Bring the device fragments up to date (only devices polled since the last scrape); return PDU watts."""
    rows = session.connection().execute(
        select(col(Device.id), col(DeviceState.last_poll_at), col(Device.name), col(Site.name), col(Device.role))
        .join(DeviceState, col(DeviceState.device_id) == col(Device.id))
        .join(Site, col(Site.id) == col(Device.site_id))
    ).all()
    keys = {device_id: (at, name, site, str(role)) for device_id, at, name, site, role in rows
            if device_id is not None}
    changed = [d for d, key in keys.items() if (e := cache.entries.get(d)) is None or e.key != key]
    redo: list[int] = []
    for device_id, exposition in _fragments(session, changed, len(keys)) if changed else ():
        key = keys[device_id]
        _at, name, site, role = key
        # the writer's fragment is used while its labels still hold (a renamed device is rendered here)
        lines = _columns(exposition) if exposition is not None and (
            not exposition or _base(name, site, role).encode() in exposition) else None
        if lines is None:
            redo.append(device_id)  # no fragment yet (recorded by another path), or a stale one
            continue
        watts = _first_value(lines[_PDU]) if _PDU is not None and role == DeviceRole.PDU else None
        cache.entries[device_id] = _Entry(key, lines, watts)
    for start in range(0, len(redo), 1000):
        for device_id, samples in session.execute(
                select(col(DeviceState.device_id), col(DeviceState.samples))
                .where(col(DeviceState.device_id).in_(redo[start:start + 1000]))).all():
            key = keys[device_id]
            _at, name, site, role = key
            lines = _columns(device_fragment(name, site, role, samples or []).encode()) or _NONE
            watts = _first_value(lines[_PDU]) if _PDU is not None and role == DeviceRole.PDU else None
            cache.entries[device_id] = _Entry(key, lines, watts)
    for device_id in [d for d in cache.entries if d not in keys]:
        del cache.entries[device_id]
    return {d: e.pdu_watts for d, e in cache.entries.items() if e.pdu_watts is not None}


def _extras(session: Session, pdu_watts: dict[int, float]) -> Snapshot:
    snap = Snapshot()
    status = session.get(PollerStatus, 1)
    if status is not None:
        snap.poller = {"devices": status.devices, "cycle": status.cycle_duration_s, "polls": status.polls_total,
                       "overruns": status.overruns_total, "errors": dict(status.errors_total or {})}
    snap.alerts = _alerts(session)
    snap.racks = _racks(session, pdu_watts)
    snap.clusters = _clusters(session)
    traps = sys.modules.get("dcops.monitoring.traps")  # counted by the receiver of this process, if it runs one
    snap.traps = dict(getattr(traps, "COUNTS", {}))  # (importing it here would load pysnmp for nothing)
    return snap


class _ExtraCollector(StateCollector):
    def collect(self) -> Iterator[Metric]:
        yield from self._extra(self.snapshot)


_cache: tuple[float, str, bytes] | None = None
_lock = threading.Lock()


def render(session: Session) -> bytes:
    """Return the exposition text of the current state (cached for ``CACHE_S`` seconds per database)."""
    global _cache
    url = str(session.get_bind().engine.url)
    with _lock:
        if _cache is not None and _cache[1] == url and time.monotonic() - _cache[0] < CACHE_S:
            return _cache[2]
        cache = _caches.setdefault(url, _DeviceCache())
        pdu_watts = _refresh(session, cache)
        lines = [e.lines for e in cache.entries.values()]
        columns = zip(*lines, strict=True) if lines else iter([()] * len(_FAMILIES))
        parts: list[bytes] = []
        for header, column in zip(_HEADERS, columns, strict=True):  # the devices' columns, transposed per family
            parts.append(header)
            parts.append(b"".join(column))
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_ExtraCollector(_extras(session, pdu_watts)))
        session.rollback()
        parts.append(generate_latest(registry))
        body = b"".join(parts)
        _cache = (time.monotonic(), url, body)
        return body


def clear_cache() -> None:
    """Forget the cached exposition and device fragments (tests)."""
    global _cache
    _cache = None
    _caches.clear()


metrics_router = ApiRouter(tags=["monitoring"])


@metrics_router.get("/metrics", include_in_schema=False)
def metrics_endpoint(session: SessionDep, actor: Actor = Depends(Allow(STAFF))) -> Response:
    """Expose dcops' metrics to Prometheus (bearer token of a staff role)."""
    return Response(content=render(session), media_type=CONTENT_TYPE_LATEST)
