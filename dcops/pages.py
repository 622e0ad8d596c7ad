"""List pages on SQLite read as ONE row: a JSON array of the page's rows, turned back into column values.

The sqlite3 driver gives up and retakes the GIL at every row it steps. Under concurrent requests that hand-off
costs more than reading the rows (measured: a page of 100 rows with 50 clients, 7.3-7.9 ms of CPU per request
read row by row, 4.3-4.4 ms as one row). SQLite keeps the page's order: its ORDER BY ... LIMIT subquery feeds
the aggregate in that order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Float, LargeBinary, Numeric, func, select
from sqlalchemy.engine import Dialect
from sqlmodel import Session

from dcops.database import UTCDateTime

_AS_JSON: dict[tuple[Any, ...], tuple[Any, list[Any]] | None] = {}


def _as_json(columns: Sequence[Any], dialect: Dialect) -> tuple[Any, list[Any]] | None:
    """A row of ``columns`` as one JSON array (an expression), and per column what turns its value read back from
    that JSON into the column's Python value (None: as is).

    None when a column cannot make the trip exactly: binary (JSON holds no blobs), floating point (SQLite writes
    15 significant digits) or exact decimals. Cached per column list: building the expression costs about as much
    as running it.
    """
    key = (id(dialect), *columns)
    if key not in _AS_JSON:
        built: tuple[Any, list[Any]] | None = None
        if not any(isinstance(column.type, LargeBinary | Float | Numeric) for column in columns):
            built = (func.json_array(*columns).label("r"), [_reader(column, dialect) for column in columns])
        _AS_JSON[key] = built
    return _AS_JSON[key]


def _utc_timestamp(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Read a stored UTC timestamp ('YYYY-MM-DD HH:MM:SS[.ffffff]') in one C call; anything else as the column
    type itself reads it. A page holds hundreds of timestamps: this is most of what reading it back costs."""
    def read(value: Any) -> Any:
        try:
            return datetime.fromisoformat(value + "+00:00")
        except (TypeError, ValueError):
            return processor(value)

    return read


def _reader(column: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
    if processor is not None and isinstance(column.type, UTCDateTime):
        return _utc_timestamp(processor)
    return processor


def sqlite_page(session: Session, page: Callable[[Any], Any], columns: Sequence[Any],
                names: Sequence[str]) -> list[dict[str, Any]] | None:
    """Read the page ``page(select(...))`` of ``columns`` as dicts keyed by ``names``, in one row.

    None (nothing read) when a column cannot be read this way: the caller reads the rows as usual.
    """
    as_json = _as_json(columns, session.get_bind().dialect)
    if as_json is None:
        return None
    row_json, readers = as_json
    inner = page(select(row_json)).subquery()
    packed = session.connection().execute(select(func.json_group_array(func.json(inner.c.r)))).scalar_one()
    rows = [dict(zip(names, values, strict=True)) for values in json.loads(packed)]
    for name, read in zip(names, readers, strict=True):
        if read is not None:  # most columns need nothing (text, integers); dates are parsed
            for row in rows:
                if (value := row[name]) is not None:
                    row[name] = read(value)
    return rows
