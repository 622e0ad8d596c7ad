"""The generic service behind every inventory model: get, get_all, create, update, delete.

A :class:`Resource` knows one table: which fields users filter, search and order by,
which column confines it to an agency, and which domain checks run before a write.
It enforces what is common to all models in one place — references that must exist,
unique names, agency scoping, refusing to delete what is still referenced, atomic
writes and the change log — so feature services only add their own rules.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import BigInteger, ColumnElement, Integer, String, Table, and_, bindparam, func, or_, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from dcops.actor import Actor
from dcops.changelog import ChangeAction, record_change
from dcops.database import utcnow
from dcops.exceptions import ConflictError, InUseError, NotFoundError, PermissionDeniedError, ValidationError
from dcops.hooks import Hook
from dcops.pages import json_page

M = TypeVar("M", bound=SQLModel)

#: A domain check: (session, the object as it will be written, its snapshot before, options) -> warnings.
Check = Callable[[Session, Any, dict[str, Any] | None, dict[str, Any]], list[str]]
#: Run around a write: (session, the object, its snapshot before or None) -> None.
WriteHook = Callable[[Session, Any, dict[str, Any] | None], None]

AGENCY_GUARD: Hook[Callable[[Session, Actor, int | None], None]] = Hook("agency write guard")
"""Raise PermissionDeniedError when the actor may not write for that agency (auth: operator scopes)."""

_registry: dict[str, Resource[Any]] = {}

MAX_LIMIT = 1000
INT32 = 2**31 - 1
INT64 = 2**63 - 1


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


def jsonable(value: Any) -> Any:
    """Turn a column value into something JSON can hold (for the change log)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    return value


def require_serves(session: Session, actor: Actor, agency_id: int | None) -> None:
    """Refuse a write for ``agency_id`` that the registered guard refuses; with no guard, refuse every one.

    Default deny: a write scoped to an agency never goes through unchecked because the feature that knows
    who serves which agency failed to register.
    """
    guard = AGENCY_GUARD.first()
    if guard is None:
        raise RuntimeError("no agency write guard is registered (dcops.auth.provides); refusing the write")
    guard(session, actor, agency_id)


def integrity_message(exc: IntegrityError) -> str:
    """Condense a database integrity error into one readable line."""
    text = str(exc.orig).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    detail = next((line for line in lines if line.startswith("DETAIL:")), "")
    return (lines[0] if lines else "integrity error") + (f" ({detail[7:].strip()})" if detail else "")


