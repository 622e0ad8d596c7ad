"""The notification outbox: an alert change to deliver, written in the transaction that made it.

A row is claimed by one deliverer at a time (``claimed_until`` is a lease), marked ``delivered`` after the last
channel accepted it, or ``failed`` after its tries. A process that dies mid-delivery leaves a claim that expires,
and the periodic drain delivers the row again: at least once, with ``dedup_id`` sent so receivers can drop a repeat.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from dcops.database import UTCDateTime, utcnow


class NotificationOutbox(SQLModel, table=True):
    """One alert change (firing or resolved) waiting to be, or having been, delivered."""

    __tablename__ = "notification_outbox"

    id: int | None = Field(default=None, primary_key=True)
    dedup_id: str = Field(max_length=120, unique=True, description="alert id, status and the change's time")
    alert_id: int = Field(sa_column=Column(Integer, ForeignKey("alert.id", ondelete="CASCADE"), index=True))
    status: str = Field(max_length=12, description="firing or resolved")
    state: str = Field(default="pending", max_length=10, index=True, description="pending, delivered, failed")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str = Field(default="", max_length=100)
    tries: int = 0
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str = Field(default="", max_length=500)


__all__ = ["NotificationOutbox"]
