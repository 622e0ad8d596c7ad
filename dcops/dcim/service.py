"""DCIM rules: where a device may go in a rack, power budgets, credentials.

Placement in a rack is checked here with a readable message, and guarded in the
database by ``rack_unit`` (one row per occupied unit and face, primary key
``(rack_id, unit, face)``): two concurrent writers can both pass the check, but only
one can insert the rows. On PostgreSQL the rack row is locked first, so power budget
checks of concurrent placements into one rack see each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from dcops.auth.actor import Actor
from dcops.crud import Resource, integrity_message
from dcops.database import is_postgresql
from dcops.dcim.choices import CredentialKind, DeviceRole, RackFace
from dcops.dcim.models import (
    CREDENTIAL_SECRETS,
    Cluster,
    Credential,
    Device,
    DeviceCreate,
    DeviceType,
    Manufacturer,
    Rack,
    RackUnit,
    Room,
    Site,
)
from dcops.exceptions import CapacityError, ConflictError, ValidationError
from dcops.security import decrypt_secrets, encrypt_secrets

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
    for p in positions[1:] + [None]:  # type: ignore[list-item]
        if p is not None and p == prev + 1:
            prev = p
            continue
        parts.append(f"U{start}" if start == prev else f"U{start}-U{prev}")
        if p is not None:
            start = prev = p
    return ", ".join(parts[:6]) + (", …" if len(parts) > 6 else "")


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
        .join(Device, Device.id == RackUnit.device_id)
        .where(RackUnit.rack_id == rack_id)
    )
    if exclude_device is not None:
        stmt = stmt.where(RackUnit.device_id != exclude_device)
    return {(u, RackFace(f)): name for u, f, name in session.execute(stmt).all()}


def rack_power_draw(session: Session, rack_id: int, exclude_device: int | None = None) -> int:
    """Return the sum of the known maximum power (W) of the devices in a rack (unknown figures left out)."""
    stmt = (
        select(func.coalesce(func.sum(DeviceType.max_power_w), 0))
        .select_from(Device)
        .join(DeviceType, DeviceType.id == Device.device_type_id)
        .where(Device.rack_id == rack_id)
    )
    if exclude_device is not None:
        stmt = stmt.where(Device.id != exclude_device)
    return int(session.execute(stmt).scalar_one())


def rack_power_unknown(session: Session, rack_id: int, exclude_device: int | None = None) -> list[str]:
    """Return the names of a rack's devices whose type has no power figure, by name."""
    stmt = (
        select(Device.name).join(DeviceType, DeviceType.id == Device.device_type_id)
        .where(Device.rack_id == rack_id, DeviceType.max_power_w.is_(None))  # type: ignore[union-attr]
        .order_by(Device.name)
    )
    if exclude_device is not None:
        stmt = stmt.where(Device.id != exclude_device)
    return list(session.execute(stmt).scalars())


def unknown_power_note(names: list[str], limit: int = 10) -> str:
    """Say which devices the power figures leave out because their type has no power figure."""
    shown = ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
    return f"power unknown (device type has no figure, not counted) for: {shown}"


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


# --- device checks ----------------------------------------------------------------------


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
        if _plain(device.role) != DeviceRole.HYPERVISOR.value:
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
    face = RackFace(_plain(device.face)) if device.face else None
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


