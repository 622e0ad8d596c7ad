"""The budget forecast (pure): demand per fiscal year in, servers to buy, cost, rack space and power out.

Units and rules, stated once so that a test or a planner can recompute every figure by hand:

- Demand is what the agencies' live VMs are allocated: vCPU, RAM in GiB (2^30 bytes), disk in GiB.
- An agency's demand in year ``i`` (``i`` = 0 is the baseline, the current year) is, per resource,
  ``base * (1 + percent/100) ** i`` for a percentage growth, or ``max(0, base + i * added_per_year)`` for an
  absolute growth (shown rounded to 2 decimals). The year's demand is ``ceil(round(sum over agencies, 6))``:
  whole units, rounded up once for the total rather than per agency.
- A host offers, per resource: ``floor(cpu_threads * vcpu_ratio)`` vCPU, ``floor(ram_gib * ram_ratio)`` GiB of
  RAM and ``floor(storage_tb * 10**12 / 2**30 * disk_ratio)`` GiB of disk (vendors sell decimal terabytes;
  1 TB = 931.32 GiB). Existing hypervisors count with their own device type under the same ratios.
- HA reserve ``R`` (N+R): the fleet must still carry the demand after losing its ``R`` largest hosts, per resource.
  For resource ``r`` and ``k`` new servers, ``usable_r(k) = sum(cap_r of all hosts) - sum(R largest cap_r)``.
  The new servers needed that year are the least ``k`` with ``usable_r(k) >= demand_r`` for every resource (each
  resource alone gives ``k_r``; the *binding* resource is the one with the largest ``k_r``). With no existing
  hosts and some demand this is the textbook ``max_r ceil(demand_r / cap_r) + R``
  (no demand needs no host).
- Servers bought are never sold: the fleet's new servers after year ``i`` are ``max(previous, k_i)``; the servers
  to buy in a year are the increase, their cost ``count * price_idr`` (integer Rupiah).
- Room: for each rack, the new model fits in ``slots`` positions (free units packed bottom-up, both faces for a
  full-depth model) and ``floor(power headroom / max_power_w)`` by power (headroom = budget - the maximum draw of
  its devices); the room holds ``sum(min(slots, by power))`` new servers. Space holds when the new servers are at
  most ``sum(slots)``, power holds when their ``max_power_w`` sum is at most the summed headroom. Shortfalls are
  cumulative (all new servers so far): ``rack_units_short``, ``power_kw_short``, ``servers_unplaceable``;
  ``rack_units_free`` counts the free units usable by the model (``sum(slots) * u_height``).
- ``hosts_total`` (existing active hypervisors + new servers) is the fleet the year needs, HA reserve included.
- Packing check (``forecast_packing``): the volume rule is a lower bound, VMs do not split across hosts. The
  year's demand as VMs of each agency's mix is placed onto the existing hosts plus ``k`` new ones (same HA
  reserve); the year needs the larger of the two counts, ``decided_by`` says which (``servers_by_volume``,
  ``servers_by_packing``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from dcops.capacity.forecast_packing import servers_by_packing, year_vms
from dcops.exceptions import ValidationError

RESOURCES = ("vcpus", "ram_gib", "disk_gib")
UNITS = {"vcpus": "vCPU", "ram_gib": "GiB", "disk_gib": "GiB"}
GIB_PER_TB = 10**12 / 2**30


@dataclass(frozen=True)
class Vector:
    """An amount of each resource: vCPU, RAM GiB, disk GiB."""

    vcpus: float = 0
    ram_gib: float = 0
    disk_gib: float = 0

    def get(self, resource: str) -> float:
        """Return the amount of ``resource``."""
        return float(getattr(self, resource))


@dataclass(frozen=True)
class Growth:
    """How an agency's demand grows each year: a percentage, or an absolute amount added per year."""

    percent: float | None = 20.0
    added: Vector | None = None
    source: str = "default"

    def project(self, base: Vector, years: int) -> Vector:
        """Return the demand ``years`` after ``base`` (not rounded)."""
        if self.added is not None:
            return Vector(*(max(0.0, base.get(r) + years * self.added.get(r)) for r in RESOURCES))
        factor = (1 + (self.percent or 0.0) / 100) ** years
        return Vector(*(max(0.0, base.get(r) * factor) for r in RESOURCES))

    def describe(self) -> str:
        """Say the assumption in words."""
        if self.added is not None:
            a = self.added
            return f"+{a.vcpus:g} vCPU, +{a.ram_gib:g} GiB RAM, +{a.disk_gib:g} GiB disk per year"
        return f"{self.percent:g} % per year"


