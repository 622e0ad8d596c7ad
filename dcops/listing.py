"""How a resource's lists are read: a query checked against what the resource allows, its statements built once
per shape, and a page read as objects, as column values, or as the JSON the database writes (:mod:`dcops.pages`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, String, and_, bindparam, func, or_, select
from sqlalchemy.engine import Dialect
from sqlmodel import Session

from dcops.actor import Actor
from dcops.exceptions import ValidationError
from dcops.pages import json_page

if TYPE_CHECKING:
    from dcops.crud import Resource

MAX_LIMIT = 1000


def like_escape(text: str) -> str:
    """Escape LIKE's wildcards (``%``, ``_``) and the escape character itself, so ``q`` matches literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_STATEMENTS_KEPT = 512  # per resource: list statements differ by filters used, search and ordering


@dataclass(frozen=True)
class _Shape:
    """What a list's SQL depends on; the values it filters by are bound parameters."""

    scoped: bool
    filters: tuple[str, ...]
    search: bool
    ordering: str  # a column name, '-' first for descending


@dataclass
class ListQuery:
    """What a list call asks for: a page, an order, a search and exact filters."""

    limit: int = 50
    offset: int = 0
    ordering: str | None = None
    q: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)


class Lister:
    """The list reads of one :class:`~dcops.crud.Resource` (its ``lists``): same filters, search, ordering, agency
    scoping and checks for every form of page."""

    def __init__(self, resource: Resource[Any]) -> None:
        self.resource = resource
        self._statements: dict[tuple[Any, ...], Any] = {}

    def _plan(self, actor: Actor, query: ListQuery) -> tuple[_Shape, dict[str, Any]] | None:
        """Check ``query``; return what its statements depend on and their parameters, or None when the actor can
        see nothing of this table."""
        resource = self.resource
        if actor.scoped_agency is not None and resource.scope is None:
            return None
        params: dict[str, Any] = {"limit": query.limit, "offset": query.offset}
        if actor.scoped_agency is not None:
            params["scope_agency"] = actor.scoped_agency
        filters = []
        for name, value in query.filters.items():
            if value is None:
                continue
            if name not in resource.filters:
                raise ValidationError(
                    f"cannot filter {resource.plural} by '{name}'; "
                    f"filter by one of: {', '.join(resource.filters) or 'none'}",
                    field=name)
            filters.append(name)
            params[f"filter_{name}"] = value
        if query.q:
            params["q"] = f"%{like_escape(query.q.strip().lower())}%"
        ordering = query.ordering or resource.default_ordering
        if ordering.lstrip("-") not in resource.orderings:
            raise ValidationError(
                f"cannot order {resource.plural} by '{ordering.lstrip('-')}'; "
                f"choose one of: {', '.join(resource.orderings)}",
                field="ordering",
            )
        if not 1 <= query.limit <= MAX_LIMIT:
            raise ValidationError(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
        if query.offset < 0:
            raise ValidationError("offset must not be negative", field="offset")
        return _Shape("scope_agency" in params, tuple(sorted(filters)), "q" in params, ordering), params

    def _where(self, shape: _Shape) -> ColumnElement[bool] | None:
        column = self.resource.column
        conditions: list[ColumnElement[bool]] = []
        if shape.scoped:
            conditions.append(column(self.resource.scope or "id") == bindparam("scope_agency"))
        conditions += [column(name) == bindparam(f"filter_{name}") for name in shape.filters]
        if shape.search:
            pattern = bindparam("q", type_=String())
            conditions.append(or_(*(func.lower(column(f)).like(pattern, escape="\\") for f in self.resource.search)))
        return and_(*conditions) if conditions else None

    def _order(self, shape: _Shape) -> list[Any]:
        key = shape.ordering.lstrip("-")
        column = self.resource.column(key)
        order = [column.desc() if shape.ordering.startswith("-") else column]
        return order if key == "id" else [*order, self.resource.column("id")]

    def _paged(self, shape: _Shape) -> Callable[[Any], Any]:
        """A function adding the page's WHERE, ORDER BY, LIMIT and OFFSET (bound parameters) to a select."""
        where = self._where(shape)

        def page(stmt: Any) -> Any:
            if where is not None:
                stmt = stmt.where(where)
            return stmt.order_by(*self._order(shape)).limit(bindparam("limit")).offset(bindparam("offset"))

        return page

    def _statement(self, kind: str, shape: _Shape, dialect: Dialect, names: Sequence[str] = ()) -> Any:
        """The statement of ``kind`` for ``shape``, built once: its values are bound parameters, so SQLAlchemy
        reuses its cache key and compiled form (building and keying a statement cost about as much as running it).
        None when no such statement exists (a JSON page of columns JSON cannot carry exactly)."""
        key = (kind, shape, dialect.name, tuple(names))
        try:
            return self._statements[key]
        except KeyError:
            pass
        page = self._paged(shape)
        selected = [self.resource.table.c[n] for n in names]
        if kind == "objects":
            stmt = page(select(self.resource.model))
        elif kind == "values":
            # on PostgreSQL the total rides along (a window over the filtered rows, before LIMIT): one round trip
            # less; on SQLite two statements are cheaper (measured)
            stmt = page(select(*selected, *([func.count().over()] if dialect.name == "postgresql" else [])))
        elif kind == "json":
            stmt = json_page(page, selected, self._order(shape), dialect)
        else:
            where = self._where(shape)
            stmt = select(func.count()).select_from(self.resource.table)
            stmt = stmt if where is None else stmt.where(where)
        if len(self._statements) >= _STATEMENTS_KEPT:
            self._statements.clear()
        self._statements[key] = stmt
        return stmt

    def _count(self, session: Session, shape: _Shape, params: dict[str, Any], found: int) -> int:
        """How many rows match in all; without asking the database when the page itself tells."""
        if 0 < found < params["limit"] or (found == 0 and params["offset"] == 0):
            return int(params["offset"]) + found  # a short (or empty first) page is the end of the list
        connection = session.connection()
        return int(connection.execute(self._statement("count", shape, connection.dialect), params).scalar_one())

    def objects(self, session: Session, actor: Actor, query: ListQuery) -> tuple[list[Any], int]:
        """Return one page of objects and how many match in all."""
        plan = self._plan(actor, query)
        if plan is None:
            return [], 0
        shape, params = plan
        stmt = self._statement("objects", shape, session.get_bind().dialect)
        rows = list(session.execute(stmt, params).scalars().all())
        return rows, self._count(session, shape, params, len(rows))

    def values(self, session: Session, actor: Actor, query: ListQuery,
               names: Sequence[str]) -> tuple[list[dict[str, Any]], int]:
        """Like :meth:`objects`, but read only the columns ``names`` and return plain dicts (no ORM objects).

        Same filters, search, ordering, scoping and checks as :meth:`objects`; for list endpoints, which only
        serialise what they read. Read through the session's connection (its transaction), not the ORM: plain
        column values need none of its row loading (a tenth of a list request's CPU on PostgreSQL, measured).
        """
        plan = self._plan(actor, query)
        if plan is None:
            return [], 0
        shape, params = plan
        connection = session.connection()
        found = connection.execute(self._statement("values", shape, connection.dialect, names), params).fetchall()
        rows = [dict(zip(names, row)) for row in found]  # noqa: B905 - on PostgreSQL the total is left out
        if connection.dialect.name == "postgresql" and found:
            return rows, int(found[0][-1])
        return rows, self._count(session, shape, params, len(rows))

    def written(self, session: Session, actor: Actor, query: ListQuery,
                names: Sequence[str]) -> tuple[str, int] | None:
        """Like :meth:`values`, but the page comes as the JSON text of an array of objects keyed by
        ``names``, written by the database (:mod:`dcops.pages`); None when a column cannot be carried that way.

        The values are as stored (timestamps in ISO 8601 with 'Z', SQLite's booleans as 0/1): for validating
        with the public schema's ``validate_json``, which reads them as it reads the plain values.
        """
        plan = self._plan(actor, query)
        if plan is None:
            return "[]", 0
        shape, params = plan
        connection = session.connection()
        stmt = self._statement("json", shape, connection.dialect, names)
        if stmt is None:
            return None
        page, found, total = connection.execute(stmt, params).one()
        if total is None:
            total = self._count(session, shape, params, found)
        return page or "[]", int(total)
