"""Rack geometry and what a rack holds: free positions, occupied units, power drawn against the budget.

The geometry (:func:`units_for`, :func:`free_positions`, :func:`check_rack_placement`) is pure; the readers
take a session and answer for one rack or, for the console's overview, for many racks in a few queries.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import distinct, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from dcops.dcim.choices import DeviceRole, RackFace
from dcops.dcim.models import Device, DeviceType, Rack, RackUnit, Site
from dcops.exceptions import CapacityError, ConflictError, ValidationError

# --- pure rack geometry ----------------------------------------------------------------


def units_for(position: int, height: int, face: RackFace, full_depth: bool) -> list[tuple[int, RackFace]]:
    """Return the (unit, face) slots a device of ``height`` U at ``position`` occupies."""
    faces = [RackFace.FRONT, RackFace.REAR] if full_depth else [face]
    return [(u, f) for u in range(position, position + height) for f in faces]


def free_positions(rack_height: int, taken: set[tuple[int, RackFace]], height: int,
                   face: RackFace, full_depth: bool) -> list[int]:
    """Return every position where a device of ``height`` U would fit."""
    return [
        p
        for p in range(1, rack_height - height + 2)
        if not any(slot in taken for slot in units_for(p, height, face, full_depth))
    ]


def _ranges(positions: list[int]) -> str:
    if not positions:
        return "none"
    parts: list[str] = []
    start = prev = positions[0]
    for p in [*positions[1:], None]:
        if p is not None and p == prev + 1:
            prev = p
            continue
        parts.append(f"U{start}" if start == prev else f"U{start}-U{prev}")
        if p is not None:
            start = prev = p
    return ", ".join(parts[:6]) + (", …" if len(parts) > 6 else "")


def check_rack_placement(
    *,
    device_name: str,
    rack: Rack,
    dtype: DeviceType,
    position: int | None,
    face: RackFace | None,
    taken: dict[tuple[int, RackFace], str],
) -> list[tuple[int, RackFace]]:
    """Check a device against a rack's geometry and occupancy; return the slots it takes."""
    if dtype.u_height == 0:
        if position is not None:
            raise ValidationError(
                f"{dtype.model} is 0U (mounted on the side); leave position empty", field="position"
            )
        return []
    if position is None or face is None:
        raise ValidationError(
            f"a {dtype.u_height}U device in rack '{rack.name}' needs a position (U) and a face", field="position"
        )
    top = position + dtype.u_height - 1
    if top > rack.u_height:
        fits = free_positions(rack.u_height, set(taken), dtype.u_height, face, dtype.is_full_depth)
        raise CapacityError(
            f"device '{device_name}' is {dtype.u_height}U: at U{position} it would reach U{top}, "
            f"but rack '{rack.name}' has {rack.u_height}U; free positions for it: {_ranges(fits)}",
            field="position",
        )
    slots = units_for(position, dtype.u_height, face, dtype.is_full_depth)
    clashes = [(u, f, taken[(u, f)]) for (u, f) in slots if (u, f) in taken]
    if clashes:
        u, f, other = clashes[0]
        fits = free_positions(rack.u_height, set(taken), dtype.u_height, face, dtype.is_full_depth)
        raise ConflictError(
            f"rack '{rack.name}' U{u} ({f.value}) is already taken by device '{other}'; "
            f"free positions for a {dtype.u_height}U device: {_ranges(fits)}",
            field="position",
        )
    return slots


def unknown_power_note(names: list[str], limit: int = 10) -> str:
    """Say which devices the power figures leave out because their type has no power figure."""
    shown = ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
    return f"power unknown (device type has no figure, not counted) for: {shown}"


# --- one rack ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RackSlot:
    """One unit of a rack elevation, with the device in it (if any)."""

    unit: int
    face: RackFace
    device_id: int | None
    device_name: str | None


def rack_occupancy(session: Session, rack_id: int,
                   exclude_device: int | None = None) -> dict[tuple[int, RackFace], str]:
    """Return occupied (unit, face) slots of a rack with the occupying device's name."""
    stmt = (
        select(RackUnit.unit, RackUnit.face, Device.name)
        .join(Device, col(Device.id) == RackUnit.device_id)
        .where(RackUnit.rack_id == rack_id)
    )
    if exclude_device is not None:
        stmt = stmt.where(RackUnit.device_id != exclude_device)
    return {(u, RackFace(f)): name for u, f, name in session.exec(stmt).all()}


