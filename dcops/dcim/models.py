"""Sites, rooms, racks, manufacturers, device types, devices, clusters and credentials.

Each entity has one family of classes: ``XBase`` (fields a user sets), ``X``
(the table), ``XCreate``, ``XUpdate`` (all optional, for PATCH) and ``XPublic``.
"""

from __future__ import annotations

from datetime import datetime
from ipaddress import ip_address

from pydantic import field_validator
from sqlalchemy import BigInteger, Column, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from dcops.database import UTCDateTime, utcnow
from dcops.dcim.choices import AuthProtocol, CredentialKind, DeviceRole, DeviceStatus, PrivProtocol, RackFace
from dcops.schemas import partial_model

# --- Site ----------------------------------------------------------------------------


class SiteBase(SQLModel):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=500)
    address: str = Field(default="", max_length=500)
    agency_id: int | None = Field(default=None, description="set when the site is this agency's own premises "
                                  "(its office server room), outside the data center")


class Site(SiteBase, table=True):
    """A data-center building (the main site, the DR site) or, with ``agency_id``, an agency's own premises."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    agency_id: int | None = Field(default=None, foreign_key="agency.id", ondelete="RESTRICT", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SiteCreate(SiteBase):
    pass


SiteUpdate = partial_model(SiteCreate, "SiteUpdate")


class SitePublic(SiteBase):
    id: int
    created_at: datetime


# --- Room ----------------------------------------------------------------------------


class RoomBase(SQLModel):
    site_id: int
    name: str = Field(min_length=1, max_length=100)
    floor: str = Field(default="", max_length=50)
    description: str = Field(default="", max_length=500)


class Room(RoomBase, table=True):
    """A server room (or hall) inside a site."""

    __table_args__ = (UniqueConstraint("site_id", "name", name="uq_room_site_name"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", ondelete="RESTRICT", index=True)


class RoomCreate(RoomBase):
    pass


RoomUpdate = partial_model(RoomCreate, "RoomUpdate")


class RoomPublic(RoomBase):
    id: int


# --- Rack ----------------------------------------------------------------------------


class RackBase(SQLModel):
    site_id: int
    room_id: int | None = None
    name: str = Field(min_length=1, max_length=100)
    u_height: int = Field(default=42, ge=1, le=100)
    power_budget_w: int = Field(default=5000, ge=0, le=1_000_000)
    description: str = Field(default="", max_length=500)


class Rack(RackBase, table=True):
    """A rack; units are numbered from 1 at the bottom, as NetBox does."""

    __table_args__ = (UniqueConstraint("site_id", "name", name="uq_rack_site_name"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", ondelete="RESTRICT", index=True)
    room_id: int | None = Field(default=None, foreign_key="room.id", ondelete="RESTRICT", index=True)


class RackCreate(RackBase):
    pass


RackUpdate = partial_model(RackCreate, "RackUpdate")


class RackPublic(RackBase):
    id: int


class RackUnit(SQLModel, table=True):
    """One occupied rack unit on one face: the database's guard against overlaps."""

    __tablename__ = "rack_unit"

    rack_id: int = Field(sa_column=Column(Integer, ForeignKey("rack.id", ondelete="CASCADE"), primary_key=True))
    unit: int = Field(primary_key=True)
    face: RackFace = Field(sa_type=String(5), primary_key=True)
    device_id: int = Field(
        sa_column=Column(Integer, ForeignKey("device.id", ondelete="CASCADE"), nullable=False, index=True)
    )


# --- Manufacturer and DeviceType -------------------------------------------------------


class ManufacturerBase(SQLModel):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=500)


class Manufacturer(ManufacturerBase, table=True):
    """A hardware vendor (Dell, HPE, Lenovo, Cisco, APC, Eaton, ...)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)


class ManufacturerCreate(ManufacturerBase):
    pass


ManufacturerUpdate = partial_model(ManufacturerCreate, "ManufacturerUpdate")


class ManufacturerPublic(ManufacturerBase):
    id: int


class DeviceTypeBase(SQLModel):
    manufacturer_id: int
    model: str = Field(min_length=1, max_length=100)
    slug: str = Field(min_length=1, max_length=100, schema_extra={"pattern": r"^[a-z0-9][a-z0-9_-]*$"})
    part_number: str = Field(default="", max_length=100)
    u_height: int = Field(default=1, ge=0, le=60)
    is_full_depth: bool = True
    max_power_w: int | None = Field(
        default=None, ge=0, le=100_000,
        description="power a planner counts for one unit (W); null when unknown (never taken as 0 W)")
    cpu_sockets: int = Field(default=0, ge=0, le=16)
    cpu_cores: int = Field(default=0, ge=0, le=4096, description="physical cores in all sockets")
    cpu_threads: int = Field(default=0, ge=0, le=8192, description="hardware threads in all sockets")
    ram_gib: int = Field(default=0, ge=0, le=65536)
    storage_tb: float = Field(default=0.0, ge=0, le=100_000)
    price_idr: int = Field(default=0, ge=0, le=10**15, description="unit price in Rupiah")
    comments: str = Field(default="", max_length=2000)


class DeviceType(DeviceTypeBase, table=True):
    """A hardware model, with what it offers (CPU, RAM, storage) and costs (U, W, IDR)."""

    __tablename__ = "device_type"
    __table_args__ = (UniqueConstraint("manufacturer_id", "model", name="uq_device_type_model"),)

    id: int | None = Field(default=None, primary_key=True)
    manufacturer_id: int = Field(foreign_key="manufacturer.id", ondelete="RESTRICT", index=True)
    slug: str = Field(max_length=100, unique=True)
    price_idr: int = Field(default=0, sa_type=BigInteger)


class DeviceTypeCreate(DeviceTypeBase):
    pass


DeviceTypeUpdate = partial_model(DeviceTypeCreate, "DeviceTypeUpdate")


class DeviceTypePublic(DeviceTypeBase):
    id: int


# --- Cluster -------------------------------------------------------------------------


class ClusterBase(SQLModel):
    name: str = Field(min_length=1, max_length=100)
    site_id: int | None = None
    vcpu_ratio: float = Field(default=4.0, gt=0, le=64, description="vCPU allocated per physical thread")
    ram_ratio: float = Field(default=1.0, gt=0, le=4)
    disk_ratio: float = Field(default=1.0, gt=0, le=10)
    ha_reserve_hosts: int = Field(default=1, ge=0, le=16, description="hosts kept free for failover")
    description: str = Field(default="", max_length=500)


class Cluster(ClusterBase, table=True):
    """A group of hypervisors sharing allocation ratios and an HA reserve."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    site_id: int | None = Field(default=None, foreign_key="site.id", ondelete="RESTRICT", index=True)


