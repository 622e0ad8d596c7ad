"""The schema of a polling profile (a YAML file): what to match, which OIDs to read, how to turn them into data.

See :mod:`dcops.monitoring.profiles` for how profiles are found and selected, and
:mod:`dcops.monitoring.profile_eval` for how a poll's varbinds become samples.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from pydantic import field_validator, model_validator

from dcops.monitoring.sensors import (
    INDEX_COLUMN,
    SensorSpec,
    Where,
    _Strict,
)
from dcops.monitoring.table_joins import (
    LessRows,
    Lookup,
    ThresholdTable,
)
from dcops.monitoring.types import METRICS

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


