"""Polling profiles as data: which OIDs to read for a device and how to turn them into samples and facts.

A profile is a YAML file (schema: :class:`Profile`). The package ships its profiles in
``dcops/monitoring/profiles/``; a user adds or replaces profiles with a directory named by the
environment variable ``DCOPS_MONITORING_PROFILE_DIR`` (a user file with the name of a shipped
profile replaces it). A device gets every profile whose ``match`` fits its role and sysObjectID,
minus those that a selected profile ``overrides`` (a vendor UPS profile overrides the generic one).

Evaluation is pure: :func:`evaluate` takes the varbinds read and returns samples, facts, raw
counters and interface rows; :func:`finish` turns counters into rates against the previous poll.

Tables whose rows are not one per sensor:

- Every row has the pseudo-columns ``index`` and ``index[0]``, ``index[1]``... (the arcs of its index),
  usable in ``where``/``where_not`` like a column: ``where: {column: 'index[1]', in: [5]}`` keeps the rows
  of a table indexed ifIndex.testType whose test type is 5.
- ``lookups: {name: {oid, index}}`` joins a column of another table to each row, the row of that table
  given by a template of the row's index (``index: '{index[0]}'``); the name is then used like a column
  (descriptions, filters). Each lookup column is walked once per poll (table name + ``:lookup``).
- ``thresholds: {severity, relation, value, severities, relations}`` reads the device's limits from a
  table indexed by the row index plus one sub-index (one row per limit, with its severity and relation
  codes); ``severities`` maps codes to warning/critical, ``relations`` to high/low. Limits are scaled like
  the sensor's value and fill the limits a sensor does not give itself (the lowest high and the highest
  low win where several rows give one). Walked as table name + ``:thresholds``.

Sensor additions: a state sensor's ``states`` may map words (``OK``, ``Normal``, ``Critical``; matched
without case) as well as numbers; ``exponent: column`` multiplies the value (and its limits) by
10**(that column), for MIBs with a per-row unit multiplier. A ``ratio`` sample may take ``less_rows``
(``{value, match}``): the sum of ``value`` over the rows whose columns match those regexes is taken out of
the numerator (hrStorage buffers and cache out of RAM used).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import field_validator, model_validator

from dcops.exceptions import ConfigurationError
from dcops.monitoring.rates import Reading, counter_rate
from dcops.monitoring.sensors import (
    ABSENT_TYPES,
    INDEX_COLUMN,
    SensorReading,
    SensorSpec,
    VarbindLike,
    Where,
    _Strict,
    number,
    present,
    reading,
    row_ok,
    table_sensors,
    text,
    unique_subjects,
    usable,
    with_index,
)
from dcops.monitoring.table_joins import (
    LessRows,
    Lookup,
    ThresholdTable,
    joined,
    less_rows_sum,
    walked_tables,
)
from dcops.monitoring.types import METRICS, Sample

__all__ = ["ABSENT_TYPES", "Detect", "Profile", "SensorReading", "SensorSpec", "Table", "VarbindLike", "Where",
           "evaluate", "finish", "joined", "load_profiles", "number", "present", "select_profiles", "text",
           "walked_tables"]

SHIPPED_DIR = Path(__file__).parent / "profiles"
USER_DIR_ENV = "DCOPS_MONITORING_PROFILE_DIR"
COUNTER_TYPES = {"counter32": 32, "counter64": 64}
_OID = re.compile(r"^\.?\d+(\.\d+)+$")

# --- schema ----------------------------------------------------------------------------------------


def _oid_prefix(oid: str, prefixes: Iterable[str]) -> str | None:
    """Return the first prefix ``oid`` lies under (at an arc boundary), or None."""
    oid = oid.strip(".")
    for p in prefixes:
        p = p.strip(".")
        if oid == p or oid.startswith(p + "."):
            return p
    return None


class Match(_Strict):
    """Which devices a profile is for: any listed role (none listed: every role) and sysObjectID prefix."""

    roles: tuple[str, ...] = ()
    sys_object_id: tuple[str, ...] = ()

    def fits(self, role: str, sys_object_id: str) -> bool:
        if self.roles and role not in self.roles:
            return False
        oid = sys_object_id.strip(".")
        return not self.sys_object_id or any(
            oid == p.strip(".") or oid.startswith(p.strip(".") + ".") for p in self.sys_object_id
        )


class Detect(_Strict):
    """How a profile recognises a device: role (narrows), sysObjectID prefixes, sysDescr regex, probe OIDs.

    A profile applies when the role fits AND (neither sys_object_id nor sys_descr is given, OR one of them
    matches) AND every probe OID answers a GETNEXT inside its subtree.
    """

    roles: tuple[str, ...] = ()
    sys_object_id: tuple[str, ...] = ()
    sys_descr: str | None = None
    probe: tuple[str, ...] = ()

    @field_validator("sys_descr")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"sys_descr is not a valid regular expression: {exc}") from None
        return value

    def identity(self, role: str, sys_object_id: str, sys_descr: str) -> str | None:
        """Return why the device's role and identity fit (before probes), or None when they do not."""
        if self.roles and role not in self.roles:
            return None
        if not self.sys_object_id and self.sys_descr is None:
            return f"role {role}" if self.roles else "any device"
        prefix = _oid_prefix(sys_object_id, self.sys_object_id)
        if prefix is not None:
            return f"sysObjectID under {prefix}"
        if self.sys_descr is not None and re.search(self.sys_descr, sys_descr or ""):
            return f"sysDescr matches /{self.sys_descr}/"
        return None


