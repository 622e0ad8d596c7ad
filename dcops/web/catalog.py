"""The inventory kinds the console lists and edits: which service, which API models, which columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlmodel import Session

from dcops.auth.actor import Actor
from dcops.auth.choices import ADMIN, ADMIN_OPERATOR, EVERYONE, STAFF, Role
from dcops.crud import ListQuery, Resource
from dcops.dcim import models as dm
from dcops.dcim import service as dcim
from dcops.dcim.choices import DeviceRole
from dcops.ipam import models as im
from dcops.ipam.service import prefixes
from dcops.tenancy import models as tm
from dcops.tenancy.service import agencies
from dcops.virtualization import models as vm
from dcops.virtualization.service import virtual_machines
from dcops.web.forms import FormField, widget

LABELS = {
    "name": "Name", "description": "Description", "address": "Address", "site_id": "Site", "room_id": "Room",
    "u_height": "Height (U)", "power_budget_w": "Power budget (W)", "device_type_id": "Type",
    "role": "Role of device", "rack_id": "Rack", "position": "Position", "face": "Face", "serial": "Serial",
    "asset_tag": "Asset tag", "mgmt_address": "Management address", "status": "Status", "cluster_id": "Cluster",
    "allow_power_overcommit": "Allow power overcommit", "code": "Code", "kind": "Kind", "parent_id": "Agency",
    "contact_name": "Contact", "agency_id": "Agency", "host_id": "Host", "ip_address": "IP address",
    "state": "State", "cidr": "CIDR", "vlan_id": "VLAN", "purpose": "Purpose", "gateway": "Gateway",
}
LABELS |= {"owner_agency_id": "Owner agency"}


@dataclass(frozen=True)
class Column:
    """A column of a list: a field, or a related object's name looked up from its id."""

    field: str
    label: str
    ref: str | None = None  # "site", "rack", ... (see REFS)
    numeric: bool = False


@dataclass(frozen=True)
class InventoryKind:
    """One model as the console shows it."""

    key: str
    title: str
    resource: Resource[Any]
    create: type[BaseModel]
    update: type[BaseModel]
    form_fields: tuple[str, ...]
    columns: tuple[Column, ...]
    filters: tuple[str, ...]
    read: frozenset[Role]
    write: frozenset[Role]
    link: Callable[[Any], str] | None = None
    bulk: tuple[str, ...] = ()  # the fields a bulk edit may set on the selected rows


def _names(session: Session, model: Any, label: str, actor: Actor | None = None,
           where: Any = None, scope: str | None = None) -> list[tuple[str, str]]:
    stmt = select(model.id, getattr(model, label)).order_by(getattr(model, label))
    if where is not None:
        stmt = stmt.where(where)
    if actor is not None and actor.scoped_agency is not None and scope:
        stmt = stmt.where(getattr(model, scope) == actor.scoped_agency)
    return [(str(i), str(n)) for i, n in session.execute(stmt).all()]


#: related object key -> (model, name column, agency scope column)
REFS: dict[str, tuple[Any, str, str | None]] = {
    "site": (dm.Site, "name", None),
    "room": (dm.Room, "name", None),
    "rack": (dm.Rack, "name", None),
    "device_type": (dm.DeviceType, "model", None),
    "cluster": (dm.Cluster, "name", None),
    "agency": (tm.Agency, "code", "id"),
    "host": (dm.Device, "name", None),
}
FIELD_REF = {"site_id": "site", "room_id": "room", "rack_id": "rack", "device_type_id": "device_type",
             "cluster_id": "cluster", "agency_id": "agency", "parent_id": "agency", "host_id": "host",
             "owner_agency_id": "agency"}


def choices(session: Session, actor: Actor, ref: str) -> list[tuple[str, str]]:
    """Return (id, name) choices for a related object, within the actor's agency."""
    model, label, scope = REFS[ref]
    where = dm.Device.role == DeviceRole.HYPERVISOR if ref == "host" else None
    return _names(session, model, label, actor, where, scope)


def ref_names(session: Session, ref: str, ids: set[int]) -> dict[int, str]:
    """Return the names of the related objects with ``ids`` (one query)."""
    if not ids:
        return {}
    model, label, _ = REFS[ref]
    rows = session.execute(select(model.id, getattr(model, label)).where(model.id.in_(ids))).all()
    return {i: str(n) for i, n in rows}