class ClusterCreate(ClusterBase):
    pass


ClusterUpdate = partial_model(ClusterCreate, "ClusterUpdate")


class ClusterPublic(ClusterBase):
    id: int


# --- Credential ----------------------------------------------------------------------


class CredentialBase(SQLModel):
    name: str = Field(min_length=1, max_length=100)
    kind: CredentialKind
    username: str = Field(default="", max_length=100, description="SNMPv3 user or SSH login")
    auth_protocol: AuthProtocol = AuthProtocol.NONE
    priv_protocol: PrivProtocol = PrivProtocol.NONE
    description: str = Field(default="", max_length=500)


class Credential(CredentialBase, table=True):
    """An SNMP community, SNMPv3 user or SSH key; the secret parts are encrypted at rest."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    kind: CredentialKind = Field(sa_type=String(10))
    auth_protocol: AuthProtocol = Field(default=AuthProtocol.NONE, sa_type=String(10))
    priv_protocol: PrivProtocol = Field(default=PrivProtocol.NONE, sa_type=String(10))
    secret_blob: bytes = Field(sa_type=LargeBinary)
    secret_fields: str = Field(default="", max_length=200, description="names of the stored secrets")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


CREDENTIAL_SECRETS = ("community", "auth_key", "priv_key", "private_key", "passphrase")


class CredentialCreate(CredentialBase):
    community: str | None = Field(default=None, min_length=1, max_length=200, description="write-only")
    auth_key: str | None = Field(default=None, min_length=8, max_length=200, description="write-only")
    priv_key: str | None = Field(default=None, min_length=8, max_length=200, description="write-only")
    private_key: str | None = Field(default=None, min_length=32, max_length=20000, description="write-only")
    passphrase: str | None = Field(default=None, max_length=200, description="write-only")


CredentialUpdate = partial_model(CredentialCreate, "CredentialUpdate")


class CredentialPublic(CredentialBase):
    id: int
    secret_fields: list[str]
    created_at: datetime

    @field_validator("secret_fields", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return [v for v in value.split(",") if v] if isinstance(value, str) else value


# --- Device --------------------------------------------------------------------------


class DeviceBase(SQLModel):
    name: str = Field(min_length=1, max_length=64, schema_extra={"pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]*$"})
    device_type_id: int
    role: DeviceRole
    site_id: int
    rack_id: int | None = None
    position: int | None = Field(default=None, ge=1, le=100, description="lowest rack unit occupied")
    face: RackFace | None = None
    serial: str = Field(default="", max_length=100)
    asset_tag: str | None = Field(default=None, min_length=1, max_length=100)
    mgmt_address: str | None = Field(default=None, max_length=64, description="management IP address")
    status: DeviceStatus = DeviceStatus.ACTIVE
    cluster_id: int | None = None
    snmp_credential_id: int | None = None
    description: str = Field(default="", max_length=500)
    owner_agency_id: int | None = Field(default=None, description="the agency that owns the device (its own "
                                        "server); empty for the data center's equipment")

    @field_validator("mgmt_address")
    @classmethod
    def _valid_ip(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            return str(ip_address(value))
        except ValueError:
            raise ValueError(f"'{value}' is not an IPv4 or IPv6 address") from None


class Device(DeviceBase, table=True):
    """A piece of equipment: hypervisor, storage, switch, router, firewall, UPS, PDU."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    device_type_id: int = Field(foreign_key="device_type.id", ondelete="RESTRICT", index=True)
    role: DeviceRole = Field(sa_type=String(12), index=True)
    site_id: int = Field(foreign_key="site.id", ondelete="RESTRICT", index=True)
    rack_id: int | None = Field(default=None, foreign_key="rack.id", ondelete="RESTRICT", index=True)
    face: RackFace | None = Field(default=None, sa_type=String(5))
    asset_tag: str | None = Field(default=None, max_length=100, unique=True)
    status: DeviceStatus = Field(default=DeviceStatus.ACTIVE, sa_type=String(16), index=True)
    cluster_id: int | None = Field(default=None, foreign_key="cluster.id", ondelete="RESTRICT", index=True)
    snmp_credential_id: int | None = Field(
        default=None, foreign_key="credential.id", ondelete="RESTRICT", index=True
    )
    owner_agency_id: int | None = Field(default=None, foreign_key="agency.id", ondelete="RESTRICT", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DeviceCreate(DeviceBase):
    allow_power_overcommit: bool = Field(
        default=False, description="accept a rack power budget overrun with a warning instead of refusing"
    )


DeviceUpdate = partial_model(DeviceCreate, "DeviceUpdate")


class DevicePublic(DeviceBase):
    id: int
    created_at: datetime
    updated_at: datetime
    warnings: list[str] = []
