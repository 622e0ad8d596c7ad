"""Evaluate profiles (pure): the varbinds a poll read in; samples, facts, counters, sensors and interface rows out.

:func:`evaluate` reads the varbinds of every selected profile; :func:`finish` turns the raw counters into
rates against the previous poll and adds the sensor samples.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from dcops.monitoring.profile_schema import _OID, COUNTER_TYPES, Derived, Profile, SampleSpec, Scalar, Source, Table
from dcops.monitoring.rates import Reading, counter_rate
from dcops.monitoring.sensors import (
    SensorReading,
    SensorSpec,
    VarbindLike,
    Where,
    number,
    reading,
    row_ok,
    table_sensors,
    text,
    unique_subjects,
    usable,
    with_index,
)
from dcops.monitoring.table_joins import (
    joined,
    less_rows_sum,
    walked_tables,
)
from dcops.monitoring.types import Sample

# --- evaluation ------------------------------------------------------------------------------------


@dataclass
class InterfaceRow:
    """One IF-MIB interface as read (for the Interface table)."""

    ifindex: int
    name: str
    alias: str = ""
    speed_bps: int | None = None
    admin_up: bool | None = None
    oper_up: bool | None = None
    last_change_ticks: int | None = None


@dataclass
class Evaluation:
    """What one poll's varbinds give before rates: samples, facts, counters, interfaces and table sizes."""

    samples: list[Sample] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)
    counters: dict[str, tuple[int, int, float]] = field(default_factory=dict)
    #: counter key -> (metric, labels, scale, max raw rate or None)
    rate_specs: dict[str, tuple[str, tuple[tuple[str, str], ...], float, float | None]] = field(default_factory=dict)
    interfaces: list[InterfaceRow] = field(default_factory=list)
    table_rows: dict[str, int] = field(default_factory=dict)
    derived: list[Derived] = field(default_factory=list)
    sensors: list[SensorReading] = field(default_factory=list)


def _mapped(raw: float, mapping: Mapping[str, float] | None, default: float | None) -> float | None:
    if mapping is None:
        return raw
    key = str(int(raw)) if raw == int(raw) else str(raw)
    return mapping.get(key, default)


def _row_ok(where: Where | None, row: Mapping[str, VarbindLike]) -> bool:
    return row_ok(where, row)


def _sensor_value(row: Mapping[str, VarbindLike], source: Source) -> float | None:
    # entPhySensorScale: 1 yocto .. 9 units .. 17 yotta, steps of 10**3; precision: decimal places
    raw = number(row.get(source.column or ""))
    if raw is None:
        return None
    exponent = number(row.get("entPhySensorScale"))
    precision = number(row.get("entPhySensorPrecision")) or 0
    power = 3 * (int(exponent) - 9) if exponent is not None else 0
    return raw * (10.0 ** power) / (10.0 ** precision)


def _labels_of(table: Table, index: str, row: Mapping[str, VarbindLike]) -> tuple[tuple[str, str], ...]:
    out = []
    for label, columns in table.labels.items():
        value = next((text(row.get(c)) for c in columns if text(row.get(c))), "") or index
        out.append((label, value))
    return tuple(out)


def _counter_key(metric: str, labels: tuple[tuple[str, str], ...], source: str) -> str:
    return metric + "|" + ",".join(f"{k}={v}" for k, v in labels) + "|" + source


def _row_value(spec: SampleSpec, row: Mapping[str, VarbindLike], less: float = 0.0
               ) -> tuple[float, VarbindLike | None, str] | None:
    """Return (value, the varbind it came from, source column) for one row, or None."""
    if spec.ratio is not None:
        num, den = number(row.get(spec.ratio[0])), number(row.get(spec.ratio[1]))
        if num is None or not den:
            return None
        return max(num - less, 0.0) / den * spec.scale, None, spec.ratio[0]
    if spec.used_ratio:
        total, free = number(row.get(spec.used_ratio[0])), [number(row.get(c)) for c in spec.used_ratio[1:]]
        if not total or any(f is None for f in free):
            return None
        return (total - sum(f for f in free if f is not None)) / total * spec.scale, None, spec.used_ratio[0]
    for source in spec.sources:
        vb = row.get(source.column or "")
        raw = _sensor_value(row, source) if spec.sensor else number(vb)
        if not usable(number(vb), source.skip) or raw is None or (source.nonzero and raw == 0):
            continue
        raw = raw / source.divisor
        value = _mapped(raw, source.map, source.default)
        if value is None:
            return None
        return value * source.scale * spec.scale, vb, source.column or ""
    return None


