"""Import and export of racks, devices, agencies and VMs.

Rows name related objects by their natural keys (a device's ``rack`` is the rack's name at
the device's ``site``), never by database ids, so a file exported from one dcops imports
into another. An import is one transaction: every row goes through the same service as
an API call (so the same invariants hold, including against earlier rows of the same
file), each row in its own savepoint so that one bad row does not hide the next. If any
row is bad, nothing is written and every bad row is reported with its line; ``dry_run``
validates and writes nothing either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlmodel import Session, SQLModel

from dcops.auth.actor import Actor
from dcops.crud import Resource
from dcops.dcim.models import Cluster, Credential, Device, DeviceCreate, DeviceType, Rack, RackCreate, Room, Site
from dcops.dcim.service import BulkOutcome, create_devices_bulk, devices, racks
from dcops.exceptions import DcopsError, NotFoundError, ValidationError
from dcops.tenancy.models import Agency, AgencyCreate
from dcops.tenancy.service import agencies
from dcops.transfer.formats import Row
from dcops.virtualization.models import VirtualMachine, VirtualMachineCreate
from dcops.virtualization.service import virtual_machines


@dataclass(frozen=True)
class RowError:
    """Why one row of an import was refused."""

    line: int
    message: str


@dataclass
class ImportResult:
    """What an import did (or, with ``dry_run``, would do)."""

    kind: str
    created: int = 0
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class ImportRefused(ValidationError):
    """An import with bad rows: nothing was written."""

    def __init__(self, result: ImportResult) -> None:
        n = len(result.errors)
        first = result.errors[0]
        super().__init__(f"{n} bad row{'s' if n > 1 else ''}, nothing imported; line {first.line}: {first.message}")
        self.result = result


M = TypeVar("M", bound=SQLModel)


class Lookup:
    """Finds related objects by natural key, caching hits (rows created earlier in the file are found too)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._cache: dict[tuple[Any, ...], Any] = {}

    def one(self, model: type[M], label: str, /, **by: Any) -> M:
        key = (model, *sorted(by.items()))
        if key not in self._cache:
            obj = self.session.execute(select(model).filter_by(**by)).scalars().first()
            if obj is None:
                shown = " ".join(f"{v}" for v in by.values() if not isinstance(v, int))
                raise NotFoundError(f"{label} '{shown}' not found")
            self._cache[key] = obj
        found: M = self._cache[key]
        return found

    def site(self, name: Any) -> Site:
        return self.one(Site, "site", name=_required(name, "site"))

    def rack(self, site: Site, name: Any) -> Rack:
        try:
            return self.one(Rack, "rack", site_id=site.id, name=str(name))
        except NotFoundError:
            raise NotFoundError(f"rack '{name}' not found at site '{site.name}'") from None

    def device_type(self, ref: Any) -> DeviceType:
        ref = _required(ref, "device_type")
        try:
            return self.one(DeviceType, "device type", slug=ref)
        except NotFoundError:
            try:
                return self.one(DeviceType, "device type", model=ref)
            except NotFoundError:
                raise NotFoundError(f"device type '{ref}' not found (give its slug or model)") from None


def _required(value: Any, column: str) -> str:
    if value is None or str(value).strip() == "":
        raise ValidationError(f"{column} is required")
    return str(value).strip()


def _opt(value: Any) -> Any:
    return None if value is None or (isinstance(value, str) and value.strip() == "") else value


# --- one Kind per importable model ---------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """How one model travels in files: its columns, how a row becomes a create request, and back."""

    name: str
    resource: Resource[Any]
    schema: type[BaseModel]
    columns: list[str]
    to_values: Callable[[Lookup, dict[str, Any]], dict[str, Any]]
    to_record: Callable[[Session, Any], dict[str, Any]]
    #: checks and inserts many rows at once (same rules, far fewer queries); per-row service calls otherwise
    bulk: Callable[..., BulkOutcome] | None = None


def _rack_values(look: Lookup, row: dict[str, Any]) -> dict[str, Any]:
    site = look.site(row.get("site"))
    values = {k: row.get(k) for k in ("name", "u_height", "power_budget_w", "description") if _opt(row.get(k))}
    values["site_id"] = site.id
    if _opt(row.get("room")):
        values["room_id"] = look.one(Room, "room", site_id=site.id, name=str(row["room"])).id
    return values