@dataclass(frozen=True)
class AgencyDemand:
    """An agency's current demand and its growth assumption."""

    code: str
    name: str
    current: Vector
    growth: Growth
    vms: tuple[tuple[float, float, float], ...] = ()  # the sizes of its live VMs (vCPU, RAM, disk): its mix
    #: demand that arrives in a fiscal year and stays (planned migrations): (fiscal year, amount), not grown
    arrivals: tuple[tuple[int, Vector], ...] = ()

    def in_year(self, fiscal_year: int, index: int) -> Vector:
        """Return the demand in ``fiscal_year`` (``index`` years after the baseline): grown + arrived so far."""
        grown = self.growth.project(self.current, index)
        if not self.arrivals:
            return grown
        came = [v for year, v in self.arrivals if year <= fiscal_year]
        return Vector(*(grown.get(r) + sum(v.get(r) for v in came) for r in RESOURCES))


@dataclass(frozen=True)
class ServerModel:
    """A server model's capacity and costs (a device type)."""

    slug: str
    model: str
    cpu_threads: int
    ram_gib: int
    storage_tb: float
    u_height: int
    max_power_w: int | None  # None: the device type has no power figure
    price_idr: int
    is_full_depth: bool = True


@dataclass(frozen=True)
class Ratios:
    """Allocation ratios: vCPU per hardware thread, RAM and disk overcommit."""

    vcpu_ratio: float = 4.0
    ram_ratio: float = 1.0
    disk_ratio: float = 1.0


@dataclass(frozen=True)
class ExistingHost:
    """An active hypervisor already in the cluster."""

    name: str
    model: ServerModel


@dataclass(frozen=True)
class RackSpace:
    """A rack of the room: its occupied (unit, face) slots and its power budget and draw."""

    name: str
    u_height: int
    taken: frozenset[tuple[int, str]]
    power_budget_w: int
    power_draw_w: int
    power_unknown: tuple[str, ...] = ()  # devices whose type has no power figure (left out of the draw)


@dataclass(frozen=True)
class PlanInput:
    """Everything the forecast needs."""

    agencies: list[AgencyDemand]
    model: ServerModel
    ratios: Ratios
    ha_reserve_hosts: int
    existing: list[ExistingHost]
    racks: list[RackSpace]
    baseline_year: int
    years: int
    cluster: str = ""


@dataclass
class ResourceYear:
    """One resource in one fiscal year."""

    resource: str
    unit: str
    demand: int
    per_new_server: int
    usable_capacity: int
    utilisation_percent: float | None
    new_servers_needed: int


@dataclass
class AgencyYear:
    """An agency's projected demand in one fiscal year."""

    code: str
    name: str
    vcpus: float
    ram_gib: float
    disk_gib: float


@dataclass
class YearPlan:
    """What one fiscal year needs and costs, and whether the room still holds it."""

    fiscal_year: int
    demand: dict[str, int]
    resources: list[ResourceYear]
    agencies: list[AgencyYear]
    binding_resource: str
    existing_hosts: int
    new_servers_total: int
    hosts_total: int
    servers_to_buy: int
    cost_idr: int
    rack_units_needed: int
    rack_units_total: int
    power_kw_needed: float
    power_kw_total: float
    rack_units_free: int
    power_kw_free: float
    servers_room_holds: int
    space_holds: bool
    power_holds: bool
    room_holds: bool
    rack_units_short: int
    power_kw_short: float
    servers_unplaceable: int
    servers_by_volume: int = 0
    servers_by_packing: int | None = None  # None: the check was skipped (too many VMs)
    decided_by: str = "volume"  # "volume" (per-resource capacity) or "packing" (VMs placed onto hosts)