def _table_samples(table: Table, rows: Mapping[str, Mapping[str, VarbindLike]], at: float, out: Evaluation,
                   profile: str = "") -> None:
    kept = {index: row for index, row in rows.items() if _row_ok(table.where, with_index(index, row))
            and row_ok(table.where_not, with_index(index, row), negate=True)
            and not any(re.search(pattern, text(row.get(column))) for column, pattern in table.exclude.items())
            and all(_holds(row, entry) for entry in table.require)}
    for spec in table.samples:
        values: list[float] = []
        less = less_rows_sum(spec, kept)
        for index, row in kept.items():
            if not _row_ok(spec.where, row):
                continue
            found = _row_value(spec, row, less)
            if found is None:
                continue
            value, vb, column = found
            labels = _labels_of(table, index, row)
            if spec.kind == "rate":
                if vb is None or vb.type.lower() not in COUNTER_TYPES:
                    continue
                key = _counter_key(spec.metric, labels, column)
                out.counters[key] = (int(vb.value), COUNTER_TYPES[vb.type.lower()], at)
                scale = _scale_of(spec, column)
                out.rate_specs[key] = (spec.metric, labels, scale, _limit(spec, labels, out, scale))
            elif spec.aggregate:
                values.append(value)
            else:
                out.samples.append(Sample(spec.metric, value, labels))
        if spec.aggregate and values:
            agg = {"avg": sum(values) / len(values), "sum": sum(values), "max": max(values), "min": min(values)}
            out.samples.append(Sample(spec.metric, agg[spec.aggregate]))
    for fact in table.facts:
        for row in kept.values():
            fact_text = text(row.get(fact.column))
            if fact_text and _row_ok(fact.where, row) and fact.fact not in out.facts:
                out.facts[fact.fact] = fact_text
    if table.interfaces:
        out.interfaces.extend(_interfaces(table, kept))
    if table.sensors:
        out.sensors.extend(table_sensors(table.sensors, table.columns, kept, profile))


def _holds(row: Mapping[str, VarbindLike], entry: str | tuple[str, ...]) -> bool:
    return any(text(row.get(column)) for column in ((entry,) if isinstance(entry, str) else entry))


def _scale_of(spec: SampleSpec, column: str) -> float:
    source = next((s for s in spec.sources if s.column == column), None)
    return (source.scale if source else 1.0) * spec.scale


def _limit(spec: SampleSpec, labels: tuple[tuple[str, str], ...], out: Evaluation, scale: float) -> float | None:
    if not spec.max_rate_from:
        return None
    bound = next((s.value for s in out.samples if s.metric == spec.max_rate_from and s.labels == labels), None)
    return bound / scale if bound else None


def _interfaces(table: Table, rows: Mapping[str, Mapping[str, VarbindLike]]) -> list[InterfaceRow]:
    found = []
    for index, row in rows.items():
        try:
            ifindex = int(index)
        except ValueError:
            continue
        speed = number(row.get("ifHighSpeed"))
        speed = speed * 1e6 if speed else number(row.get("ifSpeed"))
        admin, oper, change = number(row.get("ifAdminStatus")), number(row.get("ifOperStatus")), number(
            row.get("ifLastChange"))
        found.append(InterfaceRow(
            ifindex=ifindex,
            name=dict(_labels_of(table, index, row)).get("ifname", index),
            alias=text(row.get("ifAlias")),
            speed_bps=int(speed) if speed is not None else None,
            admin_up=None if admin is None else admin == 1,
            oper_up=None if oper is None else oper == 1,
            last_change_ticks=None if change is None else int(change),
        ))
    return found


def evaluate(
    profiles: Iterable[Profile],
    *,
    scalars: Mapping[str, VarbindLike],
    tables: Mapping[str, Mapping[str, Mapping[str, VarbindLike]]],
    at: float,
) -> Evaluation:
    """Turn what was read (scalars by OID; tables by name -> index -> column name) into an Evaluation."""
    out = Evaluation()
    profiles = list(profiles)
    owners: list[str] = []  # the profile of each sample, for ``supersedes``
    for profile in profiles:
        for spec in profile.scalars:
            vb = scalars.get(spec.oid.strip("."))
            if spec.fact is not None:
                if text(vb):
                    out.facts[spec.fact] = text(vb)
                continue
            if spec.unless is not None and usable(number(scalars.get(spec.unless.strip("."))), ()):
                continue
            if spec.sensor is not None:
                _scalar_sensor(spec, spec.sensor, vb, scalars, profile.name, out)
            raw = number(vb)
            if raw is None or spec.metric is None or not usable(raw, spec.skip):
                continue
            raw = raw / spec.divisor
            if spec.kind == "rate":
                if vb is not None and vb.type.lower() in COUNTER_TYPES:
                    key = _counter_key(spec.metric, (), spec.oid)
                    out.counters[key] = (int(vb.value), COUNTER_TYPES[vb.type.lower()], at)
                    out.rate_specs[key] = (spec.metric, (), spec.scale, None)
                continue
            value = _mapped(raw, spec.map, spec.default)
            if value is not None:
                out.samples.append(Sample(spec.metric, value * spec.scale))
        for table in profile.tables:
            rows = joined(table, tables)
            out.table_rows[table.name] = len(rows)
            for extra, _ in walked_tables(table)[1:]:
                out.table_rows[extra] = len(tables.get(extra, {}))
            _table_samples(table, rows, at, out, profile.name)
        out.derived.extend(profile.derived)
        owners += [profile.name] * (len(out.samples) - len(owners))
    _supersede(profiles, owners, out)
    out.samples += sensor_samples(out.sensors, out.samples)
    return out


