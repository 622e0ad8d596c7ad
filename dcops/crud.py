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
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import BigInteger, ColumnElement, Integer, Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from dcops.actor import Actor
from dcops.changelog import ChangeAction, record_change
from dcops.database import utcnow
from dcops.exceptions import ConflictError, InUseError, NotFoundError, PermissionDeniedError, ValidationError
from dcops.hooks import Hook
from dcops.listing import Lister, ListQuery

M = TypeVar("M", bound=SQLModel)

#: A domain check: (session, the object as it will be written, its snapshot before, options) -> warnings.
Check = Callable[[Session, Any, dict[str, Any] | None, dict[str, Any]], list[str]]
#: Run around a write: (session, the object, its snapshot before or None) -> None.
WriteHook = Callable[[Session, Any, dict[str, Any] | None], None]

AGENCY_GUARD: Hook[Callable[[Session, Actor, int | None], None]] = Hook("agency write guard")
"""Raise PermissionDeniedError when the actor may not write for that agency (auth: operator scopes)."""

_registry: dict[str, Resource[Any]] = {}

INT32 = 2**31 - 1
INT64 = 2**63 - 1


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
        self.lists = Lister(self)
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

    def get_all(self, session: Session, *, actor: Actor, query: ListQuery) -> tuple[list[M], int]:
        """Return one page of objects and how many match in all."""
        return self.lists.objects(session, actor, query)

    def get_all_values(
        self, session: Session, *, actor: Actor, query: ListQuery, names: Sequence[str]
    ) -> tuple[list[dict[str, Any]], int]:
        """Like :meth:`get_all`, but read only the columns ``names`` as plain dicts (:meth:`Lister.values`)."""
        return self.lists.values(session, actor, query, names)

    def get_all_json(
        self, session: Session, *, actor: Actor, query: ListQuery, names: Sequence[str]
    ) -> tuple[str, int] | None:
        """Like :meth:`get_all_values`, but as JSON the database writes, or None (:meth:`Lister.written`)."""
        return self.lists.written(session, actor, query, names)

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