@dataclass
class AgencyAssumption:
    """An agency's baseline demand and the growth assumed for it."""

    code: str
    name: str
    vcpus: int
    ram_gib: int
    disk_gib: int
    growth_percent: float | None
    growth_added: dict[str, float] | None
    growth_source: str
    growth: str


@dataclass
class Plan:
    """The budget plan: assumptions, one entry per fiscal year, and totals."""

    cluster: str
    baseline_year: int
    years: int
    model: dict[str, object]
    ratios: dict[str, float]
    ha_reserve_hosts: int
    existing_hosts: list[dict[str, object]]
    per_new_server: dict[str, int]
    baseline_demand: dict[str, int]
    agencies: list[AgencyAssumption]
    fiscal_years: list[YearPlan]
    totals: dict[str, float | int]
    notes: list[str] = field(default_factory=list)
    power_unknown: list[str] = field(default_factory=list)  # what the power figures leave out, by name



def _triple(amounts: Mapping[str, float]) -> tuple[float, float, float]:
    """Return (vCPU, RAM GiB, disk GiB) of anything indexed by resource name."""
    return float(amounts["vcpus"]), float(amounts["ram_gib"]), float(amounts["disk_gib"])

def host_capacity(model: ServerModel, ratios: Ratios) -> dict[str, int]:
    """Return what one host of ``model`` offers under ``ratios``, per resource (vCPU, GiB, GiB)."""
    return {
        "vcpus": math.floor(round(model.cpu_threads * ratios.vcpu_ratio, 6)),
        "ram_gib": math.floor(round(model.ram_gib * ratios.ram_ratio, 6)),
        "disk_gib": math.floor(round(model.storage_tb * GIB_PER_TB * ratios.disk_ratio, 6)),
    }


def usable(existing: list[int], new_cap: int, new_count: int, reserve: int) -> int:
    """Return the capacity of a fleet after losing its ``reserve`` largest hosts."""
    caps = sorted(existing + [new_cap] * min(new_count, reserve), reverse=True)  # only R copies can be among the top
    total = sum(existing) + new_cap * new_count
    return total - sum(caps[:reserve])


def new_servers_for(demand: int, existing: list[int], new_cap: int, reserve: int) -> int | None:
    """Return the least number of new servers that carries ``demand`` with the reserve, or None if none can."""
    if usable(existing, new_cap, 0, reserve) >= demand:
        return 0
    if new_cap <= 0:
        return None
    # usable(k) <= usable(0) + k * new_cap, so this is a lower bound; a few steps past it at most R more.
    k = max(1, math.ceil((demand - usable(existing, new_cap, 0, reserve)) / new_cap))
    while usable(existing, new_cap, k, reserve) < demand:
        k += 1
    return k


def server_slots(rack: RackSpace, model: ServerModel) -> int:
    """Return how many servers of ``model`` fit in the free units of ``rack`` (packed from the bottom)."""
    height = model.u_height
    if height <= 0:
        return 10**6  # 0U: mounted on the side, never short of units
    faces = ("front", "rear") if model.is_full_depth else ("front",)
    taken = set(rack.taken)
    count, position = 0, 1
    while position + height - 1 <= rack.u_height:
        slots = [(u, f) for u in range(position, position + height) for f in faces]
        if any(s in taken for s in slots):
            position += 1
            continue
        count += 1
        position += height
    return count


