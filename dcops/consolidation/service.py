"""Agency applications and migration waves: records, every status change as an event, and the migration flow.

Starting a migration files a capacity request from the application's estimate through
:func:`dcops.capacity.service.file_request`; from then on the request leads. :func:`sync` follows it:
approved, provisioning or fulfilled puts the application in the data center (its VMs linked), rejected or
cancelled sends it back to planned. Every change is an event (who, when, from, to, why). Status writes are
conditional updates (``WHERE status = <expected>``), so two processes following the same request record one
event, not two.
"""

from __future__ import annotations

import math
import re
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, col

from dcops.auth.actor import Actor
from dcops.auth.choices import ChangeAction
from dcops.auth.scopes import require_serves
from dcops.capacity.models import CapacityRequest, CapacityRequestCreate, RequestStatus, VMSpec
from dcops.consolidation.choices import TRANSITIONS, AppStatus, Hosting
from dcops.consolidation.models import (
    AgencyApplication,
    ApplicationEvent,
    ApplicationPublic,
    ApplicationVM,
    EventPublic,
    MigrationWave,
)
from dcops.crud import ListQuery, Resource, record_change
from dcops.database import utcnow
from dcops.dcim.choices import DeviceRole, DeviceStatus
from dcops.dcim.models import Device
from dcops.exceptions import ConflictError, PermissionDeniedError, ValidationError
from dcops.tenancy.models import Agency

IN_DC_REQUEST = frozenset({RequestStatus.APPROVED, RequestStatus.PROVISIONING, RequestStatus.FULFILLED})
BACK_REQUEST = frozenset({RequestStatus.REJECTED, RequestStatus.CANCELLED})



def _pk(app: AgencyApplication) -> int:
    """Return the id of a stored application."""
    assert app.id is not None, "application not flushed yet"
    return app.id

def _check_application(session: Session, app: AgencyApplication, before: dict[str, Any] | None,
                       options: dict[str, Any]) -> list[str]:
    if app.server_device_id is not None:
        device = session.get(Device, app.server_device_id)
        assert device is not None  # references were checked
        if str(getattr(device.role, "value", device.role)) != DeviceRole.SERVER.value:
            raise ValidationError(f"server_device_id: device '{device.name}' has role {device.role}, not server; "
                                  "an agency server is a device with role server", field="server_device_id")
        if device.owner_agency_id not in (None, app.agency_id):
            raise ValidationError(f"server_device_id: device '{device.name}' belongs to another agency",
                                  field="server_device_id")
    if app.hosting == Hosting.NATIONAL and (app.est_vcpus or app.est_ram_gib or app.est_disk_gib):
        return ["a national shared application needs no capacity here; its estimate is ignored by the plan"]
    return []


applications = Resource(
    AgencyApplication, label="application", plural="applications",
    search=("name", "description", "owner_contact", "url"),
    filters=("agency_id", "status", "wave_id", "hosting", "purpose", "criticality", "server_device_id"),
    orderings=("id", "name", "agency_id", "status", "criticality", "updated_at"),
    scope="agency_id", unique=(("agency_id", "name"),), check=_check_application,
)
waves = Resource(MigrationWave, label="migration wave", plural="migration waves", search=("name", "description"),
                 filters=("fiscal_year",), orderings=("id", "name", "fiscal_year", "starts_on"),
                 default_ordering="fiscal_year")


# --- events --------------------------------------------------------------------------------


def _event(session: Session, app: AgencyApplication, actor: Actor, before: str | None, to: AppStatus,
           note: str = "") -> None:
    session.add(ApplicationEvent(application_id=_pk(app), username=actor.username,
                                 from_status=before, to_status=to.value, note=note[:500]))
    record_change(session, actor=actor, action=ChangeAction.UPDATE, object_type="application",
                  object_id=app.id or 0, object_repr=app.name, before={"status": before},
                  after={"status": to.value, "note": note} if note else {"status": to.value})


