"""The rules of DCIM writes: a device's place (site, rack, cluster, units, power budget), a rack's shape and a
device type's shape, and keeping the ``rack_unit`` guard rows in step with each device.

Placement in a rack is checked here with a readable message, and guarded in the database by ``rack_unit``
(one row per occupied unit and face, primary key ``(rack_id, unit, face)``): two concurrent writers can both
pass the check, but only one can insert the rows. On PostgreSQL the rack row is locked first, so power budget
checks of concurrent placements into one rack see each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dcops.crud import integrity_message
from dcops.database import is_postgresql
from dcops.dcim.choices import CredentialKind, DeviceRole, RackFace
from dcops.dcim.models import Cluster, Credential, Device, DeviceType, Rack, RackUnit, Room
from dcops.dcim.racking import (
    check_rack_placement,
    rack_occupancy,
    rack_power_draw,
    rack_power_unknown,
    units_for,
    unknown_power_note,
)
from dcops.exceptions import CapacityError, ConflictError, ValidationError


def plain(value: Any) -> Any:
    """Return an enum's value, anything else unchanged (as a snapshot stores it)."""
    return getattr(value, "value", value)


@dataclass
class DeviceSurroundings:
    """What the device rules need to know about where a device goes (loaded from the database or preloaded)."""

    dtype: DeviceType
    rack: Rack | None = None
    cluster: Cluster | None = None
    credential: Credential | None = None
    taken: dict[tuple[int, RackFace], str] | None = None  # occupied slots of the rack, this device excluded
    draw_w: int = 0  # maximum draw of the rack's other devices
    unknown_power: list[str] | None = None  # the rack's other devices with no power figure


def device_rules(device: Device | Any, around: DeviceSurroundings, options: dict[str, Any]) -> tuple[
        list[tuple[int, RackFace]], list[str]]:
    """Apply every device invariant; return the rack slots it takes and any warnings, or raise."""
    warnings: list[str] = []
    if device.cluster_id is not None:
        if plain(device.role) != DeviceRole.HYPERVISOR.value:
            raise ValidationError("only hypervisors belong to a cluster; clear cluster_id", field="cluster_id")
        cluster = around.cluster
        if cluster and cluster.site_id is not None and cluster.site_id != device.site_id:
            raise ValidationError(f"cluster '{cluster.name}' is at another site than the device", field="cluster_id")
    cred = around.credential
    if cred is not None and cred.kind == CredentialKind.SSH_KEY:
        raise ValidationError(
            f"credential '{cred.name}' is an SSH key, not an SNMP credential", field="snmp_credential_id"
        )
    rack = around.rack
    if rack is None:
        if device.position is not None or device.face is not None:
            raise ValidationError("position and face need a rack; set rack_id or clear them", field="rack_id")
        return [], warnings
    if rack.site_id != device.site_id:
        raise ValidationError(f"rack '{rack.name}' is not at the device's site", field="rack_id")
    face = RackFace(plain(device.face)) if device.face else None
    dtype = around.dtype
    slots = check_rack_placement(
        device_name=device.name, rack=rack, dtype=dtype, position=device.position, face=face,
        taken=around.taken or {},
    )
    unknown = list(around.unknown_power or [])
    if dtype.max_power_w is None:
        unknown = sorted([*unknown, device.name])
    draw = around.draw_w + (dtype.max_power_w or 0)
    if draw > rack.power_budget_w:
        message = (
            f"rack '{rack.name}' power budget is {rack.power_budget_w} W; with '{device.name}' "
            f"({_watts(dtype.max_power_w)}) the devices' maximum draw would be {draw} W "
            f"({draw - rack.power_budget_w} W over)"
        ) + (f"; {unknown_power_note(unknown)}" if unknown else "")
        if not options.get("allow_power_overcommit"):
            raise CapacityError(message + "; choose another rack or set allow_power_overcommit", field="rack_id")
        warnings.append(message)
    elif unknown:
        warnings.append(f"rack '{rack.name}' power check ({draw} W of {rack.power_budget_w} W): "
                        + unknown_power_note(unknown))
    return slots, warnings


def _watts(value: int | None) -> str:
    return "power unknown" if value is None else f"{value} W"


