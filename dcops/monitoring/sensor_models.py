"""Tables of the sensor work (issue 11): discovery results, latest sensor readings, threshold overrides."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from dcops.database import UTCDateTime, utcnow


class DeviceDiscovery(SQLModel, table=True):
    """Which profiles apply to a device and why, as decided by its last discovery."""

    __tablename__ = "device_discovery"

    device_id: int = Field(sa_column=Column(Integer, ForeignKey("device.id", ondelete="CASCADE"), primary_key=True))
    sys_object_id: str = Field(default="", max_length=200)
    sys_descr: str = Field(default="", max_length=1000)
    role: str = Field(default="", max_length=40)
    #: [{"name": profile, "reason": why it applies}, ...]
    profiles: list[Any] = Field(default_factory=list, sa_type=JSON)
    discovered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DeviceSensors(SQLModel, table=True):
    """The sensors of a device as last read: one JSON list per device, rewritten per poll."""

    __tablename__ = "device_sensors"

    device_id: int = Field(sa_column=Column(Integer, ForeignKey("device.id", ondelete="CASCADE"), primary_key=True))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    #: [SensorReading.as_dict() + {"subject": its unique name}, ...] (limits in use and state are judged when shown)
    sensors: list[Any] = Field(default_factory=list, sa_type=JSON)


class SensorThreshold(SQLModel, table=True):
    """An operator's limits for the sensors of one device: one sensor (by description) or a whole class."""

    __tablename__ = "sensor_threshold"
    __table_args__ = (UniqueConstraint("device_id", "sensor_class", "sensor", name="uq_sensor_threshold"),)

    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(sa_column=Column(Integer, ForeignKey("device.id", ondelete="CASCADE"), nullable=False,
                                            index=True))
    sensor_class: str = Field(max_length=20)
    sensor: str = Field(default="", max_length=200, description="sensor description; empty: the whole class")
    high: float | None = None
    low: float | None = None
    high_warn: float | None = None
    low_warn: float | None = None
    disabled: bool = Field(default=False, description="raise no threshold alert for these sensors")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SensorThresholdIn(SQLModel):
    """PUT body of a threshold override (the limits replace the device's own and the defaults)."""

    sensor_class: str = Field(max_length=20)
    sensor: str = Field(default="", max_length=200)
    high: float | None = None
    low: float | None = None
    high_warn: float | None = None
    low_warn: float | None = None
    disabled: bool = False


__all__ = ["DeviceDiscovery", "DeviceSensors", "SensorThreshold", "SensorThresholdIn"]