class Resource(Generic[M]):
    """Generic data access and rules for one table; see the module docstring."""

    def __init__(
        self,
        model: type[M],
        *,
        label: str,
        plural: str,
        repr_field: str = "name",
        search: Sequence[str] = ("name",),
        filters: Sequence[str] = (),
        orderings: Sequence[str] = ("id", "name"),
        default_ordering: str = "id",
        scope: str | None = None,
        unique: Sequence[Sequence[str]] = (("name",),),
        exclude_fields: Iterable[str] = (),
        secret_fields: Iterable[str] = (),
        check: Check | None = None,
        after_write: WriteHook | None = None,
        before_delete: WriteHook | None = None,
    ) -> None:
        self.model = model
        self.label = label
        self.plural = plural
        self.repr_field = repr_field
        self.search = tuple(search)
        self.filters = tuple(filters)
        self.orderings = tuple(orderings)
        self.default_ordering = default_ordering
        self.scope = scope
        self.unique = [tuple(u) for u in unique]
        self.exclude_fields = frozenset(exclude_fields)
        self.secret_fields = frozenset(secret_fields)
        self.check = check
        self.after_write = after_write
        self.before_delete = before_delete
        #: who may write through the API (set by ``crud_router``); other paths (import, console) check it too
        self.write_roles: frozenset[Any] | None = None
        self._statements: dict[tuple[Any, ...], Any] = {}
        _registry[self.table.name] = self

    # --- helpers -----------------------------------------------------------------------

    @property
    def table(self) -> Table:
        table: Table = getattr(self.model, "__table__")  # noqa: B009 - set by SQLModel's metaclass, unknown to mypy
        return table

    def column(self, name: str) -> Any:
        return getattr(self.model, name)

    def describe(self, obj: Any) -> str:
        """Return how users name ``obj`` in messages: ``rack 'R01'``."""
        return f"{self.label} '{getattr(obj, self.repr_field)}'"

    def snapshot(self, obj: Any) -> dict[str, Any]:
        """Return the object's fields for the change log, secrets left out."""
        return {
            c.name: jsonable(getattr(obj, c.name))
            for c in self.table.columns
            if c.name not in self.secret_fields
        }

    def _scope_condition(self, actor: Actor) -> ColumnElement[bool] | None:
        agency = actor.scoped_agency
        if agency is None or self.scope is None:
            return None
        condition: ColumnElement[bool] = self.column(self.scope) == agency
        return condition

    # --- reads -------------------------------------------------------------------------

    def get(self, session: Session, *, actor: Actor, id: int, for_update: bool = False) -> M:
        """Return the object ``id``, or raise NotFoundError (also when outside the actor's agency)."""
        if (actor.scoped_agency is not None and self.scope is None) or not 0 < id <= self._id_bound():
            raise NotFoundError(f"{self.label} {id} not found")
        obj = session.get(self.model, id, with_for_update=for_update or None)
        if obj is None or (
            actor.scoped_agency is not None and getattr(obj, self.scope or "id") != actor.scoped_agency
        ):
            raise NotFoundError(f"{self.label} {id} not found")
        if for_update and self.scope is not None:
            require_serves(session, actor, getattr(obj, self.scope))
        return obj

    def get_by(self, session: Session, *, actor: Actor, **values: Any) -> M | None:
        """Return the object matching ``values`` exactly, within the actor's scope, or None."""
        stmt = select(self.model).filter_by(**values)
        cond = self._scope_condition(actor)
        if cond is not None:
            stmt = stmt.where(cond)
        return session.execute(stmt).scalars().first()

    def _list_plan(self, actor: Actor, query: ListQuery) -> tuple[_Shape, dict[str, Any]] | None:
        """Check ``query``; return what its statements depend on and their parameters, or None when the actor can
        see nothing of this table."""
        if actor.scoped_agency is not None and self.scope is None:
            return None
        params: dict[str, Any] = {"limit": query.limit, "offset": query.offset}
        if actor.scoped_agency is not None:
            params["scope_agency"] = actor.scoped_agency
        filters = []
        for name, value in query.filters.items():
            if value is None:
                continue
            if name not in self.filters:
                raise ValidationError(
                    f"cannot filter {self.plural} by '{name}'; filter by one of: {', '.join(self.filters) or 'none'}",
                    field=name)
            filters.append(name)
            params[f"filter_{name}"] = value
        if query.q:
            params["q"] = f"%{like_escape(query.q.strip().lower())}%"
        ordering = query.ordering or self.default_ordering
        if ordering.lstrip("-") not in self.orderings:
            raise ValidationError(
                f"cannot order {self.plural} by '{ordering.lstrip('-')}'; choose one of: {', '.join(self.orderings)}",
                field="ordering",
            )
        if not 1 <= query.limit <= MAX_LIMIT:
            raise ValidationError(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
        if query.offset < 0:
            raise ValidationError("offset must not be negative", field="offset")
        return _Shape("scope_agency" in params, tuple(sorted(filters)), "q" in params, ordering), params

    def _where(self, shape: _Shape) -> ColumnElement[bool] | None:
        conditions: list[ColumnElement[bool]] = []
        if shape.scoped:
            conditions.append(self.column(self.scope or "id") == bindparam("scope_agency"))
        conditions += [self.column(name) == bindparam(f"filter_{name}") for name in shape.filters]
        if shape.search:
            pattern = bindparam("q", type_=String())
            conditions.append(or_(*(func.lower(self.column(f)).like(pattern, escape="\\") for f in self.search)))
        return and_(*conditions) if conditions else None

    def _order(self, shape: _Shape) -> list[Any]:
        key = shape.ordering.lstrip("-")
        column = self.column(key)
        order = [column.desc() if shape.ordering.startswith("-") else column]
        return order if key == "id" else [*order, self.column("id")]

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
        selected = [self.table.c[n] for n in names]
        if kind == "objects":
            stmt = page(select(self.model))
        elif kind == "values":
            # on PostgreSQL the total rides along (a window over the filtered rows, before LIMIT): one round trip
            # less; on SQLite two statements are cheaper (measured)
            stmt = page(select(*selected, *([func.count().over()] if dialect.name == "postgresql" else [])))
        elif kind == "json":
            stmt = json_page(page, selected, self._order(shape), dialect)
        else:
            where = self._where(shape)
            stmt = select(func.count()).select_from(self.table)
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

    def get_all(self, session: Session, *, actor: Actor, query: ListQuery) -> tuple[list[M], int]:
        """Return one page of objects and how many match in all."""
        plan = self._list_plan(actor, query)
        if plan is None:
            return [], 0
        shape, params = plan
        stmt = self._statement("objects", shape, session.get_bind().dialect)
        rows = list(session.execute(stmt, params).scalars().all())
        return rows, self._count(session, shape, params, len(rows))

    def get_all_values(
        self, session: Session, *, actor: Actor, query: ListQuery, names: Sequence[str]
    ) -> tuple[list[dict[str, Any]], int]:
        """Like :meth:`get_all`, but read only the columns ``names`` and return plain dicts (no ORM objects).

        Same filters, search, ordering, scoping and checks as :meth:`get_all`; for list endpoints, which only
        serialise what they read. Read through the session's connection (its transaction), not the ORM: plain
        column values need none of its row loading (a tenth of a list request's CPU on PostgreSQL, measured).
        """
        plan = self._list_plan(actor, query)
        if plan is None:
            return [], 0
        shape, params = plan
        connection = session.connection()
        found = connection.execute(self._statement("values", shape, connection.dialect, names), params).fetchall()
        rows = [dict(zip(names, row)) for row in found]  # noqa: B905 - on PostgreSQL the total is left out
        if connection.dialect.name == "postgresql" and found:
            return rows, int(found[0][-1])
        return rows, self._count(session, shape, params, len(rows))

    def get_all_json(
        self, session: Session, *, actor: Actor, query: ListQuery, names: Sequence[str]
    ) -> tuple[str, int] | None:
        """Like :meth:`get_all_values`, but the page comes as the JSON text of an array of objects keyed by
        ``names``, written by the database (:mod:`dcops.pages`); None when a column cannot be carried that way.

        The values are as stored (timestamps in ISO 8601 with 'Z', SQLite's booleans as 0/1): for validating
        with the public schema's ``validate_json``, which reads them as it reads the plain values.
        """
        plan = self._list_plan(actor, query)
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

    # --- rules shared by every model -----------------------------------------------------

    def _id_bound(self) -> int:
        kind = self.table.c.id.type
        return INT64 if isinstance(kind, BigInteger) else INT32

    def check_ranges(self, obj: Any) -> None:
        """Refuse values the column cannot hold (integer range, text length, NUL), naming the field."""
        for column in self.table.columns:
            value = getattr(obj, column.name, None)
            if value is None or isinstance(value, bool):
                continue
            kind = column.type
            if isinstance(value, int) and isinstance(kind, Integer):
                bound = INT64 if isinstance(kind, BigInteger) else INT32
                if not -bound - 1 <= value <= bound:
                    raise ValidationError(f"{column.name}: {value} is out of range (at most {bound})",
                                          field=column.name)
            elif isinstance(value, str):
                if "\x00" in value:
                    raise ValidationError(f"{column.name}: must not contain NUL characters", field=column.name)
                length = getattr(kind, "length", None)
                if length and len(value) > length:
                    raise ValidationError(f"{column.name}: at most {length} characters", field=column.name)

    def check_references(self, session: Session, obj: Any, actor: Actor) -> None:
        """Refuse references to objects that do not exist (or lie outside the actor's agency)."""
        for column in self.table.columns:
            for fk in column.foreign_keys:
                value = getattr(obj, column.name)
                if value is None:
                    continue
                target = fk.column.table
                exists = session.execute(select(fk.column).where(fk.column == value)).first()
                if exists is None:
                    label = _registry[target.name].label if target.name in _registry else target.name
                    raise ValidationError(f"{column.name}: {label} {value} does not exist", field=column.name)

    def check_unique(self, session: Session, obj: Any) -> None:
        """Refuse a second object with the same unique name (before the database has to)."""
        for fields in self.unique:
            values = {f: getattr(obj, f) for f in fields}
            if any(v is None for v in values.values()):
                continue
            stmt = select(self.column("id")).filter_by(**values)
            if obj.id is not None:
                stmt = stmt.where(self.column("id") != obj.id)
            if session.execute(stmt).first() is not None:
                shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
                raise ConflictError(
                    f"a {self.label} with {shown} already exists; choose another {fields[-1]}",
                    field=fields[-1],
                )

    def check_not_referenced(self, session: Session, obj: Any) -> None:
        """Refuse to delete ``obj`` while other objects reference it, naming them."""
        holders: list[str] = []
        for table in SQLModel.metadata.sorted_tables:
            for fk in table.foreign_keys:
                if fk.column.table is not self.table or (fk.ondelete or "").upper() == "CASCADE":
                    continue
                column = fk.parent
                res = _registry.get(table.name)
                name_col = table.c.get(res.repr_field if res else "id", table.c.id)
                total = session.execute(
                    select(func.count()).select_from(table).where(column == obj.id)
                ).scalar_one()
                if not total:
                    continue
                names = session.execute(select(name_col).where(column == obj.id).limit(3)).scalars().all()
                label = res.plural if res else table.name
                shown = ", ".join(str(n) for n in names) + (", …" if total > len(names) else "")
                holders.append(f"{total} {label} ({shown})")
        if holders:
            raise InUseError(
                f"cannot delete {self.describe(obj)}: still referenced by {'; '.join(holders)}. "
                "Delete or reassign them first."
            )

    def _flush(self, session: Session) -> None:
        try:
            session.flush()
        except IntegrityError as exc:
            session.rollback()
            raise ConflictError(f"{self.label} conflicts with existing data: {integrity_message(exc)}") from None

    def commit(self, session: Session) -> None:
        """Commit, turning a lost race on a constraint into a 409."""
        try:
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            raise ConflictError(f"{self.label} conflicts with existing data: {integrity_message(exc)}") from None

    # --- writes --------------------------------------------------------------------------

    def require_writer(self, actor: Actor) -> None:
        """Raise PermissionDeniedError unless ``actor``'s role may write this model (the API's rule)."""
        if self.write_roles is not None and actor.role not in self.write_roles:
            allowed = ", ".join(sorted(str(r) for r in self.write_roles))
            raise PermissionDeniedError(f"role '{actor.role}' may not create or change {self.plural} "
                                        f"(allowed: {allowed})")

    def create(
        self,
        session: Session,
        *,
        actor: Actor,
        data: BaseModel | dict[str, Any],
        options: dict[str, Any] | None = None,
        commit: bool = True,
    ) -> tuple[M, list[str]]:
        """Create an object from ``data``; return it and any warnings."""
        values = data if isinstance(data, dict) else data.model_dump()
        values = {k: v for k, v in values.items() if k not in self.exclude_fields}
        obj = self.model(**values)
        self.check_ranges(obj)
        if self.scope is not None:
            require_serves(session, actor, getattr(obj, self.scope))
        self.check_references(session, obj, actor)
        self.check_unique(session, obj)
        warnings = self.check(session, obj, None, options or {}) if self.check else []
        session.add(obj)
        self._flush(session)
        if self.after_write:
            self.after_write(session, obj, None)
        record_change(
            session,
            actor=actor,
            action=ChangeAction.CREATE,
            object_type=self.label,
            object_id=getattr(obj, "id"),  # noqa: B009 - every table has an id; M is any SQLModel
            object_repr=str(getattr(obj, self.repr_field)),
            before=None,
            after=self.snapshot(obj),
        )
        if commit:
            self.commit(session)
        return obj, warnings

    def update(
        self,
        session: Session,
        *,
        actor: Actor,
        id: int,
        data: BaseModel | dict[str, Any],
        options: dict[str, Any] | None = None,
        commit: bool = True,
    ) -> tuple[M, list[str]]:
        """Apply the fields set in ``data`` to object ``id``; return it and any warnings."""
        changes = data if isinstance(data, dict) else data.model_dump(exclude_unset=True)
        changes = {k: v for k, v in changes.items() if k not in self.exclude_fields}
        obj = self.get(session, actor=actor, id=id, for_update=True)
        for name, value in changes.items():
            column = self.table.columns.get(name)
            if value is None and column is not None and not column.nullable:
                raise ValidationError(f"{name} cannot be null", field=name)
        before = self.snapshot(obj)
        for name, value in changes.items():
            setattr(obj, name, value)
        if hasattr(obj, "updated_at"):
            obj.updated_at = utcnow()
        try:
            self.check_ranges(obj)
            if self.scope is not None:
                require_serves(session, actor, getattr(obj, self.scope))
            self.check_references(session, obj, actor)
            self.check_unique(session, obj)
            warnings = self.check(session, obj, before, options or {}) if self.check else []
            self._flush(session)
            if self.after_write:
                self.after_write(session, obj, before)
        except BaseException:
            session.rollback()
            raise
        after = self.snapshot(obj)
        if after != before:
            record_change(
                session,
                actor=actor,
                action=ChangeAction.UPDATE,
                object_type=self.label,
                object_id=id,
                object_repr=str(getattr(obj, self.repr_field)),
                before=before,
                after=after,
            )
        if commit:
            self.commit(session)
        return obj, warnings

    def delete(self, session: Session, *, actor: Actor, id: int, commit: bool = True) -> None:
        """Delete object ``id`` unless something still references it."""
        obj = self.get(session, actor=actor, id=id, for_update=True)
        self.check_not_referenced(session, obj)
        if self.before_delete:
            self.before_delete(session, obj, self.snapshot(obj))
        record_change(
            session,
            actor=actor,
            action=ChangeAction.DELETE,
            object_type=self.label,
            object_id=id,
            object_repr=str(getattr(obj, self.repr_field)),
            before=self.snapshot(obj),
            after=None,
        )
        session.delete(obj)
        self._flush(session)
        if commit:
            self.commit(session)


def registered() -> dict[str, Resource[Any]]:
    """Return every resource by table name (for generic checks and tests)."""
    return dict(_registry)