def _rack_record(session: Session, rack: Rack) -> dict[str, Any]:
    room = session.get(Room, rack.room_id) if rack.room_id else None
    return {"site": _name(session, Site, rack.site_id), "room": room.name if room else None, "name": rack.name,
            "u_height": rack.u_height, "power_budget_w": rack.power_budget_w, "description": rack.description}


def _device_values(look: Lookup, row: dict[str, Any]) -> dict[str, Any]:
    site = look.site(row.get("site"))
    values = {k: row.get(k) for k in ("name", "role", "position", "face", "serial", "asset_tag", "mgmt_address",
                                      "status", "description") if _opt(row.get(k)) is not None}
    values["site_id"] = site.id
    values["device_type_id"] = look.device_type(row.get("device_type")).id
    if _opt(row.get("rack")):
        values["rack_id"] = look.rack(site, row["rack"]).id
    if _opt(row.get("cluster")):
        values["cluster_id"] = look.one(Cluster, "cluster", name=str(row["cluster"])).id
    if _opt(row.get("snmp_credential")):
        values["snmp_credential_id"] = look.one(Credential, "credential", name=str(row["snmp_credential"])).id
    return values


def _device_record(session: Session, d: Device) -> dict[str, Any]:
    site = session.get(Site, d.site_id)
    dtype = session.get(DeviceType, d.device_type_id)
    return {
        "name": d.name, "device_type": dtype.slug if dtype else None, "role": _v(d.role),
        "site": site.name if site else None, "rack": _name(session, Rack, d.rack_id), "position": d.position,
        "face": _v(d.face), "serial": d.serial, "asset_tag": d.asset_tag, "mgmt_address": d.mgmt_address,
        "status": _v(d.status), "cluster": _name(session, Cluster, d.cluster_id),
        "snmp_credential": _name(session, Credential, d.snmp_credential_id), "description": d.description,
    }


AGENCY_FIELDS = ("code", "name", "kind", "contact_name", "contact_email", "contact_phone", "quota_vcpus",
                 "quota_ram_gib", "quota_disk_gib", "quota_vms", "description")


def _agency_values(look: Lookup, row: dict[str, Any]) -> dict[str, Any]:
    values = {k: row.get(k) for k in AGENCY_FIELDS if _opt(row.get(k)) is not None}
    if _opt(row.get("parent")):
        values["parent_id"] = look.one(Agency, "agency", code=str(row["parent"]).strip()).id
    return values


def _agency_record(session: Session, a: Agency) -> dict[str, Any]:
    record = {k: _v(getattr(a, k)) for k in AGENCY_FIELDS}
    parent = session.get(Agency, a.parent_id) if a.parent_id else None
    record["parent"] = parent.code if parent else None
    return record


def _vm_values(look: Lookup, row: dict[str, Any]) -> dict[str, Any]:
    values = {k: row.get(k) for k in ("name", "vcpus", "ram_gib", "disk_gib", "ip_address", "state", "description")
              if _opt(row.get(k)) is not None}
    values["agency_id"] = look.one(Agency, "agency", code=_required(row.get("agency"), "agency")).id
    values["cluster_id"] = look.one(Cluster, "cluster", name=_required(row.get("cluster"), "cluster")).id
    if _opt(row.get("host")):
        values["host_id"] = look.one(Device, "host", name=str(row["host"])).id
    return values


def _vm_record(session: Session, vm: VirtualMachine) -> dict[str, Any]:
    agency = session.get(Agency, vm.agency_id)
    return {"name": vm.name, "agency": agency.code if agency else None, "cluster": _name(session, Cluster,
            vm.cluster_id), "host": _name(session, Device, vm.host_id), "vcpus": vm.vcpus, "ram_gib": vm.ram_gib,
            "disk_gib": vm.disk_gib, "ip_address": vm.ip_address, "state": _v(vm.state),
            "description": vm.description}


def _name(session: Session, model: type[SQLModel], id_: int | None) -> str | None:
    obj = session.get(model, id_) if id_ is not None else None
    return getattr(obj, "name", None) if obj is not None else None


def _v(value: Any) -> Any:
    return getattr(value, "value", value)


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("racks", racks, RackCreate, ["site", "room", "name", "u_height", "power_budget_w", "description"],
             _rack_values, _rack_record),
        Kind("devices", devices, DeviceCreate,
             ["name", "device_type", "role", "site", "rack", "position", "face", "serial", "asset_tag",
              "mgmt_address", "status", "cluster", "snmp_credential", "description"], _device_values, _device_record,
             bulk=create_devices_bulk),
        Kind("agencies", agencies, AgencyCreate, ["code", "name", "kind", "parent", *AGENCY_FIELDS[3:]],
             _agency_values, _agency_record),
        Kind("vms", virtual_machines, VirtualMachineCreate,
             ["name", "agency", "cluster", "host", "vcpus", "ram_gib", "disk_gib", "ip_address", "state",
              "description"], _vm_values, _vm_record),
    )
}


