"""DCIM API: /api/v1/dcim/..."""

from enum import Enum
from typing import Any

from fastapi import Depends
from pydantic import BaseModel

from dcops.auth.actor import Actor
from dcops.auth.choices import ADMIN, ADMIN_OPERATOR, STAFF, Role
from dcops.auth.deps import Allow
from dcops.database import SessionDep
from dcops.dcim import models as m
from dcops.dcim import service
from dcops.dcim.choices import RackFace
from dcops.routing import ApiRouter, crud_router

router = ApiRouter(prefix="/dcim")
_tags: list[str | Enum] = ["dcim"]
for resource, path, public, create, update in (
    (service.sites, "/sites", m.SitePublic, m.SiteCreate, m.SiteUpdate),
    (service.rooms, "/rooms", m.RoomPublic, m.RoomCreate, m.RoomUpdate),
    (service.racks, "/racks", m.RackPublic, m.RackCreate, m.RackUpdate),
    (service.manufacturers, "/manufacturers", m.ManufacturerPublic, m.ManufacturerCreate, m.ManufacturerUpdate),
    (service.device_types, "/device-types", m.DeviceTypePublic, m.DeviceTypeCreate, m.DeviceTypeUpdate),
    (service.clusters, "/clusters", m.ClusterPublic, m.ClusterCreate, m.ClusterUpdate),
    (service.devices, "/devices", m.DevicePublic, m.DeviceCreate, m.DeviceUpdate),
):
    router.include_router(
        crud_router(resource, path=path, public=public, create=create, update=update,
                    read=STAFF, write=ADMIN_OPERATOR, tags=_tags)
    )

router.include_router(
    crud_router(
        service.credentials, path="/credentials", public=m.CredentialPublic, create=m.CredentialCreate,
        update=m.CredentialUpdate, read={Role.ADMIN, Role.OPERATOR, Role.AUDITOR}, write=ADMIN, tags=_tags,
        create_fn=lambda s, a, d: service.save_credential(s, actor=a, data=d),
        update_fn=lambda s, a, i, d: service.save_credential(s, actor=a, data=d, id=i),
    )
)


class RackUnitView(BaseModel):
    unit: int
    face: RackFace
    device_id: int | None
    device_name: str | None


class RackElevation(BaseModel):
    rack_id: int
    name: str
    u_height: int
    units: list[RackUnitView]
    used_units: int
    power_budget_w: int
    power_draw_w: int
    power_unknown: list[str] = []  # devices whose type has no power figure (left out of power_draw_w)


@router.get("/racks/{id}/elevation", response_model=RackElevation, tags=_tags, summary="Rack elevation and power")
def rack_elevation(id: int, session: SessionDep, actor: Actor = Depends(Allow(STAFF))) -> Any:
    """Show each unit of a rack with its device, and the power drawn against the budget."""
    rack = service.racks.get(session, actor=actor, id=id)
    taken = service.rack_occupancy(session, id)
    ids = service.rack_device_ids(session, id)
    units = [
        RackUnitView(unit=u, face=f, device_name=taken.get((u, f)), device_id=ids.get(taken.get((u, f)) or ""))
        for u in range(rack.u_height, 0, -1)
        for f in (RackFace.FRONT, RackFace.REAR)
    ]
    return RackElevation(
        rack_id=id, name=rack.name, u_height=rack.u_height, units=units,
        used_units=len({u for u, _ in taken}), power_budget_w=rack.power_budget_w,
        power_draw_w=service.rack_power_draw(session, id), power_unknown=service.rack_power_unknown(session, id),
    )
