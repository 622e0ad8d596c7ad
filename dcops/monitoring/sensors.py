"""Sensors as data (profile schema v2): what a table row or a scalar says about one sensor of a device.

A profile table lists ``sensors`` beside its ``samples``; each one names the column read, the class
(temperature, fan, voltage, ...), a description template, scaling (divisor, multiplier, ENTITY-SENSOR
scale and precision), values to skip, the device's own limits and, for state sensors, the mapping of raw
values to ok / warning / critical. :func:`table_sensors` and :func:`scalar_sensor` turn what was read into
:class:`SensorReading` objects, each carrying the exact OID its value came from.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CLASSES = ("temperature", "fan", "voltage", "current", "power", "energy", "humidity", "frequency", "load",
           "charge", "runtime", "state")
#: the unit of each class, as shown and exported
UNITS = {"temperature": "°C", "fan": "rpm", "voltage": "V", "current": "A", "power": "W", "energy": "kWh",
         "humidity": "%", "frequency": "Hz", "load": "%", "charge": "%", "runtime": "s", "state": ""}
SEVERITIES = ("ok", "warning", "critical", "unknown")
#: raw values that mean "unknown" in every MIB that uses them: dropped whatever a profile says
SENTINELS = (2147483647.0, 4294967295.0, -2147483648.0)
ABSENT_TYPES = {"nosuchobject", "nosuchinstance", "endofmibview", "null"}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)(?:\[(\d+)\])?\}")
#: pseudo-columns every row has: its whole index and each arc of it (``where: {column: 'index[1]', in: [5]}``)
#: pseudo-columns holding the limits a threshold table gave a row (``_device_high``...), used when a sensor
#: gives none of its own
DEVICE_LIMIT = "_device_"
_NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")
INDEX_COLUMN = re.compile(r"^index(\[\d+\])?$")


class VarbindLike(Protocol):
    """What the engine reads of a varbind (read-only: the client's varbinds and :class:`Pseudo` are frozen)."""

    @property
    def oid(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def value(self) -> Any: ...


def present(vb: VarbindLike | None) -> bool:
    """Tell whether a varbind holds a value (not missing, noSuchObject/Instance or endOfMibView)."""
    return vb is not None and vb.type.lower() not in ABSENT_TYPES


def text(vb: VarbindLike | None) -> str:
    """Return a varbind as text (octet strings decoded, NULs and surrounding blanks removed)."""
    if vb is None or not present(vb):
        return ""
    value = vb.value
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", errors="replace")
    return str(value).replace("\x00", "").strip()


def number(vb: VarbindLike | None) -> float | None:
    """Return a varbind as a number, or None when it holds none."""
    if vb is None or not present(vb):
        return None
    value = vb.value
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("ascii", errors="ignore")
    try:
        result = float(str(value).strip()) if not isinstance(value, int | float) else float(value)
    except ValueError:
        return None
    return result if math.isfinite(result) else None


@dataclass(frozen=True)
class Pseudo:
    """A value the engine puts in a row itself (an index arc, a looked-up or threshold value)."""

    oid: str
    type: str
    value: Any


def with_index(index: str, row: Mapping[str, VarbindLike]) -> dict[str, VarbindLike]:
    """Return the row plus its pseudo-columns ``index`` and ``index[0]``, ``index[1]``... (the arcs)."""
    out: dict[str, VarbindLike] = dict(row)
    out["index"] = Pseudo("", "octetstring", index)
    for i, arc in enumerate(index.split(".")):
        out[f"index[{i}]"] = Pseudo("", "octetstring", arc)
    return out


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Where(_Strict):
    """Keep a table row only when ``column`` holds one of ``in_`` (numbers or text)."""

    column: str
    in_: tuple[Any, ...] = Field(alias="in")


def row_ok(where: Where | None, row: Mapping[str, VarbindLike], *, negate: bool = False) -> bool:
    """Tell whether a row passes ``where`` (``negate``: passes when the column holds none of the values)."""
    if where is None:
        return True
    vb = row.get(where.column)
    wanted = {str(v).strip(".") for v in where.in_}
    num = number(vb)
    as_text = text(vb).strip(".")
    hit = as_text in wanted or (num is not None and num == int(num) and str(int(num)) in wanted)
    return not hit if negate else hit


Limit = str | float | None


class SensorSpec(_Strict):
    """One sensor per row of a table (or of a scalar): the schema of a ``sensors:`` entry."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    sensor_class: Literal["temperature", "fan", "voltage", "current", "power", "energy", "humidity", "frequency",
                          "load", "charge", "runtime", "state"] = Field(alias="class")
    value: str | None = None  # the column read (tables); scalars read their own OID
    descr: str | tuple[str, ...] = ""
    divisor: float = 1.0
    multiplier: float = 1.0
    entity_scale: bool = False
    where: Where | None = None
    where_not: Where | None = None
    skip: tuple[float, ...] = ()
    high: Limit = None
    low: Limit = None
    high_warn: Limit = None
    low_warn: Limit = None
    limit_divisor: float | None = None
    #: a column giving a power of ten per row (value x 10**column, limits too), e.g. a "unit multiplier" column
    exponent: str | None = None
    #: the unit the device reports in when it is not the class's own: ``fahrenheit`` (temperature; value and
    #: limits converted to degrees Celsius after divisor and multiplier)
    unit: Literal["", "fahrenheit"] = ""
    states: dict[str, Literal["ok", "warning", "critical", "unknown"]] = {}
    state_names: dict[str, str] = {}
    group: str = ""

    @field_validator("divisor", "multiplier", "limit_divisor")
    @classmethod
    def _not_zero(cls, value: float | None) -> float | None:
        if value is not None and value == 0:
            raise ValueError("divisor and multiplier must not be 0")
        return value

    @model_validator(mode="after")
    def _unit_fits_class(self) -> SensorSpec:
        if self.unit == "fahrenheit" and self.sensor_class != "temperature":
            raise ValueError(f"unit fahrenheit is for temperature sensors, not {self.sensor_class}")
        return self

    @field_validator("states", "state_names", mode="before")
    @classmethod
    def _string_keys(cls, value: Any) -> Any:
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    def templates(self) -> tuple[str, ...]:
        return (self.descr,) if isinstance(self.descr, str) else self.descr

    def columns_used(self) -> list[str]:
        """Every column name this sensor reads (for the table's check of declared columns)."""
        used = [self.value] if self.value else []
        used += [m.group(1) for t in self.templates() for m in _PLACEHOLDER.finditer(t) if m.group(1) != "index"]
        used += [lim for lim in (self.high, self.low, self.high_warn, self.low_warn) if isinstance(lim, str)]
        used += [w.column for w in (self.where, self.where_not) if w is not None]
        used += [self.exponent] if self.exponent else []
        return [u for u in used if not INDEX_COLUMN.match(u)]


@dataclass
class SensorReading:
    """One sensor of a device as read in one poll (value in the unit of its class; state: the raw value)."""

    sensor_class: str
    descr: str
    index: str
    oid: str
    value: float
    severity: str = ""  # state sensors: ok | warning | critical | unknown
    state_name: str = ""
    high: float | None = None
    low: float | None = None
    high_warn: float | None = None
    low_warn: float | None = None
    group: str = ""
    profile: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Return the reading as a JSON-able dict (stored, shown by the API)."""
        # every field is a scalar: a plain copy, not asdict's recursive deep copy (the writer does this per sensor)
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SensorReading:
        """Rebuild a reading stored with :meth:`as_dict` (unknown keys ignored)."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in raw.items() if k in known})


def _fill(template: str, index: str, row: Mapping[str, VarbindLike]) -> str:
    empty = False

    def one(match: re.Match[str]) -> str:
        nonlocal empty
        name, arc = match.group(1), match.group(2)
        if name == "index":
            if arc is None:
                return index
            arcs = index.split(".")
            got = arcs[int(arc)] if int(arc) < len(arcs) else ""
        else:
            got = text(row.get(name))
        if not got:
            empty = True
        return got

    out = _PLACEHOLDER.sub(one, template).strip()
    return "" if empty else out


def describe_index(template: str, index: str) -> str:
    """Fill a template of the row index alone (``{index}``, ``{index[0]}``...), e.g. a lookup's row."""
    return _fill(template, index, {})


def describe(spec: SensorSpec, index: str, row: Mapping[str, VarbindLike]) -> str:
    """Return the description of a sensor row: the first template whose placeholders all have a value."""
    for template in spec.templates():
        found = _fill(template, index, row)
        if found:
            return found
    return f"{spec.sensor_class} {index}"


def _entity_factor(row: Mapping[str, VarbindLike]) -> float:
    # entPhySensorScale: yocto(1) .. units(9) .. yotta(17), steps of 10**3; precision: decimal places (-8..9)
    exponent = number(row.get("entPhySensorScale"))
    precision = number(row.get("entPhySensorPrecision")) or 0
    power = 3 * (int(exponent) - 9) if exponent is not None else 0
    return (10.0 ** power) / (10.0 ** precision)


def usable(raw: float | None, skip: tuple[float, ...]) -> bool:
    """Tell whether a raw reading is a value (not absent, not a sentinel, not one of ``skip``)."""
    return raw is not None and raw not in SENTINELS and raw not in skip


def _limit(spec: SensorSpec, limit: Limit, row: Mapping[str, VarbindLike], factor: float) -> float | None:
    if limit is None:
        return None
    if isinstance(limit, int | float):
        return float(limit)
    raw = number(row.get(limit))
    if not usable(raw, spec.skip):
        return None
    assert raw is not None
    if spec.limit_divisor is not None:
        return raw * spec.multiplier / spec.limit_divisor
    return raw * factor


def _state_key(spec: SensorSpec, raw: float | None, vb: VarbindLike | None) -> str | None:
    """The key of ``states`` a state reading falls under: its number, else its text (case-insensitive)."""
    if raw is not None:
        return str(int(raw)) if raw == int(raw) else str(raw)
    word = text(vb)
    if not word:
        return None
    folded = word.casefold()
    return next((k for k in spec.states if k.casefold() == folded), word)


def reading(spec: SensorSpec, *, index: str, row: Mapping[str, VarbindLike], vb: VarbindLike | None, oid: str,
            profile: str = "") -> SensorReading | None:
    """Turn one row (or scalar) into a reading; None when the row says nothing usable."""
    row = with_index(index, row)
    if not row_ok(spec.where, row) or not row_ok(spec.where_not, row, negate=True):
        return None
    raw = number(vb)
    descr = describe(spec, index, row)
    if spec.sensor_class == "state":
        key = _state_key(spec, raw, vb)
        words = any(not _NUMERIC.match(k) for k in spec.states)
        if key is None or (raw is not None and not usable(raw, spec.skip)) or (
                raw is None and key not in spec.states and not words):
            return None
        return SensorReading("state", descr, index, oid, raw if raw is not None else 0.0,
                             severity=spec.states.get(key, "unknown"),
                             state_name=spec.state_names.get(key, key), group=spec.group, profile=profile)
    if not usable(raw, spec.skip):
        return None
    assert raw is not None
    factor = spec.multiplier / spec.divisor
    if spec.entity_scale:
        factor *= _entity_factor(row)
    if spec.exponent:
        power = number(row.get(spec.exponent))
        if power is None:
            return None
        factor *= 10.0 ** power
    limits = {name: _limit(spec, own if own is not None else (DEVICE_LIMIT + name if DEVICE_LIMIT + name in row
                                                               else None), row, factor)
              for name, own in (("high", spec.high), ("low", spec.low), ("high_warn", spec.high_warn),
                                ("low_warn", spec.low_warn))}
    value = raw * factor
    if spec.unit == "fahrenheit":
        value = fahrenheit_to_celsius(value)
        limits = {name: None if lim is None else fahrenheit_to_celsius(lim) for name, lim in limits.items()}
    return SensorReading(spec.sensor_class, descr, index, oid, value, group=spec.group, profile=profile,
                         high=limits["high"], low=limits["low"], high_warn=limits["high_warn"],
                         low_warn=limits["low_warn"])


def fahrenheit_to_celsius(value: float) -> float:
    """Return degrees Fahrenheit in degrees Celsius (rounded to 0.01: the devices give tenths of a degree)."""
    return round((value - 32.0) * 5.0 / 9.0, 2)


def table_sensors(specs: tuple[SensorSpec, ...], columns: Mapping[str, str],
                  rows: Mapping[str, Mapping[str, VarbindLike]], profile: str = "") -> list[SensorReading]:
    """Return the readings of every sensor spec over every row of one table."""
    out = []
    for spec in specs:
        column_oid = columns.get(spec.value or "", "").strip(".")
        for index, row in rows.items():
            found = reading(spec, index=index, row=row, vb=row.get(spec.value or ""),
                            oid=f"{column_oid}.{index}", profile=profile)
            if found is not None:
                out.append(found)
    return out


def severity_of(r: SensorReading) -> str:
    """Return the state a reading is in against its own limits: ok, warning, critical (state: its mapping)."""
    if r.sensor_class == "state":
        return r.severity or "unknown"
    if (r.high is not None and r.value > r.high) or (r.low is not None and r.value < r.low):
        return "critical"
    if (r.high_warn is not None and r.value > r.high_warn) or (r.low_warn is not None and r.value < r.low_warn):
        return "warning"
    return "ok"


def unique_subjects(readings: list[SensorReading]) -> dict[str, SensorReading]:
    """Name each reading by its description, adding the class then the index where descriptions repeat."""
    counts: dict[str, int] = {}
    for r in readings:
        counts[r.descr] = counts.get(r.descr, 0) + 1
    out: dict[str, SensorReading] = {}
    for r in readings:
        name = r.descr if counts[r.descr] == 1 else f"{r.descr} ({r.sensor_class} {r.index})"
        while name in out:
            name += "'"
        out[name] = r
    return out
