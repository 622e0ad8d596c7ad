"""Cost per agency (showback, pure): the data center's yearly cost shared out by what each agency uses.

Every figure follows from the assumptions, in Rupiah per year:

- A device costs ``price_idr / amortisation_years`` (hardware written off over its life) plus its energy:
  ``watts * 8760 h / 1000 * pue * tariff_idr_per_kwh``, where watts is the measured draw when monitoring has
  one, else ``nameplate (max_power_w) * load_factor``.
- Three pools: *compute* (hypervisors), *storage* (storage arrays) and *shared* (network, firewalls, UPS, PDU).
- A VM's compute share is ``cpu_weight * vcpus / pool vCPU + (1 - cpu_weight) * ram / pool RAM``, the pool's
  capacity being the hypervisors' threads and RAM times the cluster's allocation ratios; its storage share is
  ``disk / storage GiB`` (the arrays' decimal TB in GiB; the hypervisors' own disks when there is no array).
  The shared pool follows the compute share.
- A VM costs ``(compute share * (compute + shared) + storage share * storage) * (1 + overhead_percent / 100)``.
  What no VM uses (idle capacity) is the *unallocated* part, so agencies + unallocated = the total, exactly.
- Running it at the agency instead: the agency's server (its device type's price, else the typical price) over
  the same life, its power at ``own_pue`` in an office server room, plus ``own_overhead_percent``; a server shared
  by several applications is divided between them. The saving is that minus the data-center cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HOURS_PER_YEAR = 8760
GIB_PER_TB = 10**12 / 2**30
POOLS = ("compute", "storage", "shared")


@dataclass(frozen=True)
class Assumptions:
    """The editable assumptions (see the module docstring for how each enters)."""

    amortisation_years: float = 5.0
    tariff_idr_per_kwh: float = 1699.53
    pue: float = 1.6
    load_factor: float = 0.6
    overhead_percent: float = 15.0
    cpu_weight: float = 0.5
    own_server_price_idr: int = 120_000_000
    own_server_power_w: int = 450
    own_pue: float = 2.0
    own_overhead_percent: float = 25.0


@dataclass(frozen=True)
class Equipment:
    """A data-center device with what it costs and, for hypervisors and arrays, what it offers."""

    name: str
    role: str
    price_idr: int
    nameplate_w: int
    measured_w: float | None = None
    vcpus: float = 0.0  # hypervisors: threads x vCPU ratio
    ram_gib: float = 0.0  # hypervisors: RAM x RAM ratio
    disk_gib: float = 0.0  # arrays (or hypervisors' own disks)

    @property
    def pool(self) -> str:
        return "compute" if self.role == "hypervisor" else "storage" if self.role == "storage" else "shared"


@dataclass(frozen=True)
class Usage:
    """What one VM (or an estimate) takes: its agency and application, vCPU, RAM and disk."""

    agency: str
    application: str | None
    vcpus: float
    ram_gib: float
    disk_gib: float


@dataclass
class DeviceCost:
    name: str
    role: str
    pool: str
    amortisation_idr: float
    energy_idr: float
    watts: float
    power_source: str

    @property
    def total_idr(self) -> float:
        return self.amortisation_idr + self.energy_idr


@dataclass
class Rates:
    """The pools' yearly cost and capacity: enough to price any usage."""

    assumptions: Assumptions
    devices: list[DeviceCost]
    pool_cost: dict[str, float]
    vcpus: float
    ram_gib: float
    disk_gib: float

    def share(self, u: Usage) -> tuple[float, float]:
        """Return (compute share, storage share) of ``u``."""
        w = self.assumptions.cpu_weight
        compute = (w * u.vcpus / self.vcpus if self.vcpus else 0.0) + \
            ((1 - w) * u.ram_gib / self.ram_gib if self.ram_gib else 0.0)
        storage = u.disk_gib / self.disk_gib if self.disk_gib else 0.0
        return compute, storage

    def cost(self, u: Usage) -> float:
        """Return the yearly cost of ``u`` in Rupiah (not rounded)."""
        compute, storage = self.share(u)
        base = compute * (self.pool_cost["compute"] + self._shared()) + storage * self._storage()
        return base * (1 + self.assumptions.overhead_percent / 100)

    def _storage(self) -> float:
        return self.pool_cost["storage"] if self._by_disk else 0.0

    def _shared(self) -> float:
        # with no disk capacity to share it by, storage cost joins the shared pool
        return self.pool_cost["shared"] + (0.0 if self._by_disk else self.pool_cost["storage"])

    @property
    def _by_disk(self) -> bool:
        return bool(self.disk_gib) and any(d.pool == "storage" for d in self.devices)

    @property
    def total(self) -> float:
        return sum(self.pool_cost.values()) * (1 + self.assumptions.overhead_percent / 100)


