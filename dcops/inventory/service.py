"""Reads behind the inventory commands that the generic CRUD resources do not cover."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from dcops.crud import Resource


def names_by_id(session: Session, resource: Resource[Any], ids: Iterable[int]) -> dict[int, Any]:
    """Return the natural name (``repr_field``) of each object of ``resource`` among ``ids``, by id."""
    id_column = resource.column("id")
    rows = session.execute(select(id_column, resource.column(resource.repr_field)).where(id_column.in_(list(ids))))
    return {row[0]: row[1] for row in rows}
