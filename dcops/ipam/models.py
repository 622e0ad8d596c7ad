"""Prefixes and IP addresses."""

from __future__ import annotations

from enum import StrEnum
from ipaddress import ip_address, ip_network

from pydantic import field_validator
from sqlalchemy import String
from sqlmodel import Field, SQLModel

from dcops.schemas import partial_model


class PrefixPurpose(StrEnum):
    """What a prefix is used for."""

    TENANT = "tenant"
    MANAGEMENT = "management"
    STORAGE = "storage"
    PUBLIC = "public"
    TRANSIT = "transit"
    OTHER = "other"


class IPStatus(StrEnum):
    """State of an IP address allocation."""

    ACTIVE = "active"
    RESERVED = "reserved"
    DEPRECATED = "deprecated"


class PrefixBase(SQLModel):
    cidr: str = Field(max_length=64, description="network in CIDR notation, e.g. 10.20.1.0/24")
    vlan_id: int | None = Field(default=None, ge=1, le=4094)
    agency_id: int | None = None
    purpose: PrefixPurpose = PrefixPurpose.TENANT
    gateway: str | None = Field(default=None, max_length=64)
    description: str = Field(default="", max_length=500)

    @field_validator("cidr")
    @classmethod
    def _network(cls, value: str) -> str:
        try:
            return str(ip_network(value.strip(), strict=True))
        except ValueError as exc:
            raise ValueError(f"'{value}' is not a network in CIDR notation ({exc})") from None

    @field_validator("gateway")
    @classmethod
    def _gateway(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return str(ip_address(value.strip()))
        except ValueError:
            raise ValueError(f"'{value}' is not an IP address") from None


class Prefix(PrefixBase, table=True):
    """A block of addresses, usually one agency's VLAN."""

    id: int | None = Field(default=None, primary_key=True)
    cidr: str = Field(max_length=64, unique=True)
    agency_id: int | None = Field(default=None, foreign_key="agency.id", ondelete="RESTRICT", index=True)
    purpose: PrefixPurpose = Field(default=PrefixPurpose.TENANT, sa_type=String(12))


class PrefixCreate(PrefixBase):
    pass


PrefixUpdate = partial_model(PrefixCreate, "PrefixUpdate")


class PrefixPublic(PrefixBase):
    id: int


class IPAddressBase(SQLModel):
    address: str = Field(max_length=64, description="a single address, without mask")
    prefix_id: int | None = Field(default=None, description="derived from the address when omitted")
    agency_id: int | None = None
    vm_id: int | None = None
    device_id: int | None = None
    status: IPStatus = IPStatus.ACTIVE
    dns_name: str = Field(default="", max_length=255)
    description: str = Field(default="", max_length=500)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            return str(ip_address(value.strip().split("/")[0]))
        except ValueError:
            raise ValueError(f"'{value}' is not an IP address") from None


class IPAddress(IPAddressBase, table=True):
    """One allocated address, unique in the data center."""

    __tablename__ = "ip_address"

    id: int | None = Field(default=None, primary_key=True)
    address: str = Field(max_length=64, unique=True)
    prefix_id: int = Field(foreign_key="prefix.id", ondelete="RESTRICT", index=True)
    agency_id: int | None = Field(default=None, foreign_key="agency.id", ondelete="RESTRICT", index=True)
    vm_id: int | None = Field(default=None, foreign_key="virtual_machine.id", ondelete="CASCADE", index=True)
    device_id: int | None = Field(default=None, foreign_key="device.id", ondelete="RESTRICT", index=True)
    status: IPStatus = Field(default=IPStatus.ACTIVE, sa_type=String(12))


class IPAddressCreate(IPAddressBase):
    pass


IPAddressUpdate = partial_model(IPAddressCreate, "IPAddressUpdate")


class IPAddressPublic(IPAddressBase):
    id: int
    prefix_id: int


class NextAddressRequest(SQLModel):
    """Ask for the next free address of a prefix."""

    vm_id: int | None = None
    device_id: int | None = None
    dns_name: str = Field(default="", max_length=255)
    description: str = Field(default="", max_length=500)
