"""Sensor state: store discovery results and the latest sensor readings; resolve the limits alerts judge by.

The limits of a sensor come, in order, from an operator's override for that sensor (by description), an
override for its class on the device, the device's own thresholds (read with the sensor), and last a
default per class and device role (:data:`DEFAULT_LIMITS`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from dcops.database import utcnow
from dcops.exceptions import NotFoundError, ValidationError
from dcops.monitoring.discovery import Discovery
from dcops.monitoring.sensor_models import DeviceDiscovery, DeviceSensors, SensorThreshold
from dcops.monitoring.sensors import CLASSES, SensorReading, unique_subjects
from dcops.monitoring.types import PollResult

LIMIT_NAMES = ("high", "low", "high_warn", "low_warn")
_NETWORK = ("switch", "router", "firewall")
_COMPUTE = ("server", "hypervisor", "storage")
_FACILITY = ("ups", "pdu")


@dataclass(frozen=True)
class Limits:
    """Critical and warning limits of a sensor (None: no limit on that side)."""

    high: float | None = None
    low: float | None = None
    high_warn: float | None = None
    low_warn: float | None = None
    source: str = "none"  # override | device | default | none

    def empty(self) -> bool:
        return all(getattr(self, n) is None for n in LIMIT_NAMES)


#: class -> role group -> limits used when the device gives none. Chips and boards run hot (a switch ASIC at
#: 70 °C is normal; its own limits are 85-110 °C); UPS and PDU probes measure the room, so their limits are
#: the room's. Classes without a sensible universal limit (fan, voltage, current, power...) have none.
DEFAULT_LIMITS: dict[str, dict[tuple[str, ...], Limits]] = {
    "temperature": {
        _NETWORK + _COMPUTE: Limits(high=90, high_warn=80, source="default"),
        _FACILITY: Limits(high=50, high_warn=40, source="default"),
        ("other",): Limits(high=60, high_warn=50, source="default"),
    },
    "humidity": {_NETWORK + _COMPUTE + _FACILITY + ("other",): Limits(high=90, low=5, source="default")},
    "load": {_FACILITY: Limits(high=100, high_warn=90, source="default")},
}


def default_limits(sensor_class: str, role: str) -> Limits:
    """Return the default limits of a class for a device role."""
    for roles, limits in DEFAULT_LIMITS.get(sensor_class, {}).items():
        if role in roles:
            return limits
    return Limits()


def effective_limits(reading: SensorReading, subject: str, role: str,
                     overrides: Iterable[SensorThreshold] = ()) -> Limits | None:
    """Return the limits to judge a reading by; None when an override disables its alerts."""
    by_sensor = by_class = None
    for o in overrides:
        if o.sensor_class != reading.sensor_class:
            continue
        if o.sensor and o.sensor in (subject, reading.descr, reading.oid):
            by_sensor = o
        elif not o.sensor:
            by_class = o
    override = by_sensor or by_class
    if override is not None:
        if override.disabled:
            return None
        return Limits(**{n: getattr(override, n) for n in LIMIT_NAMES}, source="override")
    own = Limits(**{n: getattr(reading, n) for n in LIMIT_NAMES}, source="device")
    return own if not own.empty() else default_limits(reading.sensor_class, role)


def judge(reading: SensorReading, limits: Limits | None) -> str:
    """Return ok, warning or critical for a reading against ``limits`` (state sensors: their mapping)."""
    if reading.sensor_class == "state":
        return reading.severity or "unknown"
    if limits is None:
        return "ok"
    v = reading.value
    if (limits.high is not None and v > limits.high) or (limits.low is not None and v < limits.low):
        return "critical"
    if (limits.high_warn is not None and v > limits.high_warn) or (limits.low_warn is not None and v < limits.low_warn):
        return "warning"
    return "ok"


def judged(readings: list[Any], role: str, overrides: Iterable[SensorThreshold] = ()
           ) -> dict[str, tuple[SensorReading, Limits | None, str]]:
    """Return subject -> (reading, limits in use, severity) for a poll's readings."""
    rows = [r if isinstance(r, SensorReading) else SensorReading.from_dict(r) for r in readings]
    overrides = list(overrides)
    out = {}
    for subject, r in unique_subjects(rows).items():
        limits = effective_limits(r, subject, role, overrides)
        out[subject] = (r, limits, judge(r, limits))
    return out


# --- storage -------------------------------------------------------------------------------------------


def record_sensors(session: Session, result: PollResult, discovery: Discovery | None) -> None:
    """Store a poll's sensor readings (with the limits in use) and, when discovery ran, its result (no commit)."""
    device_id = result.device_id
    assert device_id is not None
    if discovery is not None:
        row = session.get(DeviceDiscovery, device_id) or DeviceDiscovery(device_id=device_id)
        row.sys_object_id, row.sys_descr = discovery.sys_object_id[:200], discovery.sys_descr[:1000]
        row.role, row.discovered_at = discovery.role[:40], result.at
        row.profiles = [{"name": n, "reason": r} for n, r in discovery.profiles]
        session.add(row)
    stored = session.get(DeviceSensors, device_id)
    if not result.sensors and stored is None:
        return
    # stored as read; the limits in use and the state are judged when shown (overrides may change in between)
    rows = [r.as_dict() | {"subject": subject} for subject, r in unique_subjects(
        [r if isinstance(r, SensorReading) else SensorReading.from_dict(r) for r in result.sensors]).items()]
    stored = stored or DeviceSensors(device_id=device_id)
    stored.at, stored.sensors = result.at, rows
    session.add(stored)


