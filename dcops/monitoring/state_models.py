"""Latest metric values, bounded history and reachability per device (owned by the poller work).

Volume drives the shape: 2,000 devices x ~80 metrics every minute. History keeps one row per
device per poll with every value in one JSON column (keys ``metric{label=value,...}``), so a
poll costs one insert, not eighty; rows older than the raw window are averaged into 5-minute
rows (``resolution_s`` 300) and pruned. The latest state is one row per device, rewritten per poll.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from dcops.database import UTCDateTime, utcnow


class MonitoringSetting(SQLModel, table=True):
    """How one device is polled: interval, SNMP port, v3-only flag, and whether it is polled at all."""

    __tablename__ = "monitoring_setting"

    device_id: int = Field(sa_column=Column(Integer, ForeignKey("device.id", ondelete="CASCADE"), primary_key=True))
    interval_s: int = Field(default=60, ge=5, le=3600)
    snmp_port: int = Field(default=161, ge=1, le=65535)
    v3_only: bool = False
    enabled: bool = True


class MonitoringSettingUpdate(SQLModel):
    """PATCH body of a device's monitoring settings (every field optional)."""

    interval_s: int | None = Field(default=None, ge=5, le=3600)
    snmp_port: int | None = Field(default=None, ge=1, le=65535)
    v3_only: bool | None = None
    enabled: bool | None = None


class DeviceState(SQLModel, table=True):
    """The latest poll of one device: reachability, samples, facts and the raw counters for the next rates."""

    __tablename__ = "device_state"

    device_id: int = Field(sa_column=Column(Integer, ForeignKey("device.id", ondelete="CASCADE"), primary_key=True))
    reachable: bool = False
    last_poll_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_success_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    consecutive_failures: int = 0
    duration_s: float = 0.0
    error: str | None = Field(default=None, max_length=500)
    maintenance: bool = False
    varbinds: int = 0
    #: [[metric, {label: value}, value], ...]
    samples: list[Any] = Field(default_factory=list, sa_type=JSON)
    facts: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    #: counter key -> [value, bits, at seconds]
    counters: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    #: table name -> rows seen (sizes the next GETBULK max-repetitions)
    table_rows: dict[str, int] = Field(default_factory=dict, sa_type=JSON)
    uptime_ticks: int | None = Field(default=None, sa_type=BigInteger)
    #: this poll's /metrics lines by family, rendered by the writer (dcops.monitoring.metrics.device_fragment)
    exposition: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class MetricHistory(SQLModel, table=True):
    """The values of one device at one time: a poll (resolution 0) or a 5-minute average (300)."""

    __tablename__ = "metric_history"
    __table_args__ = (Index("ix_metric_history_device_res_at", "device_id", "resolution_s", "at"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"),
                                                          primary_key=True, autoincrement=True))
    device_id: int = Field(sa_column=Column(Integer, ForeignKey("device.id", ondelete="CASCADE"), nullable=False))
    at: datetime = Field(sa_type=UTCDateTime)
    resolution_s: int = 0
    #: series key ``metric{label=value,...}`` -> value
    values: dict[str, float] = Field(default_factory=dict, sa_type=JSON)


class Interface(SQLModel, table=True):
    """A network interface of a device as last polled; operators flag ports that should stay unused."""

    __tablename__ = "interface"
    __table_args__ = (UniqueConstraint("device_id", "ifindex", name="uq_interface_device_ifindex"),)

    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(sa_column=Column(Integer, ForeignKey("device.id", ondelete="CASCADE"), nullable=False,
                                            index=True))
    ifindex: int
    name: str = Field(default="", max_length=200)
    alias: str = Field(default="", max_length=200)
    speed_bps: int | None = Field(default=None, sa_type=BigInteger)
    admin_up: bool | None = None
    oper_up: bool | None = None
    last_change: datetime | None = Field(default=None, sa_type=UTCDateTime)
    unused: bool = Field(default=False, description="operators mark ports that must stay down")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class InterfaceUpdate(SQLModel):
    """PATCH body of an interface: only the operators' flag."""

    unused: bool


class PollerStatus(SQLModel, table=True):
    """The poller's own health, written after every cycle so any process (API, /metrics) can read it."""

    __tablename__ = "poller_status"

    id: int = Field(default=1, primary_key=True)
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    devices: int = 0
    cycle_duration_s: float = 0.0
    cycle_interval_s: float = 0.0
    polls_total: int = Field(default=0, sa_type=BigInteger)
    overruns_total: int = Field(default=0, sa_type=BigInteger)
    #: reason -> count
    errors_total: dict[str, int] = Field(default_factory=dict, sa_type=JSON)


__all__ = ["MonitoringSetting", "MonitoringSettingUpdate", "DeviceState", "MetricHistory", "Interface",
           "InterfaceUpdate", "PollerStatus"]