def _set_status(session: Session, app: AgencyApplication, actor: Actor, expected: str, to: AppStatus,
                note: str = "", **values: Any) -> bool:
    """Move ``app`` from ``expected`` to ``to`` if nobody moved it meanwhile; record the event. Not committed."""
    result = session.execute(
        update(AgencyApplication).where(col(AgencyApplication.id) == app.id, col(AgencyApplication.status) == expected)
        .values(status=to.value, updated_at=utcnow(), **values))
    assert isinstance(result, CursorResult)  # an UPDATE's result counts its rows
    if result.rowcount != 1:
        return False
    _event(session, app, actor, expected, to, note)
    return True


def _fresh(session: Session, actor: Actor, id: int) -> AgencyApplication:
    """Return application ``id`` as stored now (status writes bypass the ORM's identity map)."""
    app = applications.get(session, actor=actor, id=id)
    session.refresh(app)
    return app


def _status(app: AgencyApplication) -> str:
    return str(getattr(app.status, "value", app.status))


# --- create and read -------------------------------------------------------------------------


def create(session: Session, *, actor: Actor, data: Any) -> tuple[AgencyApplication, list[str]]:
    """Record an application (status outside, or in_dc for one already on the data center's VMs)."""
    values = data if isinstance(data, dict) else data.model_dump()
    if actor.scoped_agency is not None:
        raise PermissionDeniedError("agency viewers may not record applications")
    initial = AppStatus.IN_DC if values.get("hosting") in (Hosting.DC_VMS, Hosting.NATIONAL) else AppStatus.OUTSIDE
    values = values | {"status": values.get("status") or initial}
    app, warnings = applications.create(session, actor=actor, data=values, commit=False)
    session.add(ApplicationEvent(application_id=_pk(app), username=actor.username,
                                 to_status=_status(app), note="recorded"))
    applications.commit(session)
    return app, warnings


def get(session: Session, *, actor: Actor, id: int) -> AgencyApplication:
    """Return application ``id`` brought up to date with its capacity request (agency viewers: their own)."""
    app = applications.get(session, actor=actor, id=id)
    sync(session, [app])
    return _fresh(session, actor, id)


def get_all(session: Session, *, actor: Actor, query: ListQuery) -> tuple[list[AgencyApplication], int]:
    """Return one page of applications, each up to date with its capacity request."""
    rows, count = applications.get_all(session, actor=actor, query=query)
    if sync(session, rows):
        rows, count = applications.get_all(session, actor=actor, query=query)
    return rows, count


def public(session: Session, app: AgencyApplication, *, events: bool = True) -> ApplicationPublic:
    """Return the API view of ``app``: agency code, wave, fiscal year, VMs and (optionally) its events."""
    agency = session.get(Agency, app.agency_id)
    wave = session.get(MigrationWave, app.wave_id) if app.wave_id else None
    vm_ids = list(session.execute(select(col(ApplicationVM.vm_id)).where(col(ApplicationVM.application_id) == app.id)
                                  .order_by(col(ApplicationVM.vm_id))).scalars())
    rows = list(session.execute(select(ApplicationEvent).where(col(ApplicationEvent.application_id) == app.id)
                                .order_by(col(ApplicationEvent.id))).scalars()) if events else []
    values = {name: getattr(app, name) for name in AgencyApplication.model_fields}  # enums come back as text
    return ApplicationPublic.model_validate(values | {
        "agency_code": agency.code if agency else "", "wave": wave.name if wave else None,
        "fiscal_year": wave.fiscal_year if wave else None, "vm_ids": vm_ids,
        "events": [EventPublic.model_validate(e.model_dump()) for e in rows]})


def update_application(session: Session, *, actor: Actor, id: int, data: Any) -> tuple[AgencyApplication, list[str]]:
    """Change an application's record (not its status: that moves through plan, start and move)."""
    changes = data if isinstance(data, dict) else data.model_dump(exclude_unset=True)
    if "agency_id" in changes and changes["agency_id"] is not None:
        current = applications.get(session, actor=actor, id=id)
        if changes["agency_id"] != current.agency_id:
            raise ValidationError("agency_id: an application cannot change agency; record it again", field="agency_id")
    return applications.update(session, actor=actor, id=id, data=changes)


# --- the migration -------------------------------------------------------------------------------