def _check_device(session: Session, device: Device, before: dict[str, Any] | None,
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
    return device_rules(device, around, options)[1] + _duplicate_serial(session, device)


def _duplicate_serial(session: Session, device: Device) -> list[str]:
    """Warn (never refuse) when another device carries the same serial: a typo, or an RMA swap to record."""
    serial = (device.serial or "").strip()
    if not serial:
        return []
    stmt = select(Device.name).where(func.lower(Device.serial) == serial.lower())
    if device.id is not None:
        stmt = stmt.where(Device.id != device.id)
    others = list(session.execute(stmt.order_by(Device.name).limit(3)).scalars())
    if not others:
        return []
    return [f"serial '{serial}' is already recorded on device {', '.join(others)}; check it (saved anyway)"]


def _sync_rack_units(session: Session, device: Device, before: dict[str, Any] | None) -> None:
    keys = ("rack_id", "position", "face", "device_type_id")
    if before is not None and all(before.get(k) == _plain(getattr(device, k)) for k in keys):
        return
    session.execute(delete(RackUnit).where(RackUnit.device_id == device.id))
    if device.rack_id is not None and device.position is not None and device.face is not None:
        dtype = session.get(DeviceType, device.device_type_id)
        assert dtype is not None
        slots = units_for(device.position, dtype.u_height, RackFace(device.face), dtype.is_full_depth)
        session.add_all(
            RackUnit(rack_id=device.rack_id, unit=u, face=f, device_id=device.id)  # type: ignore[arg-type]
            for u, f in slots
        )
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise ConflictError(
            f"rack unit for device '{device.name}' was taken by a concurrent change; reload and retry "
            f"({integrity_message(exc)})",
            field="position",
        ) from None


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def _check_rack(session: Session, rack: Rack, before: dict[str, Any] | None, options: dict[str, Any]) -> list[str]:
    if rack.room_id is not None:
        room = session.get(Room, rack.room_id)
        if room is not None and room.site_id != rack.site_id:
            raise ValidationError(f"room '{room.name}' is at another site than the rack", field="room_id")
    if before is not None and rack.id is not None:
        highest = session.execute(
            select(func.max(RackUnit.unit)).where(RackUnit.rack_id == rack.id)
        ).scalar_one()
        if highest is not None and highest > rack.u_height:
            raise CapacityError(
                f"rack '{rack.name}' has a device up to U{highest}; it cannot shrink to {rack.u_height}U",
                field="u_height",
            )
        if before.get("site_id") != rack.site_id and session.execute(
            select(Device.id).where(Device.rack_id == rack.id).limit(1)
        ).first():
            raise ConflictError(f"rack '{rack.name}' holds devices; move them before moving the rack", field="site_id")
        draw = rack_power_draw(session, rack.id)
        if draw > rack.power_budget_w:
            unknown = rack_power_unknown(session, rack.id)
            return [f"rack '{rack.name}' devices may draw {draw} W, above the new budget of {rack.power_budget_w} W"
                    + (f"; {unknown_power_note(unknown)}" if unknown else "")]
    return []


def _check_device_type(session: Session, dtype: DeviceType, before: dict[str, Any] | None,
                       options: dict[str, Any]) -> list[str]:
    if dtype.cpu_threads and dtype.cpu_cores and dtype.cpu_threads < dtype.cpu_cores:
        raise ValidationError("cpu_threads cannot be fewer than cpu_cores", field="cpu_threads")
    reshaped = before is not None and (before.get("u_height"), before.get("is_full_depth")) != (
        dtype.u_height, dtype.is_full_depth)
    if reshaped and session.execute(select(Device.id).where(Device.device_type_id == dtype.id).limit(1)).first():
        raise ConflictError(
            f"device type '{dtype.model}' is installed in racks; its height and depth cannot change",
            field="u_height",
        )
    return []


sites = Resource(Site, label="site", plural="sites", search=("name", "description"), orderings=("id", "name"),
                 filters=("agency_id",))
rooms = Resource(
    Room, label="room", plural="rooms", filters=("site_id",), unique=(("site_id", "name"),),
)
racks = Resource(
    Rack,
    label="rack",
    plural="racks",
    filters=("site_id", "room_id"),
    orderings=("id", "name", "site_id", "u_height", "power_budget_w"),
    unique=(("site_id", "name"),),
    check=_check_rack,
)
manufacturers = Resource(Manufacturer, label="manufacturer", plural="manufacturers")
device_types = Resource(
    DeviceType,
    label="device type",
    plural="device types",
    repr_field="model",
    search=("model", "slug", "part_number"),
    filters=("manufacturer_id", "u_height"),
    orderings=("id", "model", "slug", "price_idr", "max_power_w"),
    unique=(("slug",), ("manufacturer_id", "model")),
    check=_check_device_type,
)
clusters = Resource(Cluster, label="cluster", plural="clusters", filters=("site_id",))
devices = Resource(
    Device,
    label="device",
    plural="devices",
    search=("name", "serial", "asset_tag", "mgmt_address"),
    filters=("site_id", "rack_id", "role", "status", "cluster_id", "device_type_id", "name", "serial",
             "owner_agency_id"),
    orderings=("id", "name", "role", "status", "site_id", "rack_id", "position", "created_at"),
    unique=(("name",), ("asset_tag",)),
    exclude_fields=("allow_power_overcommit",),
    check=_check_device,
    after_write=_sync_rack_units,
)


# --- credentials -------------------------------------------------------------------------


def _require_secrets(kind: CredentialKind, username: str, auth: str, priv: str, stored: set[str]) -> None:
    if kind in (CredentialKind.SNMP_V1, CredentialKind.SNMP_V2C) and "community" not in stored:
        raise ValidationError(f"a {kind.value} credential needs a community", field="community")
    if kind == CredentialKind.SNMP_V3:
        if not username:
            raise ValidationError("an SNMPv3 credential needs a username", field="username")
        if auth != "none" and "auth_key" not in stored:
            raise ValidationError(f"auth_protocol {auth} needs an auth_key", field="auth_key")
        if priv != "none" and auth == "none":
            raise ValidationError("privacy (priv_protocol) needs authentication too", field="priv_protocol")
        if priv != "none" and "priv_key" not in stored:
            raise ValidationError(f"priv_protocol {priv} needs a priv_key", field="priv_key")
    if kind == CredentialKind.SSH_KEY:
        if "private_key" not in stored:
            raise ValidationError("an SSH credential needs a private_key", field="private_key")
        if not username:
            raise ValidationError("an SSH credential needs a username (the login)", field="username")


def _validate_private_key(text: str, passphrase: str | None) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_ssh_private_key

    raw = text.strip().encode() + b"\n"
    pw = passphrase.encode() if passphrase else None
    for loader in (load_ssh_private_key, load_pem_private_key):
        try:
            loader(raw, password=pw)
            return
        except Exception:  # noqa: S112 - try the next format
            continue
    raise ValidationError(
        "private_key is not an OpenSSH or PEM private key (or the passphrase is wrong)", field="private_key"
    )


credentials = Resource(
    Credential,
    label="credential",
    plural="credentials",
    search=("name", "username", "description"),
    filters=("kind",),
    orderings=("id", "name", "kind"),
    secret_fields=("secret_blob",),
)


def save_credential(
    session: Session, *, actor: Actor, data: dict[str, Any], id: int | None = None
) -> Credential:
    """Create (``id`` None) or update a credential, encrypting its secret fields."""
    secrets = {k: data.pop(k) for k in CREDENTIAL_SECRETS if k in data}
    secrets = {k: v for k, v in secrets.items() if v is not None}
    if id is not None:
        existing = credentials.get(session, actor=actor, id=id)
        merged = decrypt_secrets(existing.secret_blob)
        merged.update(secrets)
        kind = CredentialKind(data.get("kind", existing.kind))
        username = data.get("username", existing.username)
        auth = data.get("auth_protocol", existing.auth_protocol)
        priv = data.get("priv_protocol", existing.priv_protocol)
    else:
        merged = secrets
        kind = CredentialKind(data["kind"])
        username = data.get("username", "")
        auth, priv = data.get("auth_protocol", "none"), data.get("priv_protocol", "none")
    _require_secrets(kind, username, _plain(auth), _plain(priv), set(merged))
    if "private_key" in secrets:
        _validate_private_key(secrets["private_key"], merged.get("passphrase"))
    if id is None or secrets:
        data["secret_blob"] = encrypt_secrets(merged)
        data["secret_fields"] = ",".join(sorted(merged))
    if id is None:
        obj, _ = credentials.create(session, actor=actor, data=data)
    else:
        obj, _ = credentials.update(session, actor=actor, id=id, data=data)
    return obj


def rack_device_ids(session: Session, rack_id: int) -> dict[str, int]:
    """Return the ids of the devices in a rack by name."""
    rows = session.execute(select(Device.name, Device.id).where(Device.rack_id == rack_id)).all()
    return {name: id_ for name, id_ in rows}


# --- many devices at once (bulk import) ------------------------------------------------------------


@dataclass
class BulkOutcome:
    """What a bulk create did: per-item errors and warnings (keyed by the caller's key, e.g. a line number)."""

    errors: list[tuple[int, str]]
    warnings: list[tuple[int, str]]
    created: int = 0


def create_devices_bulk(
    session: Session, *, actor: Actor, items: list[tuple[int, DeviceCreate]], options: dict[str, Any],
    write: bool = True,
) -> BulkOutcome:
    """Check many new devices against the database and each other with the same rules as one at a time.

    The surroundings (types, racks with their occupancy and power, names in use) are loaded once,
    so ten thousand devices cost a handful of queries, then the valid devices, their rack units and
    their change-log entries are inserted in batches. Nothing is inserted if any item is refused or
    ``write`` is false; the caller owns the transaction.
    """
    from sqlalchemy import insert

    from dcops.auth.choices import ChangeAction
    from dcops.auth.models import ChangeLogEntry
    from dcops.crud import jsonable
    from dcops.database import utcnow

    outcome = BulkOutcome(errors=[], warnings=[])
    if not items:
        return outcome

    def ids(attr: str) -> set[int]:
        return {v for _, d in items if (v := getattr(d, attr)) is not None}

    def load(model: Any, wanted: set[int]) -> dict[int, Any]:
        return {o.id: o for o in session.execute(select(model).where(model.id.in_(wanted))).scalars()} if wanted else {}

    dtypes, clusters = load(DeviceType, ids("device_type_id")), load(Cluster, ids("cluster_id"))
    creds, sites = load(Credential, ids("snmp_credential_id")), load(Site, ids("site_id"))
    rack_ids = sorted(ids("rack_id"))
    rack_stmt = select(Rack).where(Rack.id.in_(rack_ids)).order_by(Rack.id)
    if is_postgresql(session):  # same lock as one device at a time, taken in id order to avoid deadlocks
        rack_stmt = rack_stmt.with_for_update()
    rack_map = {r.id: r for r in session.execute(rack_stmt).scalars()} if rack_ids else {}
    taken: dict[int, dict[tuple[int, RackFace], str]] = {r: {} for r in rack_map}
    draw: dict[int, int] = dict.fromkeys(rack_map, 0)
    unknown: dict[int, list[str]] = {r: [] for r in rack_map}
    if rack_map:
        for rack_id, unit, face, name in session.execute(
            select(RackUnit.rack_id, RackUnit.unit, RackUnit.face, Device.name)
            .join(Device, Device.id == RackUnit.device_id).where(RackUnit.rack_id.in_(rack_map))
        ):
            taken[rack_id][(unit, RackFace(face))] = name
        for rack_id, watts in session.execute(
            select(Device.rack_id, func.sum(DeviceType.max_power_w)).join(DeviceType)
            .where(Device.rack_id.in_(rack_map)).group_by(Device.rack_id)
        ):
            draw[rack_id] = int(watts or 0)
        for rack_id, name in session.execute(
            select(Device.rack_id, Device.name).join(DeviceType)
            .where(Device.rack_id.in_(rack_map), DeviceType.max_power_w.is_(None))  # type: ignore[union-attr]
            .order_by(Device.name)
        ):
            unknown[rack_id].append(name)
    names = [d.name for _, d in items]
    tags = [d.asset_tag for _, d in items if d.asset_tag]
    used_names: set[str] = set()
    used_tags: set[str] = set()
    for i in range(0, len(names), 900):
        used_names.update(session.execute(select(Device.name).where(Device.name.in_(names[i:i + 900]))).scalars())
    for i in range(0, len(tags), 900):
        used_tags.update(session.execute(select(Device.asset_tag).where(Device.asset_tag.in_(tags[i:i + 900])))
                         .scalars())

    accepted: list[tuple[int, DeviceCreate, list[tuple[int, RackFace]]]] = []
    for key, dev in items:
        try:
            if dev.name in used_names:
                raise ConflictError(f"a device with name={dev.name!r} already exists; choose another name")
            if dev.asset_tag and dev.asset_tag in used_tags:
                raise ConflictError(f"a device with asset_tag={dev.asset_tag!r} already exists; choose another")
            for attr, table, label in (("device_type_id", dtypes, "device type"), ("site_id", sites, "site"),
                                       ("rack_id", rack_map, "rack"), ("cluster_id", clusters, "cluster"),
                                       ("snmp_credential_id", creds, "credential")):
                value = getattr(dev, attr)
                if value is not None and value not in table:
                    raise ValidationError(f"{attr}: {label} {value} does not exist", field=attr)
            around = DeviceSurroundings(
                dtype=dtypes[dev.device_type_id], cluster=clusters.get(dev.cluster_id or 0),
                credential=creds.get(dev.snmp_credential_id or 0),
            )
            if dev.rack_id is not None:
                around.rack, around.taken, around.draw_w = rack_map[dev.rack_id], taken[dev.rack_id], draw[dev.rack_id]
                around.unknown_power = unknown[dev.rack_id]
            slots, warnings = device_rules(dev, around, options)
        except (ValidationError, ConflictError) as exc:
            outcome.errors.append((key, exc.message))
            continue
        outcome.warnings.extend((key, w) for w in warnings)
        used_names.add(dev.name)
        if dev.asset_tag:
            used_tags.add(dev.asset_tag)
        if dev.rack_id is not None:
            taken[dev.rack_id].update(dict.fromkeys(slots, dev.name))
            if around.dtype.max_power_w is None:
                unknown[dev.rack_id].append(dev.name)
            draw[dev.rack_id] += around.dtype.max_power_w or 0
        accepted.append((key, dev, slots))
    if outcome.errors or not write:
        return outcome

    now = utcnow()
    columns = {c.name for c in Device.__table__.columns} - {"id"}
    rows = [
        {k: _plain(v) for k, v in dev.model_dump().items() if k in columns} | {"created_at": now, "updated_at": now}
        for _, dev, _ in accepted
    ]
    table = Device.__table__
    new_ids = list(session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows).scalars())
    units = [
        {"rack_id": dev.rack_id, "unit": u, "face": f.value, "device_id": id_}
        for id_, (_, dev, slots) in zip(new_ids, accepted, strict=True) for u, f in slots
    ]
    if units:
        session.execute(insert(RackUnit.__table__), units)
    session.execute(insert(ChangeLogEntry.__table__), [
        {"time": now, "user_id": actor.user_id, "username": actor.username, "action": ChangeAction.CREATE.value,
         "object_type": devices.label, "object_id": id_, "object_repr": row["name"], "before": None,
         "after": {k: jsonable(v) for k, v in (row | {"id": id_}).items()}}
        for id_, row in zip(new_ids, rows, strict=True)
    ])
    outcome.created = len(new_ids)
    return outcome
