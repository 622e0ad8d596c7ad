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
from sqlalchemy import BigInteger, ColumnElement, Integer, Table, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from dcops.actor import Actor
from dcops.changelog import ChangeAction, record_change
from dcops.database import utcnow
from dcops.exceptions import ConflictError, InUseError, NotFoundError, PermissionDeniedError, ValidationError
from dcops.hooks import Hook
from dcops.pages import sqlite_page

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

    def _list_statement(self, actor: Actor, query: ListQuery) -> tuple[Any, ColumnElement[bool] | None] | None:
        """Check ``query``; return (a function adding WHERE, ORDER BY, LIMIT and OFFSET to a select, the WHERE
        clause), or None when the actor can see nothing of this table."""
        if actor.scoped_agency is not None and self.scope is None:
            return None
        conditions: list[ColumnElement[bool]] = []
        cond = self._scope_condition(actor)
        if cond is not None:
            conditions.append(cond)
        for name, value in query.filters.items():
            if value is None:
                continue
            if name not in self.filters:
                raise ValidationError(
                    f"cannot filter {self.plural} by '{name}'; filter by one of: {', '.join(self.filters) or 'none'}",
                    field=name)
            conditions.append(self.column(name) == value)
        if query.q:
            pattern = f"%{like_escape(query.q.strip().lower())}%"
            conditions.append(or_(*(func.lower(self.column(f)).like(pattern, escape="\\") for f in self.search)))
        ordering = query.ordering or self.default_ordering
        descending = ordering.startswith("-")
        key = ordering.lstrip("-")
        if key not in self.orderings:
            raise ValidationError(
                f"cannot order {self.plural} by '{key}'; choose one of: {', '.join(self.orderings)}",
                field="ordering",
            )
        if not 1 <= query.limit <= MAX_LIMIT:
            raise ValidationError(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
        if query.offset < 0:
            raise ValidationError("offset must not be negative", field="offset")
        where = and_(*conditions) if conditions else None
        order_col = self.column(key)

        def page(stmt: Any) -> Any:
            if where is not None:
                stmt = stmt.where(where)
            stmt = stmt.order_by(order_col.desc() if descending else order_col)
            if key != "id":
                stmt = stmt.order_by(self.column("id"))
            return stmt.limit(query.limit).offset(query.offset)

        return page, where

    def _count(self, session: Session, where: ColumnElement[bool] | None, query: ListQuery, found: int) -> int:
        """How many rows match in all; without asking the database when the page itself tells."""
        if 0 < found < query.limit or (found == 0 and query.offset == 0):
            return query.offset + found  # a short (or empty first) page is the end of the list
        count_stmt = select(func.count()).select_from(self.table)
        if where is not None:
            count_stmt = count_stmt.where(where)
        return int(session.connection().execute(count_stmt).scalar_one())

    def get_all(self, session: Session, *, actor: Actor, query: ListQuery) -> tuple[list[M], int]:
        """Return one page of objects and how many match in all."""
        built = self._list_statement(actor, query)
        if built is None:
            return [], 0
        page, where = built
        rows = list(session.execute(page(select(self.model))).scalars().all())
        return rows, self._count(session, where, query, len(rows))

    def get_all_values(
        self, session: Session, *, actor: Actor, query: ListQuery, names: Sequence[str]
    ) -> tuple[list[dict[str, Any]], int]:
        """Like :meth:`get_all`, but read only the columns ``names`` and return plain dicts (no ORM objects).

        Same filters, search, ordering, scoping and checks as :meth:`get_all`; for list endpoints, which only
        serialise what they read.
        """
        built = self._list_statement(actor, query)
        if built is None:
            return [], 0
        page, where = built
        columns = self.table.c
        selected = [columns[n] for n in names]
        dialect = session.get_bind().dialect
        if dialect.name == "sqlite" and (rows := sqlite_page(session, page, selected, names)) is not None:
            return rows, self._count(session, where, query, len(rows))
        # read through the session's connection (its transaction), not the ORM: plain column values need none
        # of its row loading, which cost a tenth of a list request's CPU on PostgreSQL (measured)
        connection = session.connection()
        if dialect.name != "postgresql":
            rows = [dict(zip(names, row, strict=True)) for row in connection.execute(page(select(*selected)))]
            return rows, self._count(session, where, query, len(rows))
        # on PostgreSQL the total rides along (a window over the filtered rows, before LIMIT): one round trip
        # less; on SQLite two statements are cheaper (measured). zip stops at the names: the total is left out
        found = connection.execute(page(select(*selected, func.count().over()))).fetchall()
        rows = [dict(zip(names, row)) for row in found]  # noqa: B905
        return rows, int(found[0][-1]) if found else self._count(session, where, query, 0)

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

