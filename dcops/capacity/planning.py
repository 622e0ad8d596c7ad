"""The budget plan service: gather demand, hosts, racks and the chosen server model, then run the forecast.

The plan covers one cluster (its allocation ratios and HA reserve apply): the one named, or else the cluster with
the most active hypervisors. Demand is the live VMs (not decommissioned or failed) of that cluster; the room is the
racks of the cluster's site (every rack when the cluster has no site).

An agency's growth is, first match wins: the request's ``agency_growth`` for it, the request's ``growth_percent``
(what-if for everyone), the stored assumption (``plan_growth_assumption``), its VM history, the default (20 %/yr).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import and_, func, select
from sqlmodel import Session, col

from dcops.auth.actor import Actor
from dcops.capacity import forecast
from dcops.capacity.forecast import AgencyDemand, Growth, Plan, PlanInput, Ratios, ServerModel, Vector
from dcops.capacity.hooks import PLANNED_ARRIVALS
from dcops.capacity.plan_models import GrowthAssumption, GrowthAssumptionPublic
from dcops.crud import Resource
from dcops.database import utcnow
from dcops.dcim.choices import DeviceRole, DeviceStatus
from dcops.dcim.models import Cluster, Device, DeviceType, Rack, RackUnit
from dcops.exceptions import NotFoundError, PermissionDeniedError, ValidationError
from dcops.tenancy.models import Agency
from dcops.virtualization.models import VirtualMachine, VMState

DEFAULT_GROWTH_PERCENT = 20.0
HISTORY_YEARS = (3, 2, 1)  # look this many years back for a growth rate, the oldest that has data first
DEAD_STATES = (VMState.DECOMMISSIONED.value, VMState.FAILED.value)


class AgencyGrowthIn(BaseModel):
    """A growth assumption for one agency: a percentage per year, or amounts added per year."""

    percent: float | None = Field(default=None, ge=-100, le=1000, description="percent per year")
    vcpus_per_year: float | None = Field(default=None, ge=-100_000, le=100_000)
    ram_gib_per_year: float | None = Field(default=None, ge=-10_000_000, le=10_000_000)
    disk_gib_per_year: float | None = Field(default=None, ge=-100_000_000, le=100_000_000)

    @model_validator(mode="after")
    def _one_kind(self) -> AgencyGrowthIn:
        absolute = (self.vcpus_per_year, self.ram_gib_per_year, self.disk_gib_per_year)
        if (self.percent is None) == all(a is None for a in absolute):
            raise ValueError("give either percent, or vcpus/ram_gib/disk_gib_per_year")
        return self

    def growth(self) -> Growth:
        """Return the forecast's growth assumption."""
        if self.percent is not None:
            return Growth(percent=self.percent, source="override")
        return Growth(percent=None, added=Vector(self.vcpus_per_year or 0, self.ram_gib_per_year or 0,
                                                 self.disk_gib_per_year or 0), source="override")


class PlanRequest(BaseModel):
    """What a planner asks: horizon, server model and, for a what-if, other growth, ratios or reserve."""

    years: int = Field(default=3, ge=1, le=10, description="fiscal years after the baseline year")
    model: str = Field(min_length=1, max_length=100, description="device type slug or model name")
    cluster: str | None = Field(default=None, max_length=100, description="default: the largest cluster")
    baseline_year: int | None = Field(default=None, ge=2000, le=2100, description="default: the current year")
    growth_percent: float | None = Field(default=None, ge=-100, le=1000,
                                         description="what-if: this growth for every agency")
    default_growth_percent: float = Field(default=DEFAULT_GROWTH_PERCENT, ge=-100, le=1000,
                                          description="for agencies without a year of history")
    agency_growth: dict[str, AgencyGrowthIn] = Field(default_factory=dict, description="by agency code")
    vcpu_ratio: float | None = Field(default=None, gt=0, le=64)
    ram_ratio: float | None = Field(default=None, gt=0, le=4)
    disk_ratio: float | None = Field(default=None, gt=0, le=10)
    ha_reserve_hosts: int | None = Field(default=None, ge=0, le=16)
    migrations: bool = Field(default=True, description="add the planned migrations (consolidation waves)")
    wave_years: dict[str, Annotated[int, Field(ge=2000, le=2100)]] = Field(
        default_factory=dict, description="what-if: move a wave (by name) to another fiscal year")
    exclude_waves: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50, description="what-if: leave these waves (by name) out")