def check_device(session: Session, device: Device, before: dict[str, Any] | None,
                  options: dict[str, Any]) -> list[str]:
    dtype = session.get(DeviceType, device.device_type_id)
    assert dtype is not None  # references were checked
    around = DeviceSurroundings(
        dtype=dtype,
        cluster=session.get(Cluster, device.cluster_id) if device.cluster_id is not None else None,
        credential=session.get(Credential, device.snmp_credential_id) if device.snmp_credential_id else None,
    )
    if device.rack_id is not None:
        # Lock the rack so concurrent placements into it are checked one after the other.
        around.rack = session.get(Rack, device.rack_id, with_for_update=True if is_postgresql(session) else None)
        assert around.rack is not None
        around.taken = rack_occupancy(session, device.rack_id, exclude_device=device.id)
        around.draw_w = rack_power_draw(session, device.rack_id, exclude_device=device.id)
        around.unknown_power = rack_power_unknown(session, device.rack_id, exclude_device=device.id)
    return device_rules(device, around, options)[1] + duplicate_serial(session, device)


def duplicate_serial(session: Session, device: Device) -> list[str]:
    """Warn (never refuse) when another device carries the same serial: a typo, or an RMA swap to record."""
    serial = (device.serial or "").strip()
    if not serial:
        return []
    stmt = select(Device.name).where(func.lower(Device.serial) == serial.lower())
    if device.id is not None:
        stmt = stmt.where(Device.id != device.id)
    others = list(session.exec(stmt.order_by(col(Device.name)).limit(3)).all())
    if not others:
        return []
    return [f"serial '{serial}' is already recorded on device {', '.join(others)}; check it (saved anyway)"]


def sync_rack_units(session: Session, device: Device, before: dict[str, Any] | None) -> None:
    keys = ("rack_id", "position", "face", "device_type_id")
    if before is not None and all(before.get(k) == plain(getattr(device, k)) for k in keys):
        return
    session.execute(delete(RackUnit).where(col(RackUnit.device_id) == device.id))
    if device.rack_id is not None and device.position is not None and device.face is not None:
        dtype = session.get(DeviceType, device.device_type_id)
        assert dtype is not None
        slots = units_for(device.position, dtype.u_height, RackFace(device.face), dtype.is_full_depth)
        assert device.id is not None  # flushed before this hook runs
        session.add_all(RackUnit(rack_id=device.rack_id, unit=u, face=f, device_id=device.id) for u, f in slots)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise ConflictError(
            f"rack unit for device '{device.name}' was taken by a concurrent change; reload and retry "
            f"({integrity_message(exc)})",
            field="position",
        ) from None


def check_rack(session: Session, rack: Rack, before: dict[str, Any] | None, options: dict[str, Any]) -> list[str]:
    if rack.room_id is not None:
        room = session.get(Room, rack.room_id)
        if room is not None and room.site_id != rack.site_id:
            raise ValidationError(f"room '{room.name}' is at another site than the rack", field="room_id")
    if before is not None and rack.id is not None:
        highest = session.exec(select(func.max(RackUnit.unit)).where(RackUnit.rack_id == rack.id)).one()
        if highest is not None and highest > rack.u_height:
            raise CapacityError(
                f"rack '{rack.name}' has a device up to U{highest}; it cannot shrink to {rack.u_height}U",
                field="u_height",
            )
        if before.get("site_id") != rack.site_id and session.exec(
            select(Device.id).where(Device.rack_id == rack.id).limit(1)
        ).first():
            raise ConflictError(f"rack '{rack.name}' holds devices; move them before moving the rack", field="site_id")
        draw = rack_power_draw(session, rack.id)
        if draw > rack.power_budget_w:
            unknown = rack_power_unknown(session, rack.id)
            return [f"rack '{rack.name}' devices may draw {draw} W, above the new budget of {rack.power_budget_w} W"
                    + (f"; {unknown_power_note(unknown)}" if unknown else "")]
    return []


def check_device_type(session: Session, dtype: DeviceType, before: dict[str, Any] | None,
                       options: dict[str, Any]) -> list[str]:
    if dtype.cpu_threads and dtype.cpu_cores and dtype.cpu_threads < dtype.cpu_cores:
        raise ValidationError("cpu_threads cannot be fewer than cpu_cores", field="cpu_threads")
    reshaped = before is not None and (before.get("u_height"), before.get("is_full_depth")) != (
        dtype.u_height, dtype.is_full_depth)
    if reshaped and session.exec(select(Device.id).where(Device.device_type_id == dtype.id).limit(1)).first():
        raise ConflictError(
            f"device type '{dtype.model}' is installed in racks; its height and depth cannot change",
            field="u_height",
        )
    return []