def device_cost(e: Equipment, a: Assumptions) -> DeviceCost:
    """Return one device's yearly amortisation and energy."""
    watts = e.measured_w if e.measured_w is not None else e.nameplate_w * a.load_factor
    energy = watts * HOURS_PER_YEAR / 1000 * a.pue * a.tariff_idr_per_kwh
    return DeviceCost(e.name, e.role, e.pool, e.price_idr / a.amortisation_years, energy, watts,
                      "measured" if e.measured_w is not None else "nameplate")


def rates(equipment: list[Equipment], a: Assumptions) -> Rates:
    """Price the pools from the data center's equipment."""
    costs = [device_cost(e, a) for e in equipment]
    pool_cost = {p: sum(c.total_idr for c in costs if c.pool == p) for p in POOLS}
    arrays = sum(e.disk_gib for e in equipment if e.pool == "storage")
    disk = arrays or sum(e.disk_gib for e in equipment if e.pool == "compute")
    return Rates(a, costs, pool_cost, sum(e.vcpus for e in equipment if e.pool == "compute"),
                 sum(e.ram_gib for e in equipment if e.pool == "compute"), disk)


def own_server_cost(price_idr: int | None, watts: float | None, a: Assumptions) -> float:
    """Return the yearly cost of running one server at the agency (typical figures for what is missing)."""
    price = price_idr if price_idr else a.own_server_price_idr
    power = watts if watts else a.own_server_power_w * a.load_factor
    energy = power * HOURS_PER_YEAR / 1000 * a.own_pue * a.tariff_idr_per_kwh
    return (price / a.amortisation_years + energy) * (1 + a.own_overhead_percent / 100)


@dataclass
class AgencyCost:
    code: str
    name: str
    vcpus: float = 0
    ram_gib: float = 0
    disk_gib: float = 0
    cost_idr: float = 0.0  # what its VMs in the data center cost
    own_servers_idr: float = 0.0  # its own servers still running
    own_equivalent_idr: float = 0.0  # its applications in the DC, had they stayed on own servers
    saving_idr: float = 0.0
    applications: list[dict[str, object]] = field(default_factory=list)


@dataclass
class Showback:
    assumptions: Assumptions
    devices: list[DeviceCost]
    pools: dict[str, float]
    capacity: dict[str, float]
    agencies: list[AgencyCost]
    allocated_idr: float
    unallocated_idr: float
    total_idr: float


def showback(r: Rates, agencies: list[tuple[str, str]], usage: list[Usage],
             own_servers: dict[str, float], apps: list[dict[str, object]]) -> Showback:
    """Share the total out: per agency (its VMs), unallocated (idle), and the own-server comparison.

    ``apps``: one dict per application with ``agency``, ``name``, ``status``, ``in_dc`` (bool), ``estimate``
    (a Usage for one outside) and ``own_idr`` (its own-server equivalent).
    """
    lines = {code: AgencyCost(code, name) for code, name in agencies}
    per_app: dict[tuple[str, str], float] = {}
    compute_used = storage_used = 0.0
    for u in usage:
        line = lines.get(u.agency)
        if line is None:
            continue
        c, s = r.share(u)
        compute_used += c
        storage_used += s
        cost = r.cost(u)
        line.cost_idr += cost
        line.vcpus += u.vcpus
        line.ram_gib += u.ram_gib
        line.disk_gib += u.disk_gib
        if u.application:
            per_app[(u.agency, u.application)] = per_app.get((u.agency, u.application), 0.0) + cost
    for code, amount in own_servers.items():
        if code in lines:
            lines[code].own_servers_idr = amount
    for app in apps:
        line = lines.get(str(app["agency"]))
        if line is None:
            continue
        own = float(app["own_idr"])  # type: ignore[arg-type]  # a number, set by the caller
        if app["in_dc"]:
            dc = per_app.get((line.code, str(app["name"])), 0.0)
            line.own_equivalent_idr += own
            basis = "VMs"
        else:
            estimate = app.get("estimate")
            dc = r.cost(estimate) if isinstance(estimate, Usage) else 0.0
            basis = "estimate"
        line.applications.append({"name": app["name"], "status": app["status"], "dc_cost_idr": round(dc),
                                  "basis": basis, "own_server_idr": round(own), "saving_idr": round(own - dc)})
    for line in lines.values():
        in_vms: list[float] = [a["dc_cost_idr"] for a in line.applications  # type: ignore[misc]  # set as numbers above
                               if a["basis"] == "VMs"]
        line.saving_idr = line.own_equivalent_idr - sum(in_vms)
    factor = 1 + r.assumptions.overhead_percent / 100
    unallocated = ((1 - compute_used) * (r.pool_cost["compute"] + r._shared())
                   + (1 - storage_used) * r._storage()) * factor
    allocated = sum(line.cost_idr for line in lines.values())
    return Showback(r.assumptions, r.devices, dict(r.pool_cost),
                    {"vcpus": r.vcpus, "ram_gib": r.ram_gib, "disk_gib": r.disk_gib},
                    sorted(lines.values(), key=lambda a: (-a.cost_idr, a.code)), allocated, unallocated, r.total)