class CompareRequest(PlanRequest):
    """A what-if over several server models with the same assumptions."""

    model: str = Field(default="", max_length=100, description="unused: give models")
    models: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        min_length=1, max_length=5, description="device type slugs or model names")


def server_model(dtype: DeviceType) -> ServerModel:
    """Return the forecast's view of a device type."""
    return ServerModel(dtype.slug, dtype.model, dtype.cpu_threads, dtype.ram_gib, dtype.storage_tb,
                       dtype.u_height, dtype.max_power_w, dtype.price_idr, dtype.is_full_depth)


def server_models(session: Session) -> list[tuple[str, str]]:
    """Return (slug, model) of every device type that can be a hypervisor (it has CPU threads), by model."""
    return [(slug, model) for slug, model in session.execute(
        select(col(DeviceType.slug), col(DeviceType.model)).where(col(DeviceType.cpu_threads) > 0)
        .order_by(col(DeviceType.model)))]


def cluster_names(session: Session) -> list[str]:
    """Return the names of every cluster, sorted."""
    return list(session.execute(select(col(Cluster.name)).order_by(col(Cluster.name))).scalars())


def find_model(session: Session, name: str) -> DeviceType:
    """Return the device type with this slug or model name, or raise a ValidationError naming the choices."""
    for cond in (col(DeviceType.slug) == name, col(DeviceType.model) == name,
                 func.lower(col(DeviceType.model)) == name.strip().lower()):
        found = session.execute(select(DeviceType).where(cond)).scalars().first()
        if found is not None:
            return found
    known = session.execute(select(col(DeviceType.slug)).where(col(DeviceType.cpu_threads) > 0)
                            .order_by(col(DeviceType.slug)).limit(10)).scalars().all()
    hint = f"; server models: {', '.join(known)}" if known else "; no device type has cpu_threads set yet"
    raise ValidationError(f"model: no device type with slug or model '{name}'{hint}", field="model")


def find_cluster(session: Session, name: str | None) -> Cluster | None:
    """Return the named cluster, or the one with the most active hypervisors."""
    if name:
        found = session.execute(select(Cluster).where(col(Cluster.name) == name)).scalars().first()
        if found is None:
            raise ValidationError(f"cluster: no cluster named '{name}'", field="cluster")
        return found
    hosts = func.count(col(Device.id))
    on = and_(col(Device.cluster_id) == col(Cluster.id), col(Device.role) == DeviceRole.HYPERVISOR.value,
              col(Device.status) == DeviceStatus.ACTIVE.value)
    row = session.execute(
        select(Cluster, hosts).outerjoin(Device, on).group_by(col(Cluster.id))
        .order_by(hosts.desc(), col(Cluster.id)).limit(1)
    ).first()
    return row[0] if row else None


def historical_growth(vms: Iterable[tuple[datetime, Vector]], now: datetime) -> float | None:
    """Return the yearly growth (percent) of live VMs' demand, from the oldest of 3, 2, 1 years back with data.

    ``base`` is what the VMs created before that date allocate; the rate is the largest over resources of
    ``(now / base) ** (1 / years) - 1``, kept within 0..100 %. None when no VM is a year old.
    """
    rows = list(vms)
    current = Vector(*(sum(v.get(r) for _, v in rows) for r in forecast.RESOURCES))
    for years in HISTORY_YEARS:
        cutoff = now - timedelta(days=round(365.25 * years))
        base = Vector(*(sum(v.get(r) for t, v in rows if t < cutoff) for r in forecast.RESOURCES))
        if all(base.get(r) > 0 for r in forecast.RESOURCES if current.get(r) > 0) and base.vcpus > 0:
            rate = max((current.get(r) / base.get(r)) ** (1 / years) - 1
                       for r in forecast.RESOURCES if base.get(r) > 0)
            return round(min(100.0, max(0.0, rate * 100)), 1)
    return None