KINDS: dict[str, InventoryKind] = {
    k.key: k
    for k in (
        InventoryKind(
            "sites", "Sites", dcim.sites, dm.SiteCreate, dm.SiteUpdate, ("name", "description", "address", "agency_id"),
            (Column("name", "Name"), Column("description", "Description"), Column("address", "Address")),
            (), STAFF, ADMIN_OPERATOR, bulk=("agency_id",),
        ),
        InventoryKind(
            "racks", "Racks", dcim.racks, dm.RackCreate, dm.RackUpdate,
            ("site_id", "room_id", "name", "u_height", "power_budget_w", "description"),
            (Column("name", "Name"), Column("site_id", "Site", "site"), Column("room_id", "Room", "room"),
             Column("u_height", "Height (U)", numeric=True),
             Column("power_budget_w", "Power budget (W)", numeric=True)),
            ("site_id", "room_id"), STAFF, ADMIN_OPERATOR, link=lambda r: f"/racks/{r.id}", bulk=("room_id",),
        ),
        InventoryKind(
            "devices", "Devices", dcim.devices, dm.DeviceCreate, dm.DeviceUpdate,
            ("name", "device_type_id", "role", "status", "site_id", "rack_id", "position", "face", "cluster_id",
             "serial", "asset_tag", "mgmt_address", "description", "owner_agency_id", "allow_power_overcommit"),
            (Column("name", "Name"), Column("role", "Role of device"), Column("status", "Status"),
             Column("site_id", "Site", "site"), Column("rack_id", "Rack", "rack"),
             Column("position", "Position", numeric=True), Column("device_type_id", "Type", "device_type"),
             Column("mgmt_address", "Management address")),
            ("site_id", "rack_id", "role", "status", "cluster_id"), STAFF, ADMIN_OPERATOR,
            link=lambda d: f"/devices/{d.id}", bulk=("status", "rack_id", "cluster_id", "owner_agency_id"),
        ),
        InventoryKind(
            "agencies", "Agencies", agencies, tm.AgencyCreate, tm.AgencyUpdate,
            ("code", "name", "kind", "parent_id", "contact_name", "contact_email", "contact_phone", "quota_vcpus",
             "quota_ram_gib", "quota_disk_gib", "quota_vms", "description"),
            (Column("code", "Code"), Column("name", "Name"), Column("kind", "Kind"),
             Column("quota_vcpus", "vCPU", numeric=True), Column("quota_ram_gib", "RAM (GiB)", numeric=True),
             Column("quota_vms", "VM", numeric=True)),
            ("kind", "parent_id"), EVERYONE, ADMIN, bulk=("kind", "parent_id"),
        ),
        InventoryKind(
            "vms", "Virtual machines", virtual_machines, vm.VirtualMachineCreate, vm.VirtualMachineUpdate,
            ("name", "agency_id", "cluster_id", "host_id", "vcpus", "ram_gib", "disk_gib", "ip_address", "state",
             "description"),
            (Column("name", "Name"), Column("agency_id", "Agency", "agency"), Column("state", "State"),
             Column("vcpus", "vCPU", numeric=True), Column("ram_gib", "RAM (GiB)", numeric=True),
             Column("disk_gib", "Disk (GiB)", numeric=True), Column("host_id", "Host", "host"),
             Column("ip_address", "IP address")),
            ("agency_id", "state", "cluster_id"), EVERYONE, ADMIN_OPERATOR, bulk=("agency_id", "cluster_id"),
        ),
        InventoryKind(
            "prefixes", "Prefixes", prefixes, im.PrefixCreate, im.PrefixUpdate,
            ("cidr", "vlan_id", "agency_id", "purpose", "gateway", "description"),
            (Column("cidr", "CIDR"), Column("vlan_id", "VLAN", numeric=True), Column("agency_id", "Agency", "agency"),
             Column("purpose", "Purpose"), Column("gateway", "Gateway"), Column("description", "Description")),
            ("agency_id", "purpose"), EVERYONE, ADMIN_OPERATOR, bulk=("agency_id", "purpose"),
        ),
    )
}


def form_fields(kind: InventoryKind, model: type[BaseModel], session: Session, actor: Actor) -> list[FormField]:
    """Return the inputs of a kind's form, with the choices of its related objects."""
    out = []
    for name in kind.form_fields:
        ref = FIELD_REF.get(name)
        opts = choices(session, actor, ref) if ref else None
        if opts is not None:
            opts = [("", "—")] + opts
        out.append(widget(model, name, LABELS.get(name, name), opts))
    return out


def page(session: Session, actor: Actor, kind: InventoryKind, query: ListQuery) -> tuple[list[Any], int,
                                                                                       dict[str, dict[int, str]]]:
    """Return one page of a kind, its total, and the names of the related objects shown."""
    rows, total = kind.resource.get_all(session, actor=actor, query=query)
    names: dict[str, dict[int, str]] = {}
    for col in kind.columns:
        if col.ref and (actor.scoped_agency is None or col.ref == "agency"):
            ids = {v for r in rows if (v := getattr(r, col.field)) is not None}
            names[col.field] = ref_names(session, col.ref, ids)
    return rows, total, names