class Source(_Strict):
    """One place a value comes from: a table column (or a scalar OID) with optional mapping and scaling."""

    column: str | None = None
    oid: str | None = None
    scale: float = 1.0
    map: dict[str, float] | None = None
    default: float | None = None  # value for anything the map does not list (None: drop the sample)
    nonzero: bool = False  # skip this source when it reads 0 (ifHighSpeed on sub-megabit links)
    divisor: float = 1.0  # raw / divisor (vendor tenths, hundredths)
    skip: tuple[float, ...] = ()  # raw values meaning "unknown / not present" (sentinels are always skipped)


class SampleSpec(_Strict):
    """A metric taken from one row (or aggregated over the rows) of a table, or from a scalar."""

    metric: str
    kind: Literal["gauge", "rate"] = "gauge"
    sources: tuple[Source, ...] = ()
    ratio: tuple[str, str] | None = None  # (numerator column, denominator column) x scale
    #: (total column, free columns...): (total - sum of the free ones) / total x scale, e.g. memory without caches
    used_ratio: tuple[str, ...] | None = None
    #: ratio only: take from the numerator the sum of a column over other rows of the table whose text
    #: columns match (e.g. hrStorage "Memory buffers" and "Cached memory" out of the RAM's used figure)
    less_rows: LessRows | None = None
    scale: float = 1.0
    sensor: bool = False  # ENTITY-SENSOR-MIB value with entPhySensorScale and entPhySensorPrecision
    where: Where | None = None
    aggregate: Literal["avg", "sum", "max", "min"] | None = None
    max_rate_from: str | None = None  # a gauge metric of the same row bounding this rate (wrap vs reset)

    @field_validator("metric")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric '{value}' (see dcops.monitoring.types.METRICS)")
        return value


class FactSpec(_Strict):
    """A text fact (serial, model, firmware...) from a table column, first matching row."""

    fact: str
    column: str
    where: Where | None = None


