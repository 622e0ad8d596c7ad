"""Agencies and their quotas."""

from __future__ import annotations

from datetime import datetime

from pydantic import field_validator
from sqlalchemy import String
from sqlmodel import Field, SQLModel

from dcops.database import UTCDateTime, utcnow
from dcops.schemas import partial_model
from dcops.tenancy.choices import AgencyKind


class AgencyBase(SQLModel):
    code: str = Field(min_length=2, max_length=20, schema_extra={"pattern": r"^[A-Z0-9][A-Z0-9_-]*$"},
                      description="short upper-case code, e.g. DINKES")
    name: str = Field(min_length=2, max_length=200)
    kind: AgencyKind = AgencyKind.DINAS
    parent_id: int | None = None
    contact_name: str = Field(default="", max_length=200)
    contact_email: str = Field(default="", max_length=254)
    contact_phone: str = Field(default="", max_length=50)
    quota_vcpus: int | None = Field(default=None, ge=0, le=100_000, description="null: no limit")
    quota_ram_gib: int | None = Field(default=None, ge=0, le=10_000_000)
    quota_disk_gib: int | None = Field(default=None, ge=0, le=100_000_000)
    quota_vms: int | None = Field(default=None, ge=0, le=100_000)
    description: str = Field(default="", max_length=500)

    @field_validator("code", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value


class Agency(AgencyBase, table=True):
    """A tenant: an OPD (formerly SKPD) whose servers the data center hosts."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True, index=True)
    name: str = Field(max_length=200, unique=True)
    kind: AgencyKind = Field(default=AgencyKind.DINAS, sa_type=String(12))
    parent_id: int | None = Field(default=None, foreign_key="agency.id", ondelete="RESTRICT", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AgencyCreate(AgencyBase):
    pass


AgencyUpdate = partial_model(AgencyCreate, "AgencyUpdate")


class AgencyPublic(AgencyBase):
    id: int
    created_at: datetime
