"""Polling profiles as data: which OIDs to read for a device and how to turn them into samples and facts.

A profile is a YAML file (schema: :class:`Profile`). The package ships its profiles in
``dcops/monitoring/profiles/``; a user adds or replaces profiles with a directory named by the
environment variable ``DCOPS_MONITORING_PROFILE_DIR`` (a user file with the name of a shipped
profile replaces it). A device gets every profile whose ``match`` fits its role and sysObjectID,
minus those that a selected profile ``overrides`` (a vendor UPS profile overrides the generic one).

Evaluation is pure: :func:`evaluate` takes the varbinds read and returns samples, facts, raw
counters and interface rows; :func:`finish` turns counters into rates against the previous poll.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dcops.exceptions import ConfigurationError
from dcops.monitoring.rates import Reading, counter_rate
from dcops.monitoring.types import METRICS, Sample

SHIPPED_DIR = Path(__file__).parent / "profiles"
USER_DIR_ENV = "DCOPS_MONITORING_PROFILE_DIR"
COUNTER_TYPES = {"counter32": 32, "counter64": 64}
ABSENT_TYPES = {"nosuchobject", "nosuchinstance", "endofmibview", "null"}

# --- schema ----------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class Where(_Strict):
    """Keep a table row only when ``column`` holds one of ``in_`` (numbers or text)."""

    column: str
    in_: tuple[Any, ...] = Field(alias="in")


class Source(_Strict):
    """One place a value comes from: a table column (or a scalar OID) with optional mapping and scaling."""

    column: str | None = None
    oid: str | None = None
    scale: float = 1.0
    map: dict[str, float] | None = None
    default: float | None = None  # value for anything the map does not list (None: drop the sample)
    nonzero: bool = False  # skip this source when it reads 0 (ifHighSpeed on sub-megabit links)


class SampleSpec(_Strict):
    """A metric taken from one row (or aggregated over the rows) of a table, or from a scalar."""

    metric: str
    kind: Literal["gauge", "rate"] = "gauge"
    sources: tuple[Source, ...] = ()
    ratio: tuple[str, str] | None = None  # (numerator column, denominator column) x scale
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
    labels: dict[str, tuple[str, ...]] = {}
    where: Where | None = None
    samples: tuple[SampleSpec, ...] = ()
    facts: tuple[FactSpec, ...] = ()
    interfaces: bool = False  # rows are IF-MIB interfaces: keep them in the Interface table

    @model_validator(mode="after")
    def _columns_known(self) -> Table:
        named = set(self.columns)
        used: list[str] = [c for cols in self.labels.values() for c in cols]
        for spec in self.samples:
            used += [s.column for s in spec.sources if s.column] + list(spec.ratio or ())
            used += [spec.where.column] if spec.where else []
        used += [f.column for f in self.facts] + [f.where.column for f in self.facts if f.where]
        used += [self.where.column] if self.where else []
        unknown = sorted(set(used) - named)
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

    @model_validator(mode="after")
    def _one_target(self) -> Scalar:
        if (self.fact is None) == (self.metric is None):
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
    overrides: tuple[str, ...] = ()
    scalars: tuple[Scalar, ...] = ()
    tables: tuple[Table, ...] = ()
    derived: tuple[Derived, ...] = ()


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


def select_profiles(profiles: Iterable[Profile], *, role: str, sys_object_id: str) -> list[Profile]:
    """Return the profiles fitting a device, without those overridden by another selected profile."""
    chosen = [p for p in profiles if p.match.fits(role, sys_object_id)]
    dropped = {name for p in chosen for name in p.overrides}
    return [p for p in chosen if p.name not in dropped]


def scalar_oids(profiles: Iterable[Profile]) -> list[str]:
    """Every scalar OID the profiles read, once, in order."""
    return list(dict.fromkeys(s.oid.strip(".") for p in profiles for s in p.scalars))


# --- evaluation ------------------------------------------------------------------------------------


class VarbindLike(Protocol):
    oid: str
    type: str
    value: Any


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


def present(vb: VarbindLike | None) -> bool:
    """Tell whether a varbind holds a value (not missing, noSuchObject/Instance or endOfMibView)."""
    return vb is not None and vb.type.lower() not in ABSENT_TYPES


def text(vb: VarbindLike | None) -> str:
    """Return a varbind as text (octet strings decoded, NULs and surrounding blanks removed)."""
    if not present(vb):
        return ""
    value = vb.value  # type: ignore[union-attr]
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", errors="replace")
    return str(value).replace("\x00", "").strip()


def number(vb: VarbindLike | None) -> float | None:
    """Return a varbind as a number, or None when it holds none."""
    if not present(vb):
        return None
    value = vb.value  # type: ignore[union-attr]
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("ascii", errors="ignore")
    try:
        result = float(str(value).strip()) if not isinstance(value, int | float) else float(value)
    except ValueError:
        return None
    return result if math.isfinite(result) else None


def _mapped(raw: float, mapping: Mapping[str, float] | None, default: float | None) -> float | None:
    if mapping is None:
        return raw
    key = str(int(raw)) if raw == int(raw) else str(raw)
    return mapping.get(key, default)


def _row_ok(where: Where | None, row: Mapping[str, VarbindLike]) -> bool:
    if where is None:
        return True
    vb = row.get(where.column)
    wanted = {str(v).strip(".") for v in where.in_}
    num = number(vb)
    as_text = text(vb).strip(".")
    return as_text in wanted or (num is not None and num == int(num) and str(int(num)) in wanted)


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


def _row_value(spec: SampleSpec, row: Mapping[str, VarbindLike]) -> tuple[float, VarbindLike | None, str] | None:
    """Return (value, the varbind it came from, source column) for one row, or None."""
    if spec.ratio is not None:
        num, den = number(row.get(spec.ratio[0])), number(row.get(spec.ratio[1]))
        if num is None or not den:
            return None
        return num / den * spec.scale, None, spec.ratio[0]
    for source in spec.sources:
        vb = row.get(source.column or "")
        raw = _sensor_value(row, source) if spec.sensor else number(vb)
        if raw is None or (source.nonzero and raw == 0):
            continue
        value = _mapped(raw, source.map, source.default)
        if value is None:
            return None
        return value * source.scale * spec.scale, vb, source.column or ""
    return None


def _table_samples(table: Table, rows: Mapping[str, Mapping[str, VarbindLike]], at: float, out: Evaluation) -> None:
    kept = {index: row for index, row in rows.items() if _row_ok(table.where, row)}
    for spec in table.samples:
        values: list[float] = []
        for index, row in kept.items():
            if not _row_ok(spec.where, row):
                continue
            found = _row_value(spec, row)
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
    for profile in profiles:
        for spec in profile.scalars:
            vb = scalars.get(spec.oid.strip("."))
            if spec.fact is not None:
                if text(vb):
                    out.facts[spec.fact] = text(vb)
                continue
            raw = number(vb)
            if raw is None or spec.metric is None:
                continue
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
            rows = tables.get(table.name, {})
            out.table_rows[table.name] = len(rows)
            _table_samples(table, rows, at, out)
        out.derived.extend(profile.derived)
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
