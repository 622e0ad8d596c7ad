"""Capacity requests: what an operator asks for on behalf of an agency, and every step it went through."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import model_validator
from sqlalchemy import Column, ForeignKey, Integer, String
from sqlmodel import Field, SQLModel

from dcops.database import UTCDateTime, utcnow


class RequestStatus(StrEnum):
    """Where a capacity request is: requested -> approved | rejected -> provisioning -> fulfilled; or cancelled."""

    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    PROVISIONING = "provisioning"
    FULFILLED = "fulfilled"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: the moves a request may make; anything else is refused with the allowed moves named
TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    RequestStatus.REQUESTED: frozenset({RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.CANCELLED}),
    RequestStatus.APPROVED: frozenset({RequestStatus.PROVISIONING, RequestStatus.FULFILLED, RequestStatus.CANCELLED}),
    RequestStatus.PROVISIONING: frozenset({RequestStatus.FULFILLED, RequestStatus.FAILED}),
    RequestStatus.FAILED: frozenset({RequestStatus.PROVISIONING, RequestStatus.FULFILLED, RequestStatus.CANCELLED}),
    RequestStatus.REJECTED: frozenset(),
    RequestStatus.FULFILLED: frozenset(),
    RequestStatus.CANCELLED: frozenset(),
}

NAME_PREFIX = r"^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$"


class VMSpec(SQLModel):
    """One line of a request: ``count`` VMs of one size, named ``<name_prefix>-01``, ``-02``..."""

    name_prefix: str = Field(min_length=1, max_length=42, schema_extra={"pattern": NAME_PREFIX},
                             description="lower-case letters, digits and dashes; VMs get -01, -02... appended")
    count: int = Field(default=1, ge=1, le=100)
    vcpus: int = Field(ge=1, le=512)
    ram_gib: int = Field(ge=1, le=8192)
    disk_gib: int = Field(ge=1, le=1_000_000)
    cluster_id: int | None = Field(default=None, description="place only in this cluster")
    anti_affinity_group: str | None = Field(default=None, min_length=1, max_length=50,
                                            description="no two VMs of the group on one host")


class CapacityRequestItem(VMSpec, table=True):
    """A line of a capacity request."""

    __tablename__ = "capacity_request_item"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(sa_column=Column(Integer, ForeignKey("capacity_request.id", ondelete="CASCADE"),
                                             nullable=False, index=True))
    cluster_id: int | None = Field(default=None, foreign_key="cluster.id", ondelete="RESTRICT")


class CapacityRequestBase(SQLModel):
    agency_id: int
    justification: str = Field(min_length=3, max_length=2000, description="why the agency needs it")
    cluster_id: int | None = Field(default=None, description="preferred cluster for lines that name none")


class CapacityRequest(CapacityRequestBase, table=True):
    """Capacity an operator asks for on behalf of an agency."""

    __tablename__ = "capacity_request"

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", ondelete="RESTRICT", index=True)
    cluster_id: int | None = Field(default=None, foreign_key="cluster.id", ondelete="RESTRICT")
    status: RequestStatus = Field(default=RequestStatus.REQUESTED, sa_type=String(16), index=True)
    requested_by: str = Field(max_length=100)
    decided_by: str | None = Field(default=None, max_length=100)
    decision_reason: str = Field(default="", max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CapacityRequestEvent(SQLModel, table=True):
    """One step of a request's life: who moved it, from where to where, when and why."""

    __tablename__ = "capacity_request_event"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(sa_column=Column(Integer, ForeignKey("capacity_request.id", ondelete="CASCADE"),
                                             nullable=False, index=True))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    username: str = Field(max_length=100)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str = Field(max_length=16)
    note: str = Field(default="", max_length=2000)


class CapacityRequestVM(SQLModel, table=True):
    """A VM created when its request was approved (the reservation of its capacity)."""

    __tablename__ = "capacity_request_vm"

    vm_id: int = Field(sa_column=Column(Integer, ForeignKey("virtual_machine.id", ondelete="CASCADE"),
                                        primary_key=True))
    request_id: int = Field(sa_column=Column(Integer, ForeignKey("capacity_request.id", ondelete="CASCADE"),
                                             nullable=False, index=True))
    anti_affinity_group: str | None = Field(default=None, max_length=50)


# --- API schemas -------------------------------------------------------------------------


class CapacityRequestCreate(CapacityRequestBase):
    items: list[VMSpec] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _distinct_prefixes(self) -> CapacityRequestCreate:
        prefixes = [i.name_prefix for i in self.items]
        twice = sorted({p for p in prefixes if prefixes.count(p) > 1})
        if twice:
            raise ValueError(f"name_prefix {', '.join(twice)} appears more than once; give each line its own")
        return self


class Decision(SQLModel):
    reason: str = Field(default="", max_length=2000)


class Rejection(SQLModel):
    reason: str = Field(min_length=3, max_length=2000, description="why: the agency sees it")


class VMSpecPublic(VMSpec):
    id: int


class RequestEventPublic(SQLModel):
    at: datetime
    username: str
    from_status: str | None
    to_status: str
    note: str


class RequestVMPublic(SQLModel):
    id: int
    name: str
    host_id: int | None
    host: str | None
    ip_address: str | None
    state: str
    vcpus: int
    ram_gib: int
    disk_gib: int
    failure: str | None = None


class CapacityRequestPublic(CapacityRequestBase):
    id: int
    agency_code: str
    status: RequestStatus
    requested_by: str
    decided_by: str | None
    decision_reason: str
    created_at: datetime
    updated_at: datetime
    items: list[VMSpecPublic]
    total_vcpus: int
    total_ram_gib: int
    total_disk_gib: int
    total_vms: int
    vms: list[RequestVMPublic] = []
    events: list[RequestEventPublic] = []
    warnings: list[str] = []


class PlannedVM(SQLModel):
    name: str
    vcpus: int
    ram_gib: int
    disk_gib: int
    cluster: str | None
    host_id: int | None
    host: str | None


class PreviewPublic(SQLModel):
    """Where a request would go, or why it cannot."""

    fits: bool
    placements: list[PlannedVM]
    problems: list[str]


from dcops.capacity.plan_models import GrowthAssumption  # noqa: E402, F401  (the plan's table, registered here)