def gather(session: Session, request: PlanRequest, *, now: datetime | None = None) -> PlanInput:
    """Read the inventory into the forecast's input, applying the request's what-if overrides."""
    now = now or utcnow()
    dtype = find_model(session, request.model)
    if dtype.cpu_threads <= 0 or dtype.ram_gib <= 0 or dtype.storage_tb <= 0:
        raise ValidationError(
            f"model: '{dtype.slug}' is not a server model (cpu_threads, ram_gib and storage_tb must be set)",
            field="model",
        )
    cluster = find_cluster(session, request.cluster)
    defaults = Cluster(name="", vcpu_ratio=4.0, ram_ratio=1.0, disk_ratio=1.0, ha_reserve_hosts=1)
    base = cluster or defaults
    ratios = Ratios(request.vcpu_ratio or base.vcpu_ratio, request.ram_ratio or base.ram_ratio,
                    request.disk_ratio or base.disk_ratio)
    reserve = base.ha_reserve_hosts if request.ha_reserve_hosts is None else request.ha_reserve_hosts
    baseline = request.baseline_year or now.year
    return PlanInput(
        agencies=_with_arrivals(session, _agencies(session, cluster, request, now), request, baseline),
        model=server_model(dtype),
        ratios=ratios,
        ha_reserve_hosts=reserve,
        existing=_hosts(session, cluster),
        racks=_racks(session, cluster),
        baseline_year=baseline,
        years=request.years,
        cluster=cluster.name if cluster else "",
    )


def _agencies(session: Session, cluster: Cluster | None, request: PlanRequest, now: datetime) -> list[AgencyDemand]:
    overrides = {code.strip().upper(): g for code, g in request.agency_growth.items()}
    agencies = {a.id: a for a in session.execute(select(Agency).order_by(col(Agency.code))).scalars()}
    known = {a.code for a in agencies.values()}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValidationError(f"agency_growth: no agency with code {', '.join(unknown)}", field="agency_growth")
    stored = {g.agency_id: g for g in session.execute(select(GrowthAssumption)).scalars()}
    vms: dict[int, list[tuple[datetime, Vector]]] = defaultdict(list)
    if cluster is not None:
        vm = VirtualMachine
        stmt = select(col(vm.agency_id), col(vm.created_at), col(vm.vcpus), col(vm.ram_gib), col(vm.disk_gib)).where(
            col(vm.cluster_id) == cluster.id, col(vm.state).not_in(DEAD_STATES))
        for agency_id, created, v, r, d in session.execute(stmt):
            vms[agency_id].append((created, Vector(v, r, d)))
    result = []
    for agency in sorted(agencies.values(), key=lambda a: a.code):
        rows = vms.get(agency.id or 0, [])
        if not rows and agency.code not in overrides and agency.id not in stored:
            continue
        current = Vector(*(sum(v.get(r) for _, v in rows) for r in forecast.RESOURCES))
        if agency.code in overrides:
            growth = overrides[agency.code].growth()
        elif request.growth_percent is not None:
            growth = Growth(percent=request.growth_percent, source="what-if")
        elif agency.id in stored:
            growth = _stored_growth(stored[agency.id])
        else:
            rate = historical_growth(rows, now)
            growth = (Growth(percent=rate, source="history") if rate is not None
                      else Growth(percent=request.default_growth_percent, source="default"))
        result.append(AgencyDemand(agency.code, agency.name, current, growth,
                                   tuple((v.vcpus, v.ram_gib, v.disk_gib) for _, v in rows)))
    return result