def plan_into(session: Session, *, actor: Actor, id: int, wave_id: int, note: str = "") -> AgencyApplication:
    """Put application ``id`` in wave ``wave_id`` (status planned, the wave's fiscal year)."""
    app = applications.get(session, actor=actor, id=id, for_update=True)
    wave = session.get(MigrationWave, wave_id)
    if wave is None:
        raise ValidationError(f"wave_id: migration wave {wave_id} does not exist", field="wave_id")
    current = AppStatus(_status(app))
    if AppStatus.PLANNED not in TRANSITIONS[current]:
        raise ConflictError(f"application '{app.name}' is {current}: only an application outside or planned goes "
                            "into a wave")
    if app.hosting == Hosting.NATIONAL:
        raise ConflictError(f"application '{app.name}' is a national shared application: it needs no migration")
    text = note or f"wave {wave.name} (FY{wave.fiscal_year})"
    if not _set_status(session, app, actor, current.value, AppStatus.PLANNED, text, wave_id=wave.id):
        session.rollback()
        raise ConflictError(f"application '{app.name}' changed meanwhile; reload and retry")
    applications.commit(session)
    return _fresh(session, actor, id)


def _prefix(session: Session, app: AgencyApplication) -> str:
    agency = session.get(Agency, app.agency_id)
    code = agency.code if agency else "app"
    raw = re.sub(r"[^a-z0-9]+", "-", f"{code}-{app.name}".lower()).strip("-")[:42].strip("-")
    return raw or f"app-{app.id}"


def estimate_items(session: Session, app: AgencyApplication) -> list[VMSpec]:
    """Turn the application's estimate (totals) into request lines: ``est_vm_count`` VMs of an equal share."""
    count = max(1, app.est_vm_count)
    if app.est_vcpus <= 0 or app.est_ram_gib <= 0 or app.est_disk_gib <= 0:
        raise ValidationError(f"application '{app.name}' has no complete estimate (vCPU, RAM and disk); "
                              "set est_vcpus, est_ram_gib and est_disk_gib first", field="est_vcpus")
    return [VMSpec(name_prefix=_prefix(session, app), count=count, vcpus=max(1, math.ceil(app.est_vcpus / count)),
                   ram_gib=max(1, math.ceil(app.est_ram_gib / count)),
                   disk_gib=max(1, math.ceil(app.est_disk_gib / count)))]


def start(session: Session, *, actor: Actor, id: int, cluster_id: int | None = None,
          justification: str = "") -> tuple[AgencyApplication, CapacityRequest]:
    """Start migrating application ``id``: file a capacity request from its estimate; status migrating."""
    from dcops.capacity import service as capacity

    app = applications.get(session, actor=actor, id=id)
    require_serves(session, actor, app.agency_id)
    current = AppStatus(_status(app))
    if current not in (AppStatus.PLANNED, AppStatus.OUTSIDE):
        raise ConflictError(f"application '{app.name}' is {current}: a migration starts from planned (or outside)")
    if app.hosting == Hosting.NATIONAL:
        raise ConflictError(f"application '{app.name}' is a national shared application: it needs no migration")
    items = estimate_items(session, app)
    wave = session.get(MigrationWave, app.wave_id) if app.wave_id else None
    why = justification or (f"migration of {app.name} into the data center"
                            + (f" ({wave.name}, FY{wave.fiscal_year})" if wave else ""))
    session.rollback()  # end the read before the request's own transaction
    request, _ = capacity.file_request(session, actor=actor, data=CapacityRequestCreate(
        agency_id=app.agency_id, justification=why, cluster_id=cluster_id, items=items))
    if not _set_status(session, app, actor, current.value, AppStatus.MIGRATING,
                       f"capacity request {request.id}", capacity_request_id=request.id):
        session.rollback()
        capacity.cancel(session, actor=actor, id=request.id or 0, reason="the migration was started twice")
        raise ConflictError(f"application '{app.name}' changed meanwhile (another start?); request {request.id} "
                            "was cancelled")
    applications.commit(session)
    return _fresh(session, actor, id), request