class Table(_Strict):
    """A table read with GETBULK column walks; ``labels`` name each row, first non-empty column wins."""

    name: str
    columns: dict[str, str]
    #: name -> a column of another table joined by an index template (usable like a column)
    lookups: dict[str, Lookup] = {}
    thresholds: ThresholdTable | None = None
    labels: dict[str, tuple[str, ...]] = {}
    where: Where | None = None
    where_not: Where | None = None  # drop rows whose column holds one of the values
    exclude: dict[str, str] = {}  # column -> regex: drop rows whose column text matches (re.search)
    #: keep only rows where every entry holds text: a column, or a list of columns of which one must (a name)
    require: tuple[str | tuple[str, ...], ...] = ()
    samples: tuple[SampleSpec, ...] = ()
    facts: tuple[FactSpec, ...] = ()
    interfaces: bool = False  # rows are IF-MIB interfaces: keep them in the Interface table
    sensors: tuple[SensorSpec, ...] = ()

    @model_validator(mode="after")
    def _columns_known(self) -> Table:
        named = set(self.columns) | set(self.lookups)
        used: list[str] = [c for cols in self.labels.values() for c in cols]
        for spec in self.samples:
            used += [s.column for s in spec.sources if s.column] + list(spec.ratio or ()) + list(spec.used_ratio or ())
            if spec.less_rows is not None:
                used += [spec.less_rows.value, *spec.less_rows.match]
            used += [spec.where.column] if spec.where else []
        used += [f.column for f in self.facts] + [f.where.column for f in self.facts if f.where]
        used += [self.where.column] if self.where else []
        used += ([self.where_not.column] if self.where_not else []) + list(self.exclude)
        used += [c for entry in self.require for c in ((entry,) if isinstance(entry, str) else entry)]
        for column, pattern in self.exclude.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"table '{self.name}': exclude {column}: bad regular expression: {exc}") from None
        for sensor in self.sensors:
            if sensor.value is None:
                raise ValueError(f"table '{self.name}': a sensor needs 'value' (the column read)")
            used += sensor.columns_used()
        unknown = sorted(u for u in set(used) - named if not INDEX_COLUMN.match(u))
        if unknown:
            raise ValueError(f"table '{self.name}' uses undeclared columns: {', '.join(unknown)}")
        return self


class Scalar(_Strict):
    """One scalar OID giving a fact, a gauge metric or a counter turned into a rate."""

    oid: str
    fact: str | None = None
    metric: str | None = None
    kind: Literal["gauge", "rate"] = "gauge"
    scale: float = 1.0
    map: dict[str, float] | None = None
    default: float | None = None
    divisor: float = 1.0
    skip: tuple[float, ...] = ()
    sensor: SensorSpec | None = None  # a scalar sensor (limits: numbers, or scalar OIDs read beside it)
    #: a scalar OID of the same profile that, when it answers a value, makes this one redundant (e.g. a
    #: Fahrenheit column read only where the card lacks the Celsius one)
    unless: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Scalar:
        targets = [t for t in (self.fact, self.metric, self.sensor) if t is not None]
        if self.sensor is not None and self.fact is not None:
            raise ValueError(f"scalar {self.oid}: a sensor scalar cannot also be a fact")
        if not targets:
            raise ValueError(f"scalar {self.oid}: give exactly one of 'fact' or 'metric' (or a 'sensor')")
        if self.fact is not None and self.metric is not None:
            raise ValueError(f"scalar {self.oid}: give exactly one of 'fact' or 'metric'")
        if self.metric is not None and self.metric not in METRICS:
            raise ValueError(f"unknown metric '{self.metric}'")
        return self


class Derived(_Strict):
    """A metric computed from others of the same labels: max of ``max_of`` / ``per`` x scale."""

    metric: str
    max_of: tuple[str, ...]
    per: str
    scale: float = 100.0


class Profile(_Strict):
    """What to read for a family of devices (the schema of a profile YAML file)."""

    name: str
    description: str = ""
    match: Match = Match()
    detect: Detect | None = None
    overrides: tuple[str, ...] = ()
    #: metrics this profile gives better than the others: their samples from other profiles are dropped
    supersedes: tuple[str, ...] = ()
    scalars: tuple[Scalar, ...] = ()
    tables: tuple[Table, ...] = ()
    derived: tuple[Derived, ...] = ()

    @property
    def detection(self) -> Detect:
        """The profile's detection rule (``detect``, else the old ``match`` read as one)."""
        if self.detect is not None:
            return self.detect
        return Detect(roles=self.match.roles, sys_object_id=self.match.sys_object_id)