def rack_power_draw(session: Session, rack_id: int, exclude_device: int | None = None) -> int:
    """Return the sum of the known maximum power (W) of the devices in a rack (unknown figures left out)."""
    stmt = (
        select(func.coalesce(func.sum(DeviceType.max_power_w), 0))
        .select_from(Device)
        .join(DeviceType, col(DeviceType.id) == Device.device_type_id)
        .where(Device.rack_id == rack_id)
    )
    if exclude_device is not None:
        stmt = stmt.where(Device.id != exclude_device)
    return int(session.exec(stmt).one() or 0)


def rack_power_unknown(session: Session, rack_id: int, exclude_device: int | None = None) -> list[str]:
    """Return the names of a rack's devices whose type has no power figure, by name."""
    stmt = (
        select(Device.name).join(DeviceType, col(DeviceType.id) == Device.device_type_id)
        .where(Device.rack_id == rack_id, col(DeviceType.max_power_w).is_(None))
        .order_by(col(Device.name))
    )
    if exclude_device is not None:
        stmt = stmt.where(Device.id != exclude_device)
    return list(session.exec(stmt).all())


def rack_device_ids(session: Session, rack_id: int) -> dict[str, int]:
    """Return the ids of the devices in a rack by name."""
    rows = session.exec(select(Device.name, col(Device.id)).where(Device.rack_id == rack_id)).all()
    return {name: id_ for name, id_ in rows if id_ is not None}


# --- many racks at once (the console's overview) ----------------------------------------------


@dataclass(frozen=True)
class RackedDevice:
    """A device of a rack as the elevation draws it."""

    id: int
    name: str
    rack_id: int
    position: int | None
    face: str | None
    u_height: int


def racked_devices(session: Session, rack_ids: list[int]) -> list[RackedDevice]:
    """Return the devices of ``rack_ids`` with their position, face and height."""
    if not rack_ids:
        return []
    rows = session.execute(  # six columns: past sqlmodel's typed select overloads, so SQLAlchemy's own
        sa_select(col(Device.id), col(Device.name), col(Device.rack_id), col(Device.position), col(Device.face),
                  col(DeviceType.u_height))
        .join(DeviceType, col(DeviceType.id) == Device.device_type_id).where(col(Device.rack_id).in_(rack_ids))
    ).all()
    return [RackedDevice(i, name, rack, pos, None if face is None else str(getattr(face, "value", face)), height)
            for i, name, rack, pos, face, height in rows if i is not None and rack is not None]


def rack_usage(session: Session, rack_ids: list[int]) -> tuple[dict[int, int], dict[int, int]]:
    """Return units used and nameplate power drawn per rack, in two queries (the same sums as for one rack)."""
    if not rack_ids:
        return {}, {}
    used = session.exec(
        select(RackUnit.rack_id, func.count(distinct(col(RackUnit.unit)))).where(col(RackUnit.rack_id).in_(rack_ids))
        .group_by(col(RackUnit.rack_id))).all()
    draw = session.exec(
        select(col(Device.rack_id), func.coalesce(func.sum(DeviceType.max_power_w), 0))
        .join(DeviceType, col(DeviceType.id) == Device.device_type_id).where(col(Device.rack_id).in_(rack_ids))
        .group_by(col(Device.rack_id))).all()
    return ({k: int(v) for k, v in used}, {k: int(v or 0) for k, v in draw if k is not None})


def rack_pdus(session: Session, rack_ids: list[int]) -> dict[int, int]:
    """Return the rack of each PDU in ``rack_ids``, by the PDU's device id."""
    if not rack_ids:
        return {}
    rows = session.exec(select(col(Device.id), col(Device.rack_id))
                        .where(col(Device.rack_id).in_(rack_ids), Device.role == DeviceRole.PDU)).all()
    return {i: r for i, r in rows if i is not None and r is not None}


def sites_by_name(session: Session) -> list[Site]:
    """Return every site, by name."""
    return list(session.exec(select(Site).order_by(col(Site.name))).all())


def racks_of_site(session: Session, site_id: int) -> list[Rack]:
    """Return the racks of one site, by name."""
    return list(session.exec(select(Rack).where(Rack.site_id == site_id).order_by(col(Rack.name))).all())
