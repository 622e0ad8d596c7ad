"""Many new devices at once (the bulk import): the same rules as one at a time, in a handful of queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlmodel import Session, col

from dcops.actor import Actor
from dcops.changelog import ChangeAction, ChangeLogEntry
from dcops.crud import jsonable
from dcops.database import is_postgresql, utcnow
from dcops.dcim.choices import RackFace
from dcops.dcim.models import Cluster, Credential, Device, DeviceCreate, DeviceType, Rack, RackUnit, Site
from dcops.dcim.resources import devices
from dcops.dcim.rules import DeviceSurroundings, device_rules, plain
from dcops.exceptions import ConflictError, ValidationError


def _table(model: Any) -> Table:
    """The table of a SQLModel class (its ``__table__`` is set by the metaclass, unknown to the type checker)."""
    table: Table = model.__table__
    return table


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
    rack_stmt = select(Rack).where(col(Rack.id).in_(rack_ids)).order_by(col(Rack.id))
    if is_postgresql(session):  # same lock as one device at a time, taken in id order to avoid deadlocks
        rack_stmt = rack_stmt.with_for_update()
    rack_map = {r.id: r for r in session.execute(rack_stmt).scalars()} if rack_ids else {}
    taken: dict[int, dict[tuple[int, RackFace], str]] = {r: {} for r in rack_map}
    draw: dict[int, int] = dict.fromkeys(rack_map, 0)
    unknown: dict[int, list[str]] = {r: [] for r in rack_map}
    if rack_map:
        for rack_id, unit, face, name in session.execute(
            select(col(RackUnit.rack_id), col(RackUnit.unit), col(RackUnit.face), col(Device.name))
            .join(Device, col(Device.id) == RackUnit.device_id).where(col(RackUnit.rack_id).in_(rack_map))
        ):
            taken[rack_id][(unit, RackFace(face))] = name
        for rack_id, watts in session.execute(
            select(col(Device.rack_id), func.sum(DeviceType.max_power_w)).join(DeviceType)
            .where(col(Device.rack_id).in_(rack_map)).group_by(col(Device.rack_id))
        ):
            draw[rack_id] = int(watts or 0)
        for rack_id, name in session.execute(
            select(col(Device.rack_id), col(Device.name)).join(DeviceType)
            .where(col(Device.rack_id).in_(rack_map), col(DeviceType.max_power_w).is_(None))
            .order_by(col(Device.name))
        ):
            unknown[rack_id].append(name)
    names = [d.name for _, d in items]
    tags = [d.asset_tag for _, d in items if d.asset_tag]
    used_names: set[str] = set()
    used_tags: set[str] = set()
    name_col, tag_col = col(Device.name), col(Device.asset_tag)
    for i in range(0, len(names), 900):
        used_names.update(session.execute(select(name_col).where(name_col.in_(names[i:i + 900]))).scalars())
    for i in range(0, len(tags), 900):
        used_tags.update(t for t in session.execute(select(tag_col).where(tag_col.in_(tags[i:i + 900]))).scalars()
                         if t is not None)

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
    device_table = _table(Device)
    columns = {c.name for c in device_table.columns} - {"id"}
    rows = [
        {k: plain(v) for k, v in dev.model_dump().items() if k in columns} | {"created_at": now, "updated_at": now}
        for _, dev, _ in accepted
    ]
    returning = insert(device_table).returning(device_table.c.id, sort_by_parameter_order=True)
    new_ids = list(session.execute(returning, rows).scalars())
    units = [
        {"rack_id": dev.rack_id, "unit": u, "face": f.value, "device_id": id_}
        for id_, (_, dev, slots) in zip(new_ids, accepted, strict=True) for u, f in slots
    ]
    if units:
        session.execute(insert(_table(RackUnit)), units)
    session.execute(insert(_table(ChangeLogEntry)), [
        {"time": now, "user_id": actor.user_id, "username": actor.username, "action": ChangeAction.CREATE.value,
         "object_type": devices.label, "object_id": id_, "object_repr": row["name"], "before": None,
         "after": {k: jsonable(v) for k, v in (row | {"id": id_}).items()}}
        for id_, row in zip(new_ids, rows, strict=True)
    ])
    outcome.created = len(new_ids)
    return outcome
