"""Placement engine (pure): vector bin packing of VMs over vCPU, RAM and disk.

Modules: ``model`` (data, checks, verifier), ``fleet`` (``place``), ``bounds``, ``heuristics``, ``search``
(local search), ``packing`` (``pack``).

Plain data in, plain data out: no database, no HTTP. Bad input (negative or non-finite sizes, duplicate
demand keys, unknown strategy, a VM larger than an empty host in ``pack``) raises
``dcops.exceptions.ValidationError`` (422).

``place(hosts, demands, *, ha_reserve_hosts=0, strategy="pack") -> Placement``
    Places a capacity request (a few to a few hundred VMs) onto EXISTING hosts with their existing load.

    - ``hosts``: one ``HostCapacity`` per hypervisor. ``vcpus``/``ram_gib``/``disk_gib`` are what the scheduler
      may allocate, already ``allocatable(total, reserved, ratio)`` = ``(total - reserved) * allocation_ratio``
      (OpenStack Placement's formula), e.g. 64 cores at 4:1 -> 256 vCPU; ``used_*``
      is what is allocated on it now; ``available=False`` (maintenance, not active) receives nothing;
      ``anti_affinity`` holds the groups of the VMs already on it; ``cluster_name`` (optional) names the cluster
      in reasons, else its id is used.
    - ``demands``: one ``VMDemand`` per VM (unique ``key``). ``cluster_id`` restricts it to that cluster's
      hosts; ``anti_affinity`` keeps two VMs of one group (including those already placed) off the same host.
    - ``ha_reserve_hosts=k`` (N+k): per cluster, after placement the cluster's total allocation (of every host,
      those in maintenance included, since their VMs must run somewhere) must still fit, resource by resource,
      into the capacity of its available hosts minus its k largest available ones.
    - ``strategy``: ``"pack"`` puts each VM on the busiest host it fits (best fit; an empty host only when no
      loaded one has room, so hosts stay free); ``"spread"`` puts it where its fullest resource ends least used.

    ``Placement.assignment`` maps demand key -> host id; ``Placement.unplaced`` lists the others (in key order)
    with a sentence naming the resource, how much is missing and where. All-or-nothing is the caller's choice:
    ``Placement.ok()``. Deterministic: demands are placed largest first, then by key; ties go to the lowest
    host id.

``pack(demands, host: HostShape) -> list[list[str]]``
    Packs demands onto as few identical EMPTY hosts as possible (benchmark, forecast), honouring anti-affinity;
    returns the keys per host. A portfolio of constructive heuristics (bin-centric dot product of Panigrahy et
    al. 2011, the same aimed at each host's fair share of the demand, first-fit-decreasing by sum and by max of
    the normalised sizes, first fit in arrival order), the fewest hosts kept; then, while above the lower
    bound, a bin-elimination local search: empty the lightest host and reinsert its VMs by ejection moves
    (swap one VM for one or two smaller ones, weights that grow on VMs left out, a short tabu), repeated while
    it succeeds. The search is bounded by a move count, not a clock, so the result is deterministic for the
    same input sequence; under 0.5 s of CPU for 500 VMs (``python -m tests.benchmarks.bench_vbp``).
    ``first_fit`` and ``dot_product`` expose the single algorithms.

``lower_bound(demands, host) -> int``
    No packing uses fewer hosts: the largest of the volume bound, the largest anti-affinity group, the
    Martello-Toth L2 bound per resource and the large-item (conflict clique) bound; see ``bounds``.

Helpers: ``allocatable(total, reserved, ratio)``; ``packing_errors(bins, demands, host)`` (what is wrong with a
packing, [] when valid); ``amounts(size)`` formats '16 vCPU, 64 GiB RAM and 200 GiB disk' for messages.
"""


from dcops.capacity.placement.bounds import lower_bound
from dcops.capacity.placement.fleet import place
from dcops.capacity.placement.heuristics import dot_product, first_fit
from dcops.capacity.placement.model import (
    EPS,
    STRATEGIES,
    UNITS,
    HostCapacity,
    HostShape,
    Placement,
    Unplaced,
    VMDemand,
    allocatable,
    amounts,
    check_demands,
    check_hosts,
    num,
    packing_errors,
)
from dcops.capacity.placement.packing import pack

__all__ = [
    "EPS", "STRATEGIES", "UNITS", "HostCapacity", "HostShape", "Placement", "Unplaced", "VMDemand", "allocatable",
    "amounts", "check_demands", "check_hosts", "dot_product", "first_fit", "lower_bound", "num", "pack",
    "packing_errors", "place",
]
