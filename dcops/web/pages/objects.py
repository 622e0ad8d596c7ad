"""Pages NetBox and LibreNMS users expect: global search, the change log, object pages (VM, agency, prefix, IP).

Every read goes through the feature's :class:`~dcops.crud.Resource` with the viewer's actor, so an
agency viewer finds and opens only their agency's objects (anything else answers 404).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.responses import Response
from sqlmodel import Session

from dcops import changelog as change_log
from dcops.auth.choices import AUDIT, EVERYONE, Role
from dcops.capacity import service as capacity
from dcops.changelog import ChangeLogEntry
from dcops.crud import ListQuery, Resource
from dcops.database import SessionDep
from dcops.dcim.service import clusters, devices
from dcops.ipam.service import agency_prefixes, ip_addresses, prefix_addresses, prefixes
from dcops.provisioning import service as provisioning
from dcops.routing import ApiRouter
from dcops.tenancy.service import agencies
from dcops.virtualization.service import agency_vms, virtual_machines
from dcops.web.auth import Page, Viewer
from dcops.web.render import render

router = ApiRouter()
CHANGELOG_ROLES = AUDIT | {Role.OPERATOR}
PAGE = 50

# (section title, resource, link, label of a row) — devices are equipment: staff only (their resource is unscoped)
SEARCHED: list[tuple[str, Resource[Any], Any, Any]] = [
    ("Devices", devices, lambda d: f"/devices/{d.id}", lambda d: f"{d.name} · {d.serial or ''} {d.mgmt_address or ''}"),
    ("Virtual machines", virtual_machines, lambda v: f"/vms/{v.id}", lambda v: f"{v.name} · {v.ip_address or ''}"),
    ("Agencies", agencies, lambda a: f"/agencies/{a.id}", lambda a: f"{a.code} · {a.name}"),
    ("Prefixes", prefixes, lambda p: f"/prefixes/{p.id}", lambda p: f"{p.cidr} · {p.description or ''}"),
    ("IP addresses", ip_addresses, lambda i: f"/ips/{i.id}", lambda i: f"{i.address} · {i.dns_name or ''}"),
]


def object_changes(session: Session, object_type: str, object_id: int, limit: int = 20) -> list[ChangeLogEntry]:
    """The latest change-log entries of one object."""
    return change_log.history(session, object_type=object_type, object_id=object_id, limit=limit)


@router.get("/search")
def search(request: Request, session: SessionDep, q: str = "", viewer: Viewer = Depends(Page(EVERYONE))) -> Response:
    """Search devices (name, serial, asset tag, address), VMs, agencies, prefixes and IP addresses at once."""
    sections = []
    text = q.strip()[:100]
    if text:
        for title, resource, link, label in SEARCHED:
            rows, total = resource.get_all(session, actor=viewer.actor, query=ListQuery(limit=20, q=text))
            if rows:
                sections.append({"title": title, "total": total,
                                 "hits": [{"href": link(r), "label": label(r)} for r in rows]})
    return render(request, "search.html", session, active="search", title="Search", q=text, sections=sections)


@router.get("/changelog")
def changelog(request: Request, session: SessionDep, type: str = "", id: int | None = None, user: str = "",
              offset: int = 0, viewer: Viewer = Depends(Page(CHANGELOG_ROLES))) -> Response:
    """Every change, newest first: who changed what, when, before and after (filter by object or user)."""
    offset = max(offset, 0)
    rows, total = change_log.get_page(session, object_type=type or None, object_id=id, username=user or None,
                                      limit=PAGE, offset=offset)
    return render(request, "changelog.html", session, active="changelog", title="Change log", entries=rows,
                  total=total, offset=offset, limit=PAGE, type=type, object_id=id, user=user)


@router.get("/vms/{id}")
def vm_page(id: int, request: Request, session: SessionDep, viewer: Viewer = Depends(Page(EVERYONE))) -> Response:
    """One VM: its agency, placement, address, jobs and changes."""
    vm = virtual_machines.get(session, actor=viewer.actor, id=id)
    agency = agencies.get(session, actor=viewer.actor, id=vm.agency_id)
    staff = viewer.actor.scoped_agency is None
    host = session.get(devices.model, vm.host_id) if staff and vm.host_id else None
    cluster = session.get(clusters.model, vm.cluster_id) if staff and vm.cluster_id else None
    return render(request, "object_vm.html", session, active="vms", title="Virtual machines", vm=vm, agency=agency,
                  host=host, cluster=cluster, jobs=_jobs(session, viewer, vm_id=id),
                  changes=object_changes(session, virtual_machines.label, id) if staff else [])


@router.get("/agencies/{id}")
def agency_page(id: int, request: Request, session: SessionDep,
                viewer: Viewer = Depends(Page(EVERYONE))) -> Response:
    """One agency: its VMs, quota use, capacity requests, prefixes and jobs."""
    agency = agencies.get(session, actor=viewer.actor, id=id)
    vms = agency_vms(session, agency_id=id)
    live = [v for v in vms if str(getattr(v.state, "value", v.state)) not in ("decommissioned",)]
    use = {"vcpus": sum(v.vcpus for v in live), "ram_gib": sum(v.ram_gib for v in live),
           "disk_gib": sum(v.disk_gib for v in live), "vms": len(live)}
    quota = {"vcpus": agency.quota_vcpus, "ram_gib": agency.quota_ram_gib, "disk_gib": agency.quota_disk_gib,
             "vms": agency.quota_vms}
    nets = agency_prefixes(session, agency_id=id)
    return render(request, "object_agency.html", session, active="vms", title="Agencies", agency=agency, vms=vms,
                  use=use, quota=quota, prefixes=nets, requests=_requests(session, viewer, id),
                  jobs=_jobs(session, viewer, agency_id=id),
                  changes=object_changes(session, agencies.label, id) if viewer.actor.scoped_agency is None else [])


@router.get("/prefixes/{id}")
def prefix_page(id: int, request: Request, session: SessionDep,
                viewer: Viewer = Depends(Page(EVERYONE))) -> Response:
    """One prefix: its agency, VLAN, gateway and the addresses recorded in it."""
    prefix = prefixes.get(session, actor=viewer.actor, id=id)
    ips = prefix_addresses(session, prefix_id=id, limit=500)
    agency = agencies.get(session, actor=viewer.actor, id=prefix.agency_id) if prefix.agency_id else None
    return render(request, "object_prefix.html", session, active="vms", title="Prefixes", prefix=prefix, ips=ips,
                  agency=agency,
                  changes=object_changes(session, prefixes.label, id) if viewer.actor.scoped_agency is None else [])


@router.get("/ips/{id}")
def ip_page(id: int, request: Request, session: SessionDep, viewer: Viewer = Depends(Page(EVERYONE))) -> Response:
    """One IP address: its prefix, agency and what holds it."""
    ip = ip_addresses.get(session, actor=viewer.actor, id=id)
    prefix = prefixes.get(session, actor=viewer.actor, id=ip.prefix_id)
    vm = session.get(virtual_machines.model, ip.vm_id) if ip.vm_id else None
    return render(request, "object_ip.html", session, active="vms", title="IP addresses", ip=ip, prefix=prefix,
                  vm=vm,
                  changes=object_changes(session, ip_addresses.label, id) if viewer.actor.scoped_agency is None else [])


def _jobs(session: Session, viewer: Viewer, **filters: Any) -> list[Any]:
    """The newest jobs matching ``filters`` that the viewer may see."""
    rows, _ = provisioning.get_all(session, actor=viewer.actor, query=ListQuery(limit=20, filters=filters))
    return rows


def _requests(session: Session, viewer: Viewer, agency_id: int) -> list[Any]:
    """The newest capacity requests of an agency."""
    rows, _ = capacity.get_all(session, actor=viewer.actor, query=ListQuery(limit=20, filters={"agency_id": agency_id}))
    return rows
