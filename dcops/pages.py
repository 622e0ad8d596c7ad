"""List pages the database writes as JSON: one row holding the page's rows as a JSON array of objects.

Reading a page row by row costs the server more than the query: the driver gives up and retakes the GIL at
every row (sqlite3), each value becomes a Python object, timestamps are parsed, and the whole is then validated
and serialised again. Asked for JSON, the database does that work in C and hands over one string, which
pydantic validates straight from JSON (``TypeAdapter.validate_json``): the public schema still decides what is
shown, the database only spells the stored values.

Only columns whose values survive the trip exactly are spelled this way: integers, text, booleans, dates, JSON
and UTC timestamps everywhere, floating point on PostgreSQL only (SQLite writes 15 significant digits). A column
of any other type (binary, exact decimals, a type with its own reading code) leaves the page to the plain path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Enum,
    Float,
    Integer,
    String,
    Text,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnClause
from sqlmodel.sql.sqltypes import AutoString

from dcops.database import UTCDateTime

# stored UTC timestamps spelled as pydantic reads them: ISO 8601 with a 'Z' (the column holds UTC on both backends)
_PG_UTC: ColumnClause[str] = literal_column("""'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'""")
_Z: ColumnClause[str] = literal_column("'Z'")
_UTC: ColumnClause[str] = literal_column("'UTC'")


def _json_value(column: Any, dialect: Dialect) -> Any | None:
    """The SQL that spells ``column``'s value in a JSON object exactly, or None when none does."""
    kind = column.type
    postgres = dialect.name == "postgresql"
    if isinstance(kind, UTCDateTime):
        # SQLite holds 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC); PostgreSQL a timestamptz, spelled in UTC whatever
        # the session's time zone. NULL stays NULL (NULL || 'Z' is NULL).
        return func.to_char(func.timezone(_UTC, column), _PG_UTC) if postgres else column.op("||")(_Z)
    if isinstance(kind, JSON):
        return column if postgres else func.json(column)  # SQLite keeps JSON as text: embed it, not quote it
    if isinstance(kind, Float):
        return column if postgres and not kind.asdecimal else None
    if isinstance(kind, Enum):
        return None  # stores member names, not the values the schema reads
    if isinstance(kind, Integer | BigInteger | Boolean | String | Text | Date | AutoString):  # AutoString: String
        return column  # SQLite's booleans are 0/1, which pydantic reads as false/true
    return None


def row_object(columns: Sequence[Any], dialect: Dialect) -> Any | None:
    """One row of ``columns`` as a JSON object keyed by column name (an SQL expression), or None when a column
    cannot make the trip exactly."""
    if len(columns) > 50:  # both databases take at most 100 arguments per function call
        return None
    arguments: list[Any] = []
    for column in columns:
        value = _json_value(column, dialect)
        if value is None or not column.name.isidentifier():
            return None
        arguments += [literal_column(f"'{column.name}'"), value]
    return (func.json_build_object if dialect.name == "postgresql" else func.json_object)(*arguments)


def json_page(paged: Any, columns: Sequence[Any], order: Sequence[Any], dialect: Dialect) -> Any | None:
    """The statement answering: the page as the text of a JSON array of objects (NULL when empty on PostgreSQL),
    how many rows it holds, and on PostgreSQL how many match in all (NULL on SQLite, and for an empty page).
    None when a column cannot make the trip exactly (:func:`row_object`).

    ``paged(select)`` adds the page's WHERE, ORDER BY, LIMIT and OFFSET; ``order`` is that ORDER BY. The objects
    are built over the page's rows, not inside it (SQLite would otherwise parse each object again). On PostgreSQL
    the total matching rows rides along (a window over the filtered rows, before LIMIT) and the array keeps the
    page's order explicitly; SQLite's aggregate takes rows in the order its ORDER BY ... LIMIT subquery gives them.
    """
    postgres = dialect.name == "postgresql"
    extra = [func.row_number().over(order_by=list(order)).label("dcops_n"),
             func.count().over().label("dcops_total")] if postgres else []
    inner = paged(select(*columns, *extra)).subquery()
    row = row_object([inner.c[column.name] for column in columns], dialect)
    if row is None:
        return None
    if postgres:
        return select(cast(func.json_agg(aggregate_order_by(row, inner.c.dcops_n)), Text), func.count(),
                      func.max(inner.c.dcops_total))
    return select(func.json_group_array(row), func.count(), literal_column("NULL"))