def _with_arrivals(session: Session, agencies: list[AgencyDemand], request: PlanRequest,
                   baseline: int) -> list[AgencyDemand]:
    """Add demand that is not VMs yet (planned migrations, from the consolidation feature when installed)."""
    if not request.migrations:
        return agencies
    extra: dict[str, list[tuple[int, Vector]]] = {}
    for provider in PLANNED_ARRIVALS.all():
        for code, rows in provider(session, request, baseline).items():
            extra.setdefault(code, []).extend(rows)
    if not extra:
        return agencies
    by_code = {a.code: a for a in agencies}
    names = dict(session.execute(select(col(Agency.code), col(Agency.name)).where(
        col(Agency.code).in_(list(extra)))).all())
    for code, rows in extra.items():
        found = by_code.get(code)
        base = found or AgencyDemand(code, names.get(code, code), Vector(),
                                     Growth(percent=0.0, source="migration only"))
        by_code[code] = replace(base, arrivals=tuple(rows))
    return sorted(by_code.values(), key=lambda a: a.code)


def _hosts(session: Session, cluster: Cluster | None) -> list[forecast.ExistingHost]:
    if cluster is None:
        return []
    rows = session.execute(
        select(col(Device.name), DeviceType).join(DeviceType, col(DeviceType.id) == col(Device.device_type_id))
        .where(col(Device.cluster_id) == cluster.id, col(Device.role) == DeviceRole.HYPERVISOR.value,
               col(Device.status) == DeviceStatus.ACTIVE.value).order_by(col(Device.name))
    ).all()
    return [forecast.ExistingHost(name, server_model(dtype)) for name, dtype in rows]


def _racks(session: Session, cluster: Cluster | None) -> list[forecast.RackSpace]:
    stmt = select(Rack).order_by(col(Rack.name), col(Rack.id))
    if cluster is not None and cluster.site_id is not None:
        stmt = stmt.where(col(Rack.site_id) == cluster.site_id)
    racks = list(session.execute(stmt).scalars())
    if not racks:
        return []
    ids = [r.id for r in racks]
    taken: dict[int, set[tuple[int, str]]] = defaultdict(set)
    for rack_id, unit, face in session.execute(
            select(col(RackUnit.rack_id), col(RackUnit.unit), col(RackUnit.face))
            .where(col(RackUnit.rack_id).in_(ids))):
        taken[rack_id].add((unit, str(getattr(face, "value", face))))
    draw: dict[int, int] = {
        rack_id: int(watts) for rack_id, watts in session.execute(
            select(col(Device.rack_id), func.coalesce(func.sum(col(DeviceType.max_power_w)), 0))
            .join(DeviceType, col(DeviceType.id) == col(Device.device_type_id))
            .where(col(Device.rack_id).in_(ids)).group_by(col(Device.rack_id)))
    }
    unknown: dict[int, list[str]] = defaultdict(list)
    for rack_id, name in session.execute(
            select(col(Device.rack_id), col(Device.name))
            .join(DeviceType, col(DeviceType.id) == col(Device.device_type_id))
            .where(col(Device.rack_id).in_(ids), col(DeviceType.max_power_w).is_(None)).order_by(col(Device.name))):
        unknown[rack_id].append(name)
    return [forecast.RackSpace(r.name, r.u_height, frozenset(taken.get(r.id or 0, set())), r.power_budget_w,
                               draw.get(r.id or 0, 0), tuple(unknown.get(r.id or 0, ()))) for r in racks]


def _admit(actor: Actor) -> None:
    if actor.scoped_agency is not None:
        raise PermissionDeniedError("the budget plan covers every agency; agency viewers may not read it")


def build_plan(session: Session, *, actor: Actor, request: PlanRequest, now: datetime | None = None) -> Plan:
    """Return the budget plan for ``request``."""
    _admit(actor)
    return forecast.plan(gather(session, request, now=now))


def compare(session: Session, *, actor: Actor, request: CompareRequest, now: datetime | None = None) -> list[Plan]:
    """Return one plan per server model, with the same assumptions, for a side-by-side what-if."""
    _admit(actor)
    plans = []
    for name in request.models:
        single = PlanRequest.model_validate(request.model_dump(exclude={"models"}) | {"model": name})
        plans.append(forecast.plan(gather(session, single, now=now)))
    return plans


