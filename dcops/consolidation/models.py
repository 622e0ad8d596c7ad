"""Agency applications, migration waves, every status change, and the showback assumptions."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import model_validator
from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from dcops.consolidation.choices import AppStatus, Criticality, DataClass, Hosting, Purpose
from dcops.database import UTCDateTime, utcnow
from dcops.schemas import partial_model

# --- migration waves -----------------------------------------------------------------------


class WaveBase(SQLModel):
    name: str = Field(min_length=1, max_length=100)
    fiscal_year: int = Field(ge=2000, le=2100, description="the APBD fiscal year that pays for it")
    starts_on: date | None = None
    ends_on: date | None = None
    description: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _ordered(self) -> WaveBase:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on; swap the dates")
        return self


class MigrationWave(WaveBase, table=True):
    """A batch of applications brought into the data center together, paid from one fiscal year."""

    __tablename__ = "migration_wave"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WaveCreate(WaveBase):
    pass


WaveUpdate = partial_model(WaveCreate, "WaveUpdate")


class WavePublic(WaveBase):
    id: int


# --- applications ---------------------------------------------------------------------------


class ApplicationBase(SQLModel):
    agency_id: int
    name: str = Field(min_length=1, max_length=100)
    purpose: Purpose = Purpose.PUBLIC_SERVICE
    criticality: Criticality = Criticality.MEDIUM
    data_classification: DataClass = DataClass.INTERNAL
    owner_contact: str = Field(default="", max_length=200, description="who answers for it at the agency")
    url: str = Field(default="", max_length=300)
    hosting: Hosting = Hosting.AGENCY_SERVER
    server_device_id: int | None = Field(default=None, description="the agency server it runs on (role server)")
    est_vcpus: int = Field(default=0, ge=0, le=4096, description="estimate while outside the data center")
    est_ram_gib: int = Field(default=0, ge=0, le=65536)
    est_disk_gib: int = Field(default=0, ge=0, le=1_000_000)
    est_vm_count: int = Field(default=1, ge=0, le=100)
    description: str = Field(default="", max_length=500)


class AgencyApplication(ApplicationBase, table=True):
    """An agency's application (aplikasi), where it runs, and how far its move into the data center has got."""

    __tablename__ = "agency_application"
    __table_args__ = (UniqueConstraint("agency_id", "name", name="uq_agency_application_name"),)

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", ondelete="RESTRICT", index=True)
    purpose: Purpose = Field(default=Purpose.PUBLIC_SERVICE, sa_type=String(16))
    criticality: Criticality = Field(default=Criticality.MEDIUM, sa_type=String(10))
    data_classification: DataClass = Field(default=DataClass.INTERNAL, sa_type=String(14))
    hosting: Hosting = Field(default=Hosting.AGENCY_SERVER, sa_type=String(14))
    server_device_id: int | None = Field(default=None, foreign_key="device.id", ondelete="SET NULL", index=True)
    status: AppStatus = Field(default=AppStatus.OUTSIDE, sa_type=String(10), index=True)
    wave_id: int | None = Field(default=None, foreign_key="migration_wave.id", ondelete="RESTRICT", index=True)
    capacity_request_id: int | None = Field(default=None, foreign_key="capacity_request.id", ondelete="SET NULL",
                                            index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ApplicationCreate(ApplicationBase):
    pass


ApplicationUpdate = partial_model(ApplicationCreate, "ApplicationUpdate")


class ApplicationVM(SQLModel, table=True):
    """A data-center VM an application runs on (from its capacity request, or linked by hand)."""

    __tablename__ = "agency_application_vm"

    vm_id: int = Field(sa_column=Column(Integer, ForeignKey("virtual_machine.id", ondelete="CASCADE"),
                                        primary_key=True))
    application_id: int = Field(sa_column=Column(Integer, ForeignKey("agency_application.id", ondelete="CASCADE"),
                                                 nullable=False, index=True))


class ApplicationEvent(SQLModel, table=True):
    """One step of an application's migration: who, when, from which status to which, and why."""

    __tablename__ = "agency_application_event"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(sa_column=Column(Integer, ForeignKey("agency_application.id", ondelete="CASCADE"),
                                                 nullable=False, index=True))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    username: str = Field(max_length=100)
    from_status: str | None = Field(default=None, max_length=10)
    to_status: str = Field(max_length=10)
    note: str = Field(default="", max_length=500)


class EventPublic(SQLModel):
    at: datetime
    username: str
    from_status: str | None
    to_status: str
    note: str


class ApplicationPublic(ApplicationBase):
    id: int
    agency_code: str = ""
    status: AppStatus
    wave_id: int | None
    wave: str | None = None
    fiscal_year: int | None = None
    capacity_request_id: int | None
    vm_ids: list[int] = []
    events: list[EventPublic] = []
    created_at: datetime
    updated_at: datetime


class PlanIn(SQLModel):
    """Put an application in a wave (status planned)."""

    wave_id: int
    note: str = Field(default="", max_length=500)


class MoveIn(SQLModel):
    """Move an application along by hand (retire its server, back to planned...)."""

    status: AppStatus
    note: str = Field(default="", max_length=500)


class StartIn(SQLModel):
    """Start a migration: file the capacity request from the estimate."""

    cluster_id: int | None = None
    justification: str = Field(default="", max_length=2000)


# --- showback assumptions (one row) ---------------------------------------------------------


class ShowbackSettingsBase(SQLModel):
    amortisation_years: float = Field(default=5.0, gt=0, le=30, description="hardware life for amortisation")
    tariff_idr_per_kwh: float = Field(default=1699.53, ge=0, le=100_000, description="electricity tariff")
    pue: float = Field(default=1.6, ge=1, le=5, description="facility power per IT power (cooling, losses)")
    load_factor: float = Field(default=0.6, gt=0, le=1, description="average draw / nameplate where not measured")
    overhead_percent: float = Field(default=15.0, ge=0, le=500, description="staff, licences, maintenance")
    cpu_weight: float = Field(default=0.5, ge=0, le=1, description="share of compute cost by vCPU (rest by RAM)")
    own_server_price_idr: int = Field(default=120_000_000, ge=0, le=10**12, sa_type=BigInteger,
                                      description="typical agency server price, when its device type has none")
    own_server_power_w: int = Field(default=450, ge=0, le=100_000, description="its nameplate power")
    own_pue: float = Field(default=2.0, ge=1, le=5, description="an office server room's cooling overhead")
    own_overhead_percent: float = Field(default=25.0, ge=0, le=500,
                                        description="the agency's own upkeep: staff time, spares, licences")


class ShowbackSettings(ShowbackSettingsBase, table=True):
    """The showback assumptions, editable by planners and admins (one row)."""

    __tablename__ = "showback_settings"

    id: int | None = Field(default=None, primary_key=True)
    updated_by: str = Field(default="system", max_length=100)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


ShowbackSettingsUpdate = partial_model(ShowbackSettingsBase, "ShowbackSettingsUpdate")
