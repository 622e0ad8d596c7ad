"""Rack elevations: each rack as SVG with its devices in their units, coloured by health, power against budget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import distinct, func, select
from sqlmodel import Session

from dcops.auth.choices import STAFF
from dcops.database import SessionDep
from dcops.dcim import service as dcim
from dcops.dcim.models import Device, DeviceType, Rack, RackUnit, Site
from dcops.monitoring.state_models import DeviceState
from dcops.web import status, svg
from dcops.web.auth import Page, Viewer
from dcops.web.render import render

router = APIRouter()


@dataclass
class RackView:
    """One rack as drawn: its SVG, units used, nameplate and measured power against the budget."""

    rack: Rack
    svg: str
    used_units: int
    draw_w: int
    measured_w: float | None
    unracked: list[str]

    @property
    def power_pct(self) -> float:
        return 100.0 * self.draw_w / self.rack.power_budget_w if self.rack.power_budget_w else 0.0


def _measured_pdu_power(session: Session, rack_ids: list[int]) -> dict[int, float]:
    """Sum the PDUs' measured total power per rack, where monitoring has it."""
    rows = session.execute(
        select(Device.rack_id, DeviceState.samples).join(DeviceState, DeviceState.device_id == Device.id)
        .where(Device.rack_id.in_(rack_ids), Device.role == "pdu")  # type: ignore[union-attr]
    ).all()
    out: dict[int, float] = {}
    for rack_id, samples in rows:
        for metric, _labels, value in samples or []:
            if metric == "pdu_power_watts":
                out[rack_id] = out.get(rack_id, 0.0) + float(value)
    return out


def rack_views(session: Session, racks: list[Rack], unit_px: int = 13) -> list[RackView]:
    """Draw ``racks`` with their devices' health and power."""
    ids = [r.id for r in racks if r.id is not None]
    rows = session.execute(
        select(Device.id, Device.name, Device.rack_id, Device.position, Device.face, DeviceType.u_height)
        .join(DeviceType, DeviceType.id == Device.device_type_id).where(Device.rack_id.in_(ids))  # type: ignore
    ).all() if ids else []
    health = status.device_health(session, Device.rack_id.in_(ids)) if ids else {}  # type: ignore[union-attr]
    measured = _measured_pdu_power(session, ids) if ids else {}
    used, draw = _usage(session, ids) if len(racks) > 1 else ({}, {})
    by_rack: dict[int, list[Any]] = {}
    for row in rows:
        by_rack.setdefault(row[2], []).append(row)
    views = []
    for rack in racks:
        mine = by_rack.get(rack.id, [])  # type: ignore[arg-type]
        drawn = [svg.RackDevice(name, pos, height, health.get(i, "unknown"), f"/devices/{i}", str(face or "front"))
                 for i, name, _, pos, face, height in mine if pos is not None and height]
        unracked = [name for _, name, _, pos, _, height in mine if pos is None or not height]
        if len(racks) == 1:  # one rack: the DCIM service's own figures
            used[rack.id] = len({u for u, _ in dcim.rack_occupancy(session, rack.id)})  # type: ignore[arg-type]
            draw[rack.id] = dcim.rack_power_draw(session, rack.id)  # type: ignore[arg-type]
        views.append(RackView(
            rack=rack, svg=svg.rack_svg(rack.name, rack.u_height, drawn, unit_px=unit_px),
            used_units=used.get(rack.id, 0), draw_w=draw.get(rack.id, 0),  # type: ignore[arg-type]
            measured_w=measured.get(rack.id), unracked=sorted(unracked),  # type: ignore[arg-type]
        ))
    return views


def _usage(session: Session, rack_ids: list[int]) -> tuple[dict[int, int], dict[int, int]]:
    """Units used and nameplate power drawn per rack, for many racks in two queries (same sums as dcim.service)."""
    used = dict(session.execute(
        select(RackUnit.rack_id, func.count(distinct(RackUnit.unit))).where(RackUnit.rack_id.in_(rack_ids))
        .group_by(RackUnit.rack_id)).all())
    draw = dict(session.execute(
        select(Device.rack_id, func.coalesce(func.sum(DeviceType.max_power_w), 0))
        .join(DeviceType, DeviceType.id == Device.device_type_id).where(Device.rack_id.in_(rack_ids))  # type: ignore
        .group_by(Device.rack_id)).all())
    return {k: int(v) for k, v in used.items()}, {k: int(v) for k, v in draw.items()}


@router.get("/racks")
def racks_page(request: Request, session: SessionDep, site_id: int | None = None,
               viewer: Viewer = Depends(Page(STAFF))) -> Response:
    """Show the racks of one site (the first by name unless ``site_id`` is given)."""
    sites = list(session.execute(select(Site).order_by(Site.name)).scalars().all())
    site = next((s for s in sites if s.id == site_id), sites[0] if sites else None)
    racks: list[Any] = []
    if site is not None:
        racks = list(session.execute(select(Rack).where(Rack.site_id == site.id).order_by(Rack.name)).scalars())
    views = rack_views(session, racks)
    return render(request, "racks.html", session, active="racks", title="Racks", sites=sites, site=site,
                  views=views, colours=svg.HEALTH_COLOURS)


@router.get("/racks/{id}")
def rack_page(id: int, request: Request, session: SessionDep, viewer: Viewer = Depends(Page(STAFF))) -> Response:
    """Show one rack, drawn large."""
    rack = dcim.racks.get(session, actor=viewer.actor, id=id)
    site = session.get(Site, rack.site_id)
    views = rack_views(session, [rack], unit_px=18)
    return render(request, "racks.html", session, active="racks", title="Racks", sites=[site], site=site,
                  views=views, colours=svg.HEALTH_COLOURS, single=True)
