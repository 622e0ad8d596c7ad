"""The console's own table: flash messages, kept server-side for one browser session."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from dcops.database import UTCDateTime, utcnow


class WebFlash(SQLModel, table=True):
    """A message for the next page a browser session opens (shown once, then deleted)."""

    __tablename__ = "web_flash"

    id: int | None = Field(default=None, primary_key=True)
    session_key: str = Field(max_length=64, index=True)
    level: str = Field(default="info", max_length=10)
    message: str = Field(max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