def plan(data: PlanInput) -> Plan:
    """Forecast the demand and the servers, cost, rack units and power of each fiscal year."""
    if not 1 <= data.years <= 10:
        raise ValidationError("years must be between 1 and 10", field="years")
    per_new = host_capacity(data.model, data.ratios)
    existing_caps = {r: [host_capacity(h.model, data.ratios)[r] for h in data.existing] for r in RESOURCES}
    reserve = data.ha_reserve_hosts
    slots = [server_slots(r, data.model) for r in data.racks]
    headroom = [max(0, r.power_budget_w - r.power_draw_w) for r in data.racks]
    watts = data.model.max_power_w or 0
    by_power = [(h // watts) if watts > 0 else s for h, s in zip(headroom, slots, strict=True)]
    room_holds_servers = sum(min(s, p) for s, p in zip(slots, by_power, strict=True))
    units_free = sum(s * max(data.model.u_height, 0) for s in slots) if data.model.u_height > 0 else 0

    years: list[YearPlan] = []
    previous = packed_before = 0
    for index in range(1, data.years + 1):
        projected = [(a, a.in_year(data.baseline_year + index, index)) for a in data.agencies]
        agency_rows = [AgencyYear(a.code, a.name, *(round(v.get(r), 2) for r in RESOURCES)) for a, v in projected]
        demand = {r: math.ceil(round(sum(v.get(r) for _, v in projected), 6)) for r in RESOURCES}
        resources = []
        for r in RESOURCES:
            k_r = new_servers_for(demand[r], existing_caps[r], per_new[r], reserve)
            if k_r is None:
                raise ValidationError(
                    f"server model '{data.model.slug}' offers no {UNITS[r]} of {r}; choose a model with "
                    f"{'cpu_threads' if r == 'vcpus' else 'ram_gib' if r == 'ram_gib' else 'storage_tb'} set",
                    field="model",
                )
            resources.append(ResourceYear(r, UNITS[r], demand[r], per_new[r], 0, None, k_r))
        by_volume = max(res.new_servers_needed for res in resources)
        host_caps = [host_capacity(h.model, data.ratios) for h in data.existing]
        mixes = [year_vms(a.vms, [p.get(r) for r in RESOURCES]) for a, p in projected]
        by_packing = servers_by_packing(
            None if any(m is None for m in mixes) else [v for m in mixes for v in m or []],
            [_triple(c) for c in host_caps], _triple(per_new), reserve, max(by_volume, packed_before))
        packed_before = by_packing if by_packing is not None else packed_before
        needed = max(by_volume, by_packing or 0)
        total_new = max(previous, needed)
        for res in resources:
            res.usable_capacity = usable(existing_caps[res.resource], per_new[res.resource], total_new, reserve)
            cap = res.usable_capacity
            res.utilisation_percent = round(100 * res.demand / cap, 1) if cap > 0 else None
        binding = _binding(resources)
        to_buy = total_new - previous
        power_total_w = total_new * watts
        years.append(YearPlan(
            fiscal_year=data.baseline_year + index,
            demand=demand,
            resources=resources,
            agencies=agency_rows,
            binding_resource=binding,
            existing_hosts=len(data.existing),
            new_servers_total=total_new,
            hosts_total=len(data.existing) + total_new,
            servers_to_buy=to_buy,
            cost_idr=to_buy * data.model.price_idr,
            rack_units_needed=to_buy * data.model.u_height,
            rack_units_total=total_new * data.model.u_height,
            power_kw_needed=to_buy * watts / 1000,
            power_kw_total=power_total_w / 1000,
            rack_units_free=units_free,
            power_kw_free=sum(headroom) / 1000,
            servers_room_holds=room_holds_servers,
            space_holds=data.model.u_height <= 0 or total_new <= sum(slots),
            power_holds=power_total_w <= sum(headroom),
            room_holds=total_new <= room_holds_servers,
            rack_units_short=max(0, total_new * data.model.u_height - units_free) if data.model.u_height > 0 else 0,
            power_kw_short=max(0, power_total_w - sum(headroom)) / 1000,
            servers_unplaceable=max(0, total_new - room_holds_servers),
            servers_by_volume=by_volume,
            servers_by_packing=by_packing,
            decided_by="packing" if by_packing is not None and by_packing > by_volume else "volume",
        ))
        previous = total_new
    return _assemble(data, per_new, years)


def _binding(resources: list[ResourceYear]) -> str:
    """The resource that sets the server count; if none needs a server, the most utilised one."""
    most = max(res.new_servers_needed for res in resources)
    if most > 0:
        return next(res.resource for res in resources if res.new_servers_needed == most)
    return max(resources, key=lambda res: res.utilisation_percent or 0.0).resource


def _assemble(data: PlanInput, per_new: dict[str, int], years: list[YearPlan]) -> Plan:
    m = data.model
    agencies = [
        AgencyAssumption(
            a.code, a.name, int(a.current.vcpus), int(a.current.ram_gib), int(a.current.disk_gib),
            a.growth.percent if a.growth.added is None else None,
            {r: a.growth.added.get(r) for r in RESOURCES} if a.growth.added is not None else None,
            a.growth.source, a.growth.describe(),
        )
        for a in data.agencies
    ]
    unknown = sorted({name for r in data.racks for name in r.power_unknown})
    if m.max_power_w is None:
        unknown.insert(0, f"{m.slug} (the planned servers)")
    notes = [f"power unknown for {', '.join(unknown)}: their device type has no power figure, so the kW "
             "figures and the power check leave them out"] if unknown else []
    return Plan(
        power_unknown=unknown,
        cluster=data.cluster,
        baseline_year=data.baseline_year,
        years=data.years,
        model={"slug": m.slug, "model": m.model, "cpu_threads": m.cpu_threads, "ram_gib": m.ram_gib,
               "storage_tb": m.storage_tb, "u_height": m.u_height, "max_power_w": m.max_power_w,
               "price_idr": m.price_idr},
        ratios={"vcpu_ratio": data.ratios.vcpu_ratio, "ram_ratio": data.ratios.ram_ratio,
                "disk_ratio": data.ratios.disk_ratio},
        ha_reserve_hosts=data.ha_reserve_hosts,
        existing_hosts=[{"name": h.name, "model": h.model.slug, **host_capacity(h.model, data.ratios)}
                        for h in data.existing],
        per_new_server=per_new,
        baseline_demand={r: sum(int(a.current.get(r)) for a in data.agencies) for r in RESOURCES},
        agencies=agencies,
        fiscal_years=years,
        totals=totals(years),
        notes=[
            "RAM and disk in GiB (2^30 bytes); server storage is sold in decimal TB: 1 TB = 931.32 GiB",
            f"HA reserve N+{data.ha_reserve_hosts}: the load must fit after losing the largest host(s), per resource",
            "fiscal year = calendar year; year 0 (the baseline) is the current demand",
            "new servers are never sold again: a year's purchase is the increase over the year before",
            *notes,
            *_arrival_notes(data),
        ],
    )


def _arrival_notes(data: PlanInput) -> list[str]:
    """Say how planned migrations entered the demand (nothing when there are none)."""
    arrivals = [(a.code, year, v) for a in data.agencies for year, v in a.arrivals]
    if not arrivals:
        return []
    years = sorted({year for _, year, _ in arrivals})
    return [f"planned migrations: {len(arrivals)} application estimate(s) of {len({c for c, _, _ in arrivals})} "
            f"agencies join the demand in their wave's fiscal year ({', '.join(map(str, years))}) and stay, "
            "not grown"]


def totals(years: Iterable[YearPlan]) -> dict[str, float | int]:
    """Return the plan's totals over its fiscal years."""
    rows = list(years)
    last = rows[-1] if rows else None
    return {
        "servers_to_buy": sum(y.servers_to_buy for y in rows),
        "cost_idr": sum(y.cost_idr for y in rows),
        "rack_units": sum(y.rack_units_needed for y in rows),
        "power_kw": round(sum(y.power_kw_needed for y in rows), 3),
        "hosts_at_end": last.hosts_total if last else 0,
    }