# --- loading and selection -------------------------------------------------------------------------


def _read_dir(directory: Path) -> dict[str, Profile]:
    found: dict[str, Profile] = {}
    for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
        try:
            profile = Profile.model_validate(yaml.safe_load(path.read_text()))
        except Exception as exc:
            raise ConfigurationError(f"profile {path} is not valid: {exc}") from exc
        found[profile.name] = profile
    return found


@lru_cache(maxsize=8)
def _load(user_dir: str) -> tuple[Profile, ...]:
    profiles = _read_dir(SHIPPED_DIR)
    if user_dir:
        if not Path(user_dir).is_dir():
            raise ConfigurationError(f"{USER_DIR_ENV}={user_dir} is not a directory")
        profiles |= _read_dir(Path(user_dir))
    return tuple(profiles[name] for name in sorted(profiles))


def load_profiles(user_dir: str | None = None) -> tuple[Profile, ...]:
    """Return the shipped profiles plus (replacing same names) those of the user directory."""
    return _load(user_dir if user_dir is not None else os.environ.get(USER_DIR_ENV, ""))


def select_profiles(profiles: Iterable[Profile], *, role: str, sys_object_id: str, sys_descr: str = "",
                    answered: Iterable[str] | None = None) -> list[Profile]:
    """Return the profiles fitting a device, without those overridden by another selected profile.

    ``answered`` lists the probe OIDs the device answered; None skips the probe condition (no probes sent).
    """
    return [p for p, _ in detect_profiles(profiles, role=role, sys_object_id=sys_object_id, sys_descr=sys_descr,
                                          answered=answered)]


def detect_profiles(profiles: Iterable[Profile], *, role: str, sys_object_id: str, sys_descr: str = "",
                    answered: Iterable[str] | None = None) -> list[tuple[Profile, str]]:
    """Return (profile, why it applies) for a device, without the profiles another applying one overrides."""
    done = None if answered is None else {o.strip(".") for o in answered}
    chosen: list[tuple[Profile, str]] = []
    for p in profiles:
        detect = p.detection
        why = detect.identity(role, sys_object_id, sys_descr)
        if why is None:
            continue
        probes = [o.strip(".") for o in detect.probe]
        if probes and done is not None:
            if not all(o in done for o in probes):
                continue
            why += "; " + ", ".join(f"answers {o}" for o in probes)
        chosen.append((p, why))
    dropped = {name for p, _ in chosen for name in p.overrides}
    return [(p, why) for p, why in chosen if p.name not in dropped]


def probe_oids(profiles: Iterable[Profile], *, role: str, sys_object_id: str, sys_descr: str = "") -> list[str]:
    """Every probe OID of the profiles whose role and identity fit a device (the GETNEXTs discovery sends)."""
    out: dict[str, None] = {}
    for p in profiles:
        if p.detection.identity(role, sys_object_id, sys_descr) is not None:
            out.update(dict.fromkeys(o.strip(".") for o in p.detection.probe))
    return list(out)


def scalar_oids(profiles: Iterable[Profile]) -> list[str]:
    """Every scalar OID the profiles read (with the OIDs scalar sensors take their limits from), once, in order."""
    oids: dict[str, None] = {}
    for p in profiles:
        for s in p.scalars:
            oids[s.oid.strip(".")] = None
            if s.unless is not None:
                oids[s.unless.strip(".")] = None
            if s.sensor is not None:
                limits = (s.sensor.high, s.sensor.low, s.sensor.high_warn, s.sensor.low_warn)
                oids.update(dict.fromkeys(v.strip(".") for v in limits if isinstance(v, str) and _OID.match(v)))
    return list(oids)


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
            found = text(row.get(fact.column))
            if found and _row_ok(fact.where, row) and fact.fact not in out.facts:
                out.facts[fact.fact] = found
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
    found = reading(spec_used, index=index, row=row, vb=vb, oid=oid, profile=profile)
    if found is not None:
        out.sensors.append(found)


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
