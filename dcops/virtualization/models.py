"""Virtual machines of the agencies."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from ipaddress import ip_address

from pydantic import field_validator
from sqlalchemy import String
from sqlmodel import Field, SQLModel

from dcops.database import UTCDateTime, utcnow
from dcops.schemas import partial_model


class VMState(StrEnum):
    """Where a VM is in its life."""

    REQUESTED = "requested"
    PROVISIONING = "provisioning"
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"
    DECOMMISSIONED = "decommissioned"


class VirtualMachineBase(SQLModel):
    name: str = Field(min_length=1, max_length=63, schema_extra={"pattern": r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"},
                      description="host name: lower-case letters, digits and dashes")
    agency_id: int
    cluster_id: int
    host_id: int | None = Field(default=None, description="the hypervisor device it runs on")
    vcpus: int = Field(ge=1, le=512)
    ram_gib: int = Field(ge=1, le=8192)
    disk_gib: int = Field(ge=1, le=1_000_000)
    ip_address: str | None = Field(default=None, max_length=64)
    state: VMState = VMState.REQUESTED
    description: str = Field(default="", max_length=500)

    @field_validator("name", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("ip_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return str(ip_address(value.strip()))
        except ValueError:
            raise ValueError(f"'{value}' is not an IP address") from None


class VirtualMachine(VirtualMachineBase, table=True):
    """A tenant VM on a hypervisor of a cluster."""

    __tablename__ = "virtual_machine"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=63, unique=True)
    agency_id: int = Field(foreign_key="agency.id", ondelete="RESTRICT", index=True)
    cluster_id: int = Field(foreign_key="cluster.id", ondelete="RESTRICT", index=True)
    host_id: int | None = Field(default=None, foreign_key="device.id", ondelete="RESTRICT", index=True)
    ip_address: str | None = Field(default=None, max_length=64, unique=True)
    state: VMState = Field(default=VMState.REQUESTED, sa_type=String(16), index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class VirtualMachineCreate(VirtualMachineBase):
    pass


VirtualMachineUpdate = partial_model(VirtualMachineCreate, "VirtualMachineUpdate")


class VirtualMachinePublic(VirtualMachineBase):
    id: int
    created_at: datetime