def stored_discoveries(session: Session, device_ids: Iterable[int]) -> dict[int, Discovery]:
    """Return the stored discovery result of each device that has one."""
    ids = list(device_ids)
    if not ids:
        return {}
    rows = session.execute(select(DeviceDiscovery).where(col(DeviceDiscovery.device_id).in_(ids))).scalars().all()
    out = {}
    for row in rows:
        found = Discovery.from_dict({"sys_object_id": row.sys_object_id, "sys_descr": row.sys_descr, "role": row.role,
                                     "profiles": row.profiles, "at": row.discovered_at.timestamp()})
        if found is not None:
            out[row.device_id] = found
    return out


def discovery_view(session: Session, device_id: int) -> dict[str, Any] | None:
    """Return a device's discovery result for the API and console (None when never discovered)."""
    row = session.get(DeviceDiscovery, device_id)
    if row is None:
        return None
    return {"sys_object_id": row.sys_object_id, "sys_descr": row.sys_descr, "role": row.role,
            "profiles": list(row.profiles), "discovered_at": row.discovered_at}


def sensors_view(session: Session, device_id: int) -> list[dict[str, Any]]:
    """Return a device's latest sensor readings, each with the limits in use and its state against them."""
    from dcops.dcim.models import Device

    row = session.get(DeviceSensors, device_id)
    if row is None:
        return []
    device = session.get(Device, device_id)
    role = str(device.role) if device is not None else ""
    overrides = overrides_of(session, device_id)
    out = []
    for item in row.sensors:
        reading = SensorReading.from_dict(item)
        subject = str(item.get("subject") or reading.descr)
        limits = effective_limits(reading, subject, role, overrides)
        shown = {n: getattr(limits, n) for n in LIMIT_NAMES} | {"source": limits.source} if limits else None
        out.append(dict(item) | {"subject": subject, "state": judge(reading, limits), "limits": shown})
    return out


# --- operator overrides ----------------------------------------------------------------------------------


def overrides_of(session: Session, device_id: int) -> list[SensorThreshold]:
    """Return the threshold overrides of a device."""
    return list(session.execute(select(SensorThreshold).where(col(SensorThreshold.device_id) == device_id)
                                .order_by(col(SensorThreshold.id))).scalars().all())


def set_override(session: Session, device_id: int, data: Mapping[str, Any], *, actor: Any = None) -> SensorThreshold:
    """Create or replace the override of one sensor (or a whole class) of a device, with a change-log entry."""
    from dcops.dcim.models import Device

    device = session.get(Device, device_id)
    if device is None:
        raise NotFoundError(f"device {device_id} not found")
    sensor_class = str(data.get("sensor_class", ""))
    if sensor_class not in CLASSES:
        raise ValidationError(f"sensor_class must be one of {', '.join(CLASSES)}", field="sensor_class")
    values = {n: data.get(n) for n in LIMIT_NAMES}
    if values["high"] is not None and values["low"] is not None and values["low"] >= values["high"]:
        raise ValidationError("low must be under high", field="low")
    sensor = str(data.get("sensor", "") or "")
    row = session.execute(select(SensorThreshold).where(
        col(SensorThreshold.device_id) == device_id, col(SensorThreshold.sensor_class) == sensor_class,
        col(SensorThreshold.sensor) == sensor)).scalars().first()
    before = row.model_dump(mode="json") if row is not None else None
    row = row or SensorThreshold(device_id=device_id, sensor_class=sensor_class, sensor=sensor)
    for name, value in values.items():
        setattr(row, name, value)
    row.disabled, row.updated_at = bool(data.get("disabled", False)), utcnow()
    session.add(row)
    session.flush()
    _log(session, actor, row, device.name, before, row.model_dump(mode="json"))
    session.commit()
    session.refresh(row)
    return row


def delete_override(session: Session, device_id: int, override_id: int, *, actor: Any = None) -> None:
    """Remove one override of a device, with a change-log entry."""
    from dcops.dcim.models import Device

    row = session.get(SensorThreshold, override_id)
    if row is None or row.device_id != device_id:
        raise NotFoundError(f"threshold override {override_id} not found on device {device_id}")
    device = session.get(Device, device_id)
    _log(session, actor, row, device.name if device else str(device_id), row.model_dump(mode="json"), None)
    session.delete(row)
    session.commit()


def _log(session: Session, actor: Any, row: SensorThreshold, device: str, before: Any, after: Any) -> None:
    if actor is None:
        return
    from dcops.auth.choices import ChangeAction
    from dcops.crud import record_change

    action = ChangeAction.DELETE if after is None else (ChangeAction.UPDATE if before else ChangeAction.CREATE)
    record_change(session, actor=actor, action=action, object_type="sensor_threshold", object_id=row.id or 0,
                  object_repr=f"{device} {row.sensor_class} {row.sensor or '*'}", before=before, after=after)