def kind_named(name: str) -> Kind:
    """Return the Kind called ``name`` or a ValidationError listing the choices."""
    key = {"virtual-machines": "vms", "vm": "vms", "rack": "racks", "device": "devices", "agency": "agencies"}.get(
        name, name
    )
    if key not in KINDS:
        raise ValidationError(f"cannot import or export '{name}'; choose one of: {', '.join(KINDS)}", field="kind")
    return KINDS[key]


# --- the engine ---------------------------------------------------------------------------------


def _pydantic_message(exc: PydanticValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "row"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def import_rows(
    session: Session,
    *,
    actor: Actor,
    kind: Kind,
    rows: list[Row],
    dry_run: bool = False,
    options: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Validate and create every row in one transaction; raise ImportRefused (nothing written) if any is bad.

    The actor needs the role the API requires to create the same objects (PermissionDeniedError otherwise).
    """
    kind.resource.require_writer(actor)
    result = ImportResult(kind=kind.name, dry_run=dry_run)
    look = Lookup(session)
    known = set(kind.columns)
    valid: list[tuple[int, BaseModel]] = []
    for i, row in enumerate(rows):
        try:
            if "__error__" in row.data:
                raise ValidationError(row.data["__error__"])
            unknown = sorted(k for k in row.data if k not in known)
            if unknown:
                raise ValidationError(
                    f"unknown column {', '.join(unknown)}; the columns are: {', '.join(kind.columns)}"
                )
            if kind.bulk is not None:
                valid.append((row.line, kind.schema.model_validate(kind.to_values(look, row.data))))
            else:
                _create_one(session, actor, kind, look, row, options, result)
        except PydanticValidationError as exc:
            result.errors.append(RowError(row.line, _pydantic_message(exc)))
        except DcopsError as exc:
            result.errors.append(RowError(row.line, exc.message))
            if not session.in_transaction():  # the service had to roll everything back: stop here
                break
        if progress is not None:
            progress(i + 1)
    if kind.bulk is not None and session.in_transaction():
        outcome = kind.bulk(session, actor=actor, items=valid, options=options or {},
                            write=not (result.errors or dry_run))
        result.errors.extend(RowError(line, message) for line, message in outcome.errors)
        result.warnings.extend(f"line {line}: {w}" for line, w in outcome.warnings)
        result.created = outcome.created if not (result.errors or dry_run) else len(valid) - len(outcome.errors)
    if result.errors or dry_run:
        session.rollback()
        if result.errors:
            result.errors.sort(key=lambda e: e.line)
            raise ImportRefused(result)
        return result
    kind.resource.commit(session)
    return result


def _create_one(session: Session, actor: Actor, kind: Kind, look: Lookup, row: Row,
                options: dict[str, Any] | None, result: ImportResult) -> None:
    """Create one row through the model's service inside a savepoint, so later rows see it."""
    savepoint = session.begin_nested()
    try:
        values = kind.schema.model_validate(kind.to_values(look, row.data))
        _, warnings = kind.resource.create(session, actor=actor, data=values, options=options, commit=False)
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        raise
    savepoint.commit()
    result.created += 1
    result.warnings.extend(f"line {row.line}: {w}" for w in warnings)


def export_records(session: Session, *, actor: Actor, kind: Kind) -> list[dict[str, Any]]:
    """Return every object of ``kind`` the actor may see, as import-ready records."""
    from dcops.crud import ListQuery
    from dcops.listing import MAX_LIMIT

    out: list[dict[str, Any]] = []
    offset = 0
    while True:
        page, total = kind.resource.get_all(session, actor=actor,
                                            query=ListQuery(limit=MAX_LIMIT, offset=offset, ordering="id"))
        out.extend(kind.to_record(session, obj) for obj in page)
        offset += len(page)
        if not page or offset >= total:
            return out


def iter_files(path: Any, suffixes: Iterable[str]) -> list[Any]:
    """Return ``path`` itself or, for a directory, every file under it with one of ``suffixes``, sorted."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in set(suffixes))
    return [path]
