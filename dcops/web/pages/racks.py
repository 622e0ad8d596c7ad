"""Rack elevations: each rack as SVG with its devices in their units, coloured by health, power against budget."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.responses import Response
from sqlmodel import Session, col

from dcops.auth.choices import STAFF
from dcops.database import SessionDep
from dcops.dcim import service as dcim
from dcops.dcim.models import Device, Rack
from dcops.monitoring.state import latest_samples
from dcops.routing import ApiRouter
from dcops.web import status, svg
from dcops.web.auth import Page, Viewer
from dcops.web.render import render

router = ApiRouter()


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
    rack_of = dcim.rack_pdus(session, rack_ids)
    out: dict[int, float] = {}
    for pdu, samples in latest_samples(session, rack_of).items():
        for sample in samples:
            if sample.metric == "pdu_power_watts":
                out[rack_of[pdu]] = out.get(rack_of[pdu], 0.0) + float(sample.value)
    return out


def rack_views(session: Session, racks: list[Rack], unit_px: int = 13) -> list[RackView]:
    """Draw ``racks`` with their devices' health and power."""
    ids = [r.id for r in racks if r.id is not None]
    rows = dcim.racked_devices(session, ids)
    health = status.device_health(session, col(Device.rack_id).in_(ids)) if ids else {}
    measured = _measured_pdu_power(session, ids)
    used, draw = dcim.rack_usage(session, ids) if len(racks) > 1 else ({}, {})
    by_rack: dict[int, list[dcim.RackedDevice]] = {}
    for row in rows:
        by_rack.setdefault(row.rack_id, []).append(row)
    views = []
    for rack in racks:
        assert rack.id is not None  # stored racks
        mine = by_rack.get(rack.id, [])
        drawn = [svg.RackDevice(d.name, d.position, d.u_height, health.get(d.id, "unknown"), f"/devices/{d.id}",
                                d.face or "front")
                 for d in mine if d.position is not None and d.u_height]
        unracked = [d.name for d in mine if d.position is None or not d.u_height]
        if len(racks) == 1:  # one rack: the DCIM service's own figures
            used[rack.id] = len({u for u, _ in dcim.rack_occupancy(session, rack.id)})
            draw[rack.id] = dcim.rack_power_draw(session, rack.id)
        views.append(RackView(
            rack=rack, svg=svg.rack_svg(rack.name, rack.u_height, drawn, unit_px=unit_px),
            used_units=used.get(rack.id, 0), draw_w=draw.get(rack.id, 0),
            measured_w=measured.get(rack.id), unracked=sorted(unracked),
        ))
    return views


@router.get("/racks")
def racks_page(request: Request, session: SessionDep, site_id: int | None = None,
               viewer: Viewer = Depends(Page(STAFF))) -> Response:
    """Show the racks of one site (the first by name unless ``site_id`` is given)."""
    sites = dcim.sites_by_name(session)
    site = next((s for s in sites if s.id == site_id), sites[0] if sites else None)
    racks = dcim.racks_of_site(session, site.id) if site is not None and site.id is not None else []
    views = rack_views(session, racks)
    return render(request, "racks.html", session, active="racks", title="Racks", sites=sites, site=site,
                  views=views, colours=svg.HEALTH_COLOURS)


@router.get("/racks/{id}")
def rack_page(id: int, request: Request, session: SessionDep, viewer: Viewer = Depends(Page(STAFF))) -> Response:
    """Show one rack, drawn large."""
    rack = dcim.racks.get(session, actor=viewer.actor, id=id)
    site = dcim.sites.get(session, actor=viewer.actor, id=rack.site_id)
    views = rack_views(session, [rack], unit_px=18)
    return render(request, "racks.html", session, active="racks", title="Racks", sites=[site], site=site,
                  views=views, colours=svg.HEALTH_COLOURS, single=True)
