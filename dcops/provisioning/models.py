"""Provisioning tables: hypervisor access, agency SSH keys, jobs and their events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from dcops.database import UTCDateTime, utcnow
from dcops.provisioning.choices import DomainType, JobAction, JobStatus

# --- hypervisor access ---------------------------------------------------------------------


class HypervisorAccessBase(SQLModel):
    ssh_port: int = Field(default=22, ge=1, le=65535)
    ssh_user: str = Field(default="root", min_length=1, max_length=64)
    libvirt_uri: str = Field(default="qemu:///system", max_length=200)
    storage_pool: str = Field(default="dcops", min_length=1, max_length=64, schema_extra={"pattern": r"^[\w.-]+$"})
    pool_path: str = Field(default="/var/lib/libvirt/images/dcops", max_length=255,
                           schema_extra={"pattern": r"^/[\w./-]+$"})
    base_image: str = Field(default="", max_length=255, description="volume path to clone; empty: blank disks")
    network: str = Field(default="", max_length=64, schema_extra={"pattern": r"^[\w.-]*$"},
                         description="libvirt network for tenant NICs; empty: no NIC")
    domain_type: DomainType = DomainType.AUTO
    ram_mib_per_gib: int = Field(default=1024, ge=16, le=1024,
                                 description="MiB given per requested GiB of RAM (lower on a lab host)")
    disk_mib_per_gib: int = Field(default=1024, ge=1, le=1024,
                                  description="MiB given per requested GiB of disk (lower on a lab host)")


class HypervisorAccess(HypervisorAccessBase, table=True):
    """How dcops reaches a hypervisor device: SSH login, pinned host key, libvirt URI, pool and network."""

    __tablename__ = "hypervisor_access"

    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="device.id", ondelete="CASCADE", unique=True)
    credential_id: int = Field(foreign_key="credential.id", ondelete="RESTRICT", index=True)
    domain_type: DomainType = Field(default=DomainType.AUTO, sa_type=String(8))
    host_key: str = Field(default="", max_length=4000, description="pinned public host key: 'type base64'")
    host_key_fingerprint: str = Field(default="", max_length=100)
    preflight_ok: bool | None = None
    preflight_message: str = Field(default="", max_length=1000)
    preflight_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class HypervisorRegister(HypervisorAccessBase):
    """Register (or update) a hypervisor: device, address, SSH key and where VMs go."""

    name: str = Field(min_length=1, max_length=64, schema_extra={"pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]*$"})
    address: str = Field(max_length=64, description="management address dcops connects to")
    cluster: str = Field(min_length=1, max_length=100)
    site: str | None = Field(default=None, max_length=100, description="site name; default: the cluster's site")
    private_key: str = Field(min_length=32, max_length=20000, description="write-only SSH private key")
    passphrase: str | None = Field(default=None, max_length=200, description="write-only")


class HypervisorPublic(HypervisorAccessBase):
    id: int
    device_id: int
    name: str
    address: str | None
    cluster_id: int | None
    site_id: int
    credential_id: int
    host_key: str
    host_key_fingerprint: str
    preflight_ok: bool | None
    preflight_message: str
    preflight_at: datetime | None


# --- agency SSH keys -----------------------------------------------------------------------


class AgencySSHKeys(SQLModel, table=True):
    """The public SSH keys cloud-init installs in every VM of an agency."""

    __tablename__ = "agency_ssh_keys"

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", ondelete="CASCADE", unique=True)
    authorized_keys: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AgencySSHKeysUpdate(SQLModel):
    authorized_keys: str = Field(max_length=100_000, description="OpenSSH public keys, one a line")


# --- jobs ------------------------------------------------------------------------------------


class Job(SQLModel, table=True):
    """One run of a playbook against one VM on one hypervisor."""

    id: int | None = Field(default=None, primary_key=True)
    action: JobAction = Field(sa_type=String(16))
    status: JobStatus = Field(default=JobStatus.QUEUED, sa_type=String(12), index=True)
    vm_id: int | None = Field(default=None, foreign_key="virtual_machine.id", ondelete="CASCADE", index=True)
    vm_name: str = Field(default="", max_length=63)
    agency_id: int | None = Field(default=None, index=True)
    host_id: int | None = Field(default=None, foreign_key="device.id", ondelete="SET NULL", index=True)
    request_id: int | None = Field(default=None, index=True)
    retry_of: int | None = None
    extravars: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    timeout_s: int = Field(default=1800)
    cancel_requested: bool = False
    worker: str = Field(default="", max_length=100, description="host:pid of the process running it")
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime,
                                         description="the running worker's lease; renewed by its heartbeat")
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    rc: int | None = None
    error: str = Field(default="", max_length=2000)
    failed_task: str = Field(default="", max_length=300)
    changed: int = 0
    stdout: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class JobEvent(SQLModel, table=True):
    """One Ansible event of a job (task start, host result, play recap)."""

    __tablename__ = "job_event"
    __table_args__ = (UniqueConstraint("job_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="job.id", ondelete="CASCADE", index=True)
    seq: int
    event: str = Field(max_length=64)
    task: str = Field(default="", max_length=300)
    host: str = Field(default="", max_length=100)
    status: str = Field(default="", max_length=16)
    changed: bool = False
    duration_s: float | None = None
    message: str = Field(default="", max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class JobEventPublic(SQLModel):
    seq: int
    event: str
    task: str
    host: str
    status: str
    changed: bool
    duration_s: float | None
    message: str
    created_at: datetime


class JobPublic(SQLModel):
    id: int
    action: JobAction
    status: JobStatus
    vm_id: int | None
    vm_name: str
    agency_id: int | None
    host_id: int | None
    request_id: int | None
    retry_of: int | None
    extravars: dict[str, Any]
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    timeout_s: int
    cancel_requested: bool
    rc: int | None
    error: str
    failed_task: str
    changed: int


class JobDetail(JobPublic):
    events: list[JobEventPublic]
    stdout: str


class ResizeBody(SQLModel):
    vcpus: int | None = Field(default=None, ge=1, le=512)
    ram_gib: int | None = Field(default=None, ge=1, le=8192)
