"""Stored growth assumptions of the budget plan: what planners expect of an agency's demand each year."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from dcops.database import UTCDateTime, utcnow


class GrowthAssumption(SQLModel, table=True):
    """A planner's growth assumption for one agency: a percentage per year, or amounts added per year.

    The budget plan uses it instead of the growth measured from the agency's VM history; a what-if
    request may still override it.
    """

    __tablename__ = "plan_growth_assumption"

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", ondelete="CASCADE", unique=True, index=True)
    percent: float | None = Field(default=None, ge=-100, le=1000)
    vcpus_per_year: float | None = None
    ram_gib_per_year: float | None = None
    disk_gib_per_year: float | None = None
    note: str = Field(default="", max_length=500)
    updated_by: str = Field(default="", max_length=100)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class GrowthAssumptionPublic(SQLModel):
    """A stored growth assumption as the API shows it."""

    agency_code: str
    percent: float | None
    vcpus_per_year: float | None
    ram_gib_per_year: float | None
    disk_gib_per_year: float | None
    note: str
    updated_by: str
    updated_at: datetime
