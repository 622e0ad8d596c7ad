"""What the demo created: the demo touches only objects marked here, never one it did not create."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class DemoObject(SQLModel, table=True):
    """One object created by ``dcops demo`` (table name and primary key of the object)."""

    __tablename__ = "demo_object"

    kind: str = Field(primary_key=True, max_length=60)
    object_id: int = Field(primary_key=True)
