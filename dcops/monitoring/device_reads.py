"""Inventory reads the monitoring adapters need (device pages, alert and poll commands), in one place.

Monitoring stands above dcim: it reads devices, their types, sites, racks and clusters directly.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from dcops.dcim.models import Cluster, Device, DeviceType, Rack, Site
from dcops.exceptions import NotFoundError
from dcops.monitoring.history import Points, history_points
from dcops.monitoring.state_models import Interface


@dataclass
class Placement:
    """What a device is and where it stands: its type, site, rack and cluster."""

    device_type: DeviceType | None
    site: Site | None
    rack: Rack | None
    cluster: Cluster | None


def placement(session: Session, device: Device) -> Placement:
    """Return a device's type, site, rack and cluster."""
    return Placement(
        device_type=session.get(DeviceType, device.device_type_id),
        site=session.get(Site, device.site_id),
        rack=session.get(Rack, device.rack_id) if device.rack_id else None,
        cluster=session.get(Cluster, device.cluster_id) if device.cluster_id else None,
    )


def interfaces(session: Session, device_id: int) -> list[Interface]:
    """Return a device's interfaces in ifIndex order."""
    return list(session.exec(select(Interface).where(col(Interface.device_id) == device_id)
                             .order_by(col(Interface.ifindex))).all())


def chart_points(session: Session, device_id: int, keys: Collection[str], since: datetime,
                 max_points: int) -> dict[str, Points]:
    """Return the points of each wanted series key since ``since``, at most ``max_points`` spread over the range."""
    found = history_points(session, device_id=device_id, keys=keys, start=since, max_rows=max_points)
    return {key: found.get(key, []) for key in keys}


def device_id_named(session: Session, name: str) -> int | None:
    """Return the id of the device named ``name``, or None."""
    return session.exec(select(col(Device.id)).where(col(Device.name) == name)).first()


def device_id_of(session: Session, device: str) -> int:
    """Return the id of a device given by id or name; raise NotFoundError if there is none."""
    found = (session.exec(select(col(Device.id)).where(col(Device.id) == int(device))).first() if device.isdigit()
             else device_id_named(session, device))
    if found is None:
        raise NotFoundError(f"device '{device}' not found")
    return int(found)


def device_names(session: Session, ids: Collection[int]) -> dict[int, str]:
    """Return the names of the devices ``ids`` (unknown ids are absent)."""
    if not ids:
        return {}
    rows = session.exec(select(col(Device.id), col(Device.name)).where(col(Device.id).in_(list(ids)))).all()
    return {device_id: name for device_id, name in rows if device_id is not None}