def move(session: Session, *, actor: Actor, id: int, status: AppStatus, note: str = "") -> AgencyApplication:
    """Move application ``id`` by hand: in_dc (moved without a request), retired (its server off), or back."""
    app = applications.get(session, actor=actor, id=id, for_update=True)
    require_serves(session, actor, app.agency_id)
    current = AppStatus(_status(app))
    if status not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (it is final)"
        raise ConflictError(f"application '{app.name}' is {current}: it cannot become {status} (allowed: {allowed})")
    if status == AppStatus.PLANNED and app.wave_id is None:
        raise ConflictError(f"application '{app.name}' has no wave: plan it into a wave instead")
    values: dict[str, Any] = {"wave_id": None} if status == AppStatus.OUTSIDE else {}
    if not _set_status(session, app, actor, current.value, status, note, **values):
        session.rollback()
        raise ConflictError(f"application '{app.name}' changed meanwhile; reload and retry")
    if status == AppStatus.RETIRED:
        _retire_server(session, actor, app)
    applications.commit(session)
    return _fresh(session, actor, id)


def _retire_server(session: Session, actor: Actor, app: AgencyApplication) -> None:
    """Decommission the app's agency server once no application still runs on it outside the data center."""
    from dcops.dcim.service import devices

    if app.server_device_id is None:
        return
    others = session.execute(select(col(AgencyApplication.id)).where(
        col(AgencyApplication.server_device_id) == app.server_device_id, col(AgencyApplication.id) != app.id,
        col(AgencyApplication.status).in_([s.value for s in (AppStatus.OUTSIDE, AppStatus.PLANNED,
                                                         AppStatus.MIGRATING, AppStatus.IN_DC)]))).first()
    device = session.get(Device, app.server_device_id)
    if others is None and device is not None and device.status != DeviceStatus.DECOMMISSIONED:
        devices.update(session, actor=actor, id=device.id or 0, data={"status": DeviceStatus.DECOMMISSIONED},
                       commit=False)


def sync(session: Session, apps: list[AgencyApplication]) -> bool:
    """Bring migrating applications up to date with their capacity requests; return whether any moved."""
    from dcops.auth.actor import SYSTEM
    from dcops.capacity.service import request_vm_ids

    moved = False
    for app in apps:
        if _status(app) != AppStatus.MIGRATING.value or app.capacity_request_id is None:
            continue
        request = session.get(CapacityRequest, app.capacity_request_id)
        if request is None:
            continue
        state = RequestStatus(request.status)
        who = SYSTEM if not request.decided_by else Actor(None, request.decided_by, SYSTEM.role)
        if state in IN_DC_REQUEST:
            if _set_status(session, app, who, AppStatus.MIGRATING.value, AppStatus.IN_DC,
                           f"capacity request {request.id} {state.value}"):
                for vm_id in request_vm_ids(session, request.id or 0):
                    if session.get(ApplicationVM, vm_id) is None:
                        session.add(ApplicationVM(vm_id=vm_id, application_id=_pk(app)))
                moved = True
        elif state in BACK_REQUEST:
            moved |= _set_status(session, app, who, AppStatus.MIGRATING.value, AppStatus.PLANNED,
                                 f"capacity request {request.id} {state.value}", capacity_request_id=None)
    if moved:
        session.commit()
        session.expire_all()  # the conditional updates bypassed the loaded objects
    return moved


def sync_all(session: Session) -> bool:
    """Follow every migrating application's request (the board and the plan call this first)."""
    rows = list(session.execute(select(AgencyApplication).where(
        col(AgencyApplication.status) == AppStatus.MIGRATING.value)).scalars())
    return sync(session, rows)


def link_vms(session: Session, *, actor: Actor, id: int, vm_ids: list[int]) -> AgencyApplication:
    """Link data-center VMs to application ``id`` (an application brought in before dcops tracked it)."""
    from dcops.virtualization.models import VirtualMachine

    app = applications.get(session, actor=actor, id=id)
    require_serves(session, actor, app.agency_id)
    for vm_id in vm_ids:
        vm = session.get(VirtualMachine, vm_id)
        if vm is None or vm.agency_id != app.agency_id:
            raise ValidationError(f"vm_ids: VM {vm_id} does not exist or is another agency's", field="vm_ids")
        link = session.get(ApplicationVM, vm_id)
        if link is None:
            session.add(ApplicationVM(vm_id=vm_id, application_id=_pk(app)))
        else:
            link.application_id = _pk(app)
    applications.commit(session)
    return app