def comparison_rows(plans: list[Plan]) -> list[dict[str, Any]]:
    """Summarise plans side by side: per model, servers, cost, room and binding resource over the horizon."""
    rows = []
    for p in plans:
        last = p.fiscal_years[-1]
        rows.append({
            "model": p.model["slug"], "servers_to_buy": p.totals["servers_to_buy"], "cost_idr": p.totals["cost_idr"],
            "rack_units": p.totals["rack_units"], "power_kw": p.totals["power_kw"], "hosts_at_end": last.hosts_total,
            "binding_resource": last.binding_resource, "room_holds": all(y.room_holds for y in p.fiscal_years),
        })
    return rows



# --- stored growth assumptions ------------------------------------------------------------------

growth_assumptions = Resource(
    GrowthAssumption, label="growth assumption", plural="growth assumptions", repr_field="agency_id", search=(),
    filters=("agency_id",), orderings=("id",), unique=(("agency_id",),),
)


class GrowthAssumptionIn(AgencyGrowthIn):
    """A growth assumption to store for an agency, with why."""

    note: str = Field(default="", max_length=500)


def _stored_growth(row: GrowthAssumption) -> Growth:
    if row.percent is not None:
        return Growth(percent=row.percent, source="assumption")
    return Growth(percent=None, added=Vector(row.vcpus_per_year or 0, row.ram_gib_per_year or 0,
                                             row.disk_gib_per_year or 0), source="assumption")


def _agency(session: Session, code: str) -> Agency:
    found = session.execute(select(Agency).where(col(Agency.code) == code.strip().upper())).scalars().first()
    if found is None:
        raise NotFoundError(f"no agency with code '{code}'")
    return found


def _public(row: GrowthAssumption, code: str) -> GrowthAssumptionPublic:
    return GrowthAssumptionPublic(agency_code=code, percent=row.percent, vcpus_per_year=row.vcpus_per_year,
                                  ram_gib_per_year=row.ram_gib_per_year, disk_gib_per_year=row.disk_gib_per_year,
                                  note=row.note, updated_by=row.updated_by, updated_at=row.updated_at)


def list_assumptions(session: Session, *, actor: Actor) -> list[GrowthAssumptionPublic]:
    """Return every stored growth assumption, by agency code."""
    _admit(actor)
    rows = session.execute(select(GrowthAssumption, col(Agency.code)).join(
        Agency, col(Agency.id) == col(GrowthAssumption.agency_id)).order_by(col(Agency.code))).all()
    return [_public(row, code) for row, code in rows]


def set_assumption(session: Session, *, actor: Actor, code: str, data: GrowthAssumptionIn) -> GrowthAssumptionPublic:
    """Store (create or replace) the growth assumption of agency ``code``; logged in the change log."""
    _admit(actor)
    agency = _agency(session, code)
    values = {"agency_id": agency.id, "percent": data.percent, "vcpus_per_year": data.vcpus_per_year,
              "ram_gib_per_year": data.ram_gib_per_year, "disk_gib_per_year": data.disk_gib_per_year,
              "note": data.note, "updated_by": actor.username, "updated_at": utcnow()}
    existing = growth_assumptions.get_by(session, actor=actor, agency_id=agency.id)
    if existing is None:
        row, _ = growth_assumptions.create(session, actor=actor, data=values)
    else:
        row, _ = growth_assumptions.update(session, actor=actor, id=existing.id or 0, data=values)
    return _public(row, agency.code)


def clear_assumption(session: Session, *, actor: Actor, code: str) -> None:
    """Forget agency ``code``'s stored growth assumption (the plan falls back to its history)."""
    _admit(actor)
    agency = _agency(session, code)
    existing = growth_assumptions.get_by(session, actor=actor, agency_id=agency.id)
    if existing is None:
        raise NotFoundError(f"agency {agency.code} has no stored growth assumption")
    growth_assumptions.delete(session, actor=actor, id=existing.id or 0)