def _supersede(profiles: list[Profile], owners: list[str], out: Evaluation) -> None:
    """Drop other profiles' samples of a metric that a superseding profile gave (``owners``: profile per sample)."""
    for profile in profiles:
        for metric in profile.supersedes:
            if any(s.metric == metric and o == profile.name for s, o in zip(out.samples, owners, strict=True)):
                kept = [(s, o) for s, o in zip(out.samples, owners, strict=True)
                        if s.metric != metric or o == profile.name]
                out.samples, owners[:] = [s for s, _ in kept], [o for _, o in kept]


def _scalar_sensor(spec: Scalar, sensor: SensorSpec, vb: VarbindLike | None, scalars: Mapping[str, VarbindLike],
                   profile: str, out: Evaluation) -> None:
    oid = spec.oid.strip(".")
    row: dict[str, VarbindLike] = {}
    limits = {}
    for name in ("high", "low", "high_warn", "low_warn"):
        value = getattr(sensor, name)
        if isinstance(value, str) and _OID.match(value):
            key = f"_limit_{name}"
            found = scalars.get(value.strip("."))
            if found is not None:
                row[key] = found
            limits[name] = key
    spec_used = sensor.model_copy(update=limits) if limits else sensor
    index = oid.rsplit(".", 1)[-1]
    sensor_reading = reading(spec_used, index=index, row=row, vb=vb, oid=oid, profile=profile)
    if sensor_reading is not None:
        out.sensors.append(sensor_reading)


#: sensor classes also exported under the metric names dcops used before sensors (kept for dashboards and rules)
LEGACY_METRICS = {"temperature": "temperature_celsius", "fan": "fan_rpm"}
_STATE_CODES = {"ok": 0.0, "warning": 1.0, "critical": 2.0, "unknown": 3.0}


def sensor_samples(readings: list[SensorReading], samples: Iterable[Sample] = ()) -> list[Sample]:
    """Return the samples of the sensor readings: ``sensor_value``/``sensor_state`` by class and description,
    plus ``temperature_celsius`` and ``fan_rpm`` where no sample of that name was read another way."""
    taken = {(s.metric, s.labels) for s in samples}
    out = []
    for subject, r in unique_subjects(readings).items():
        if r.sensor_class == "state":
            out.append(Sample("sensor_state", _STATE_CODES.get(r.severity, 3.0), (("sensor", subject),)))
            continue
        out.append(Sample("sensor_value", r.value, (("class", r.sensor_class), ("sensor", subject))))
        legacy = LEGACY_METRICS.get(r.sensor_class)
        if legacy and (legacy, (("sensor", subject),)) not in taken:
            out.append(Sample(legacy, r.value, (("sensor", subject),)))
    return out


def finish(
    evaluation: Evaluation,
    previous_counters: Mapping[str, tuple[int, int, float]] | None,
    *,
    rebooted: bool,
) -> list[Sample]:
    """Return the evaluation's samples plus counter rates (summed per metric and labels) and derived metrics."""
    samples = list(evaluation.samples)
    previous = previous_counters or {}
    sums: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    missing: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for key, (value, bits, at) in evaluation.counters.items():
        metric, labels, scale, limit = evaluation.rate_specs[key]
        before = previous.get(key)
        prev = Reading(int(before[0]), int(before[1]), float(before[2])) if before else None
        rate = counter_rate(prev, Reading(value, bits, at), rebooted=rebooted, max_rate=limit)
        if rate is None:
            missing.add((metric, labels))
        else:
            sums[(metric, labels)] = sums.get((metric, labels), 0.0) + rate * scale
    samples += [Sample(m, v, labels) for (m, labels), v in sums.items() if (m, labels) not in missing]
    by_key = {(s.metric, s.labels): s.value for s in samples}
    for spec in evaluation.derived:
        for (metric, labels), per in list(by_key.items()):
            if metric != spec.per or not per:
                continue
            parts = [by_key.get((m, labels)) for m in spec.max_of]
            if any(p is None for p in parts):
                continue
            samples.append(Sample(spec.metric, max(p for p in parts if p is not None) / per * spec.scale, labels))
    return samples
