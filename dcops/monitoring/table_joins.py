"""Tables joined beyond their own rows (profile schema): lookups into other tables, device threshold tables
and rows taken out of a ratio. See the module docstring of :mod:`dcops.monitoring.profiles` for the schema.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from pydantic import field_validator

from dcops.monitoring.sensors import DEVICE_LIMIT, Pseudo, VarbindLike, _Strict, describe_index, number, text, usable

if TYPE_CHECKING:
    from dcops.monitoring.profiles import SampleSpec, Table


class Lookup(_Strict):
    """A column of another table joined to each row by a template of the row's index (``{index[0]}``)."""

    oid: str
    index: str = "{index}"


class ThresholdTable(_Strict):
    """The device's limits in a table indexed by the sensor's row index plus one sub-index.

    Each of its rows gives a severity, a relation and a value; ``severities`` maps the severity codes to
    warning/critical (others ignored), ``relations`` the relation codes to high/low. The value is scaled
    like the sensor's own value. Where several rows give the same limit, the first one crossed wins
    (lowest high, highest low).
    """

    severity: str
    relation: str
    value: str
    severities: dict[str, Literal["warning", "critical"]]
    relations: dict[str, Literal["high", "low"]]

    @field_validator("severities", "relations", mode="before")
    @classmethod
    def _string_keys(cls, value: object) -> object:
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value


class LessRows(_Strict):
    """Rows whose ``value`` column is taken out of a ratio's numerator: those where a column matches a regex."""

    value: str
    match: dict[str, str]


LOOKUP_SUFFIX, THRESHOLD_SUFFIX = ":lookup", ":thresholds"


def _code(vb: VarbindLike | None) -> str:
    raw = number(vb)
    return text(vb) if raw is None else str(int(raw)) if raw == int(raw) else str(raw)


def joined(table: Table, tables: Mapping[str, Mapping[str, Mapping[str, VarbindLike]]]
           ) -> dict[str, dict[str, VarbindLike]]:
    """Return a table's rows with its ``lookups`` joined and its threshold table's limits as ``_device_*``."""
    rows = {index: dict(row) for index, row in tables.get(table.name, {}).items()}
    if table.lookups:
        other = tables.get(table.name + LOOKUP_SUFFIX, {})
        for index, row in rows.items():
            for name, lookup in table.lookups.items():
                key = describe_index(lookup.index, index)
                found = other.get(key, {}).get(name)
                if found is not None:
                    row[name] = found
    if table.thresholds is not None:
        spec = table.thresholds
        for sub, trow in tables.get(table.name + THRESHOLD_SUFFIX, {}).items():
            parent = sub.rsplit(".", 1)[0]
            side = spec.relations.get(_code(trow.get("relation")))
            level = spec.severities.get(_code(trow.get("severity")))
            value = number(trow.get("value"))
            if parent not in rows or side is None or level is None or value is None or not usable(value, ()):
                continue
            name = DEVICE_LIMIT + side + ("_warn" if level == "warning" else "")
            before = number(rows[parent].get(name))
            if before is None or (value < before if side == "high" else value > before):
                rows[parent][name] = Pseudo("", "integer", value)
    return rows


def walked_tables(table: Table) -> list[tuple[str, dict[str, str]]]:
    """The column walks a table needs: (name in ``tables``, column name -> OID): its own, lookups, thresholds."""
    out = [(table.name, dict(table.columns))]
    if table.lookups:
        out.append((table.name + LOOKUP_SUFFIX, {n: lk.oid for n, lk in table.lookups.items()}))
    if table.thresholds is not None:
        t = table.thresholds
        out.append((table.name + THRESHOLD_SUFFIX, {"severity": t.severity, "relation": t.relation, "value": t.value}))
    return out


def less_rows_sum(spec: SampleSpec, rows: Mapping[str, Mapping[str, VarbindLike]]) -> float:
    """The sum of ``less_rows.value`` over the rows matching ``less_rows.match`` (0 without ``less_rows``)."""
    less = spec.less_rows
    if less is None:
        return 0.0
    return sum(number(row.get(less.value)) or 0.0 for row in rows.values()
               if all(re.search(pattern, text(row.get(column))) for column, pattern in less.match.items()))
