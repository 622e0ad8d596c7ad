"""The change log: who created, changed or deleted which object, when, with the values before and after.

It belongs to the platform because every write of the generic CRUD service (:mod:`dcops.crud`) records one
entry in the same transaction; features record their own actions (approvals, scopes) with
:func:`record_change` too. The table keeps its name, ``changelog``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, String
from sqlmodel import Field, Session, SQLModel, col, func, select

from dcops.actor import Actor
from dcops.database import UTCDateTime, utcnow


class ChangeAction(StrEnum):
    """What a change-log entry records."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class ChangeLogEntry(SQLModel, table=True):
    """One create, update or delete: who, when, which object, before and after."""

    __tablename__ = "changelog"

    id: int | None = Field(default=None, primary_key=True)
    time: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    user_id: int | None = Field(default=None, index=True)
    username: str = Field(max_length=64)
    action: ChangeAction = Field(sa_type=String(10))
    object_type: str = Field(max_length=50, index=True)
    object_id: int = Field(index=True)
    object_repr: str = Field(max_length=200)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


def record_change(
    session: Session,
    *,
    actor: Actor,
    action: ChangeAction,
    object_type: str,
    object_id: int,
    object_repr: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Add a change-log entry to the session's transaction."""
    session.add(
        ChangeLogEntry(
            user_id=actor.user_id,
            username=actor.username,
            action=action,
            object_type=object_type,
            object_id=object_id,
            object_repr=object_repr[:200],
            before=before,
            after=after,
        )
    )


def history(session: Session, *, object_type: str, object_id: int, limit: int = 20) -> list[ChangeLogEntry]:
    """Return the newest changes of one object, newest first."""
    stmt = (select(ChangeLogEntry)
            .where(ChangeLogEntry.object_type == object_type, ChangeLogEntry.object_id == object_id)
            .order_by(col(ChangeLogEntry.id).desc()).limit(limit))
    return list(session.exec(stmt).all())


def get_page(
    session: Session, *, object_type: str | None = None, object_id: int | None = None, username: str | None = None,
    limit: int = 50, offset: int = 0,
) -> tuple[list[ChangeLogEntry], int]:
    """Return one page of changes, newest first, and how many match (optionally of one object or one user)."""
    conditions = []
    if object_type:
        conditions.append(col(ChangeLogEntry.object_type) == object_type)
    if object_id is not None:
        conditions.append(col(ChangeLogEntry.object_id) == object_id)
    if username:
        conditions.append(col(ChangeLogEntry.username) == username)
    rows = session.exec(select(ChangeLogEntry).where(*conditions)
                        .order_by(col(ChangeLogEntry.id).desc()).limit(limit).offset(offset)).all()
    total = session.exec(select(func.count()).select_from(ChangeLogEntry).where(*conditions)).one()
    return list(rows), int(total)


def get(session: Session, *, id: int) -> ChangeLogEntry | None:
    """Return change-log entry ``id``, or None."""
    return session.get(ChangeLogEntry, id)
