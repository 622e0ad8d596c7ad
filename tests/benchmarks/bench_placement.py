"""Placement benchmark: pack 10,000 VMs onto identical hosts, beside first-fit and first-fit-decreasing.

Run: ``python -m tests.benchmarks.bench_placement [--vms 10000] [--seed 7] [--repeat 3] [--exact-time 10]``

Hosts: 64 cores at 4:1 = 256 vCPU, 512 GiB RAM, 8 TB (8000 GB) disk. Per instance it prints the lower bound LB
(``placement.lower_bound``), then hosts used and seconds for ``placement.pack`` (dcops), for the bin-centric
dot product alone, for first fit in arrival order and for first-fit-decreasing by sum and by max of the
normalised sizes, all measured in the same run (best wall-clock time of ``--repeat`` runs, as timeit does, since the
machine is shared; the median and the CPU time of ``pack`` are printed too). Then, for instances of
200-500 VMs, the CP-SAT polish (``capacity.exact``): hosts, status, proven bound. Every packing is checked
(each VM once, no host over capacity, anti-affinity kept). Goals (issue 4), one PASS/FAIL line each:
10,000 VMs with anti-affinity in < 1 s; on the VM mixes hosts <= max(LB + 1, ceil(1.02 LB)); never worse than
first fit or first-fit-decreasing on any instance; the exact polish never worse than ``pack``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import numpy as np

from dcops.capacity.exact import polish
from dcops.capacity.placement import HostShape, VMDemand, dot_product, first_fit, lower_bound, pack, packing_errors

HOST = HostShape(vcpus=256, ram_gib=512, disk_gib=8000)
CAP = np.array(HOST.capacity)


def _demands(sizes: np.ndarray, groups: list[str | None] | None = None, prefix: str = "vm") -> list[VMDemand]:
    groups = groups or [None] * len(sizes)
    return [VMDemand(f"{prefix}{i:05d}", float(c), float(r), float(d), g)
            for i, ((c, r, d), g) in enumerate(zip(sizes.tolist(), groups, strict=True))]


def flavours(rng: np.random.Generator, n: int) -> np.ndarray:
    """A realistic flavour mix: 1-16 vCPU, 1-4 GiB per vCPU (1-64 GiB), 20-500 GB disk, small ones commoner."""
    cpu = rng.choice([1, 2, 4, 8, 16], size=n, p=[0.2, 0.3, 0.25, 0.17, 0.08])
    ram = np.clip(cpu * rng.choice([1, 2, 4], size=n, p=[0.25, 0.45, 0.3]), 1, 64)
    disk = rng.choice([20, 40, 50, 80, 100, 160, 200, 250, 300, 500], size=n,
                      p=[0.12, 0.14, 0.1, 0.14, 0.12, 0.1, 0.1, 0.08, 0.05, 0.05])
    return np.column_stack([cpu, ram, disk]).astype(float)


def anti_affinity(rng: np.random.Generator, n: int, share: float = 0.3) -> list[str | None]:
    """Put ``share`` of the VMs, at random, into anti-affinity groups of 2 to 5."""
    groups: list[str | None] = [None] * n
    chosen = rng.permutation(n)[: int(share * n)].tolist()
    g = 0
    while chosen:
        size = int(rng.integers(2, 6))
        for i in chosen[:size]:
            groups[i] = f"aa{g}"
        chosen, g = chosen[size:], g + 1
    return groups


def mixed_binding(rng: np.random.Generator, n: int) -> np.ndarray:
    """A third vCPU-heavy, a third RAM-heavy, a third disk-heavy, shuffled: tight on all three in total."""
    kind = rng.integers(0, 3, size=n)
    cpu = np.where(kind == 0, rng.integers(8, 17, size=n), rng.integers(1, 5, size=n))
    ram = np.where(kind == 1, rng.integers(12, 37, size=n), rng.integers(2, 9, size=n))
    disk = np.where(kind == 2, rng.integers(28, 51, size=n) * 10, rng.integers(4, 13, size=n) * 10)
    return np.column_stack([cpu, ram, disk]).astype(float)


def _units(fractions: np.ndarray) -> np.ndarray:
    """Turn fractions of a host into whole units of the host (at least one)."""
    return np.maximum(1, np.round(fractions * CAP))


def synthetic(rng: np.random.Generator, n: int, cls: str) -> np.ndarray:
    """Vector bin packing classes in the style of Panigrahy et al. (2011), as fractions of a host, in host units."""
    u = rng.uniform
    if cls == "uniform":
        f = u(0.05, 0.35, size=(n, 3))
    elif cls == "correlated":
        f = u(0.05, 0.35, size=(n, 1)) * u(0.85, 1.15, size=(n, 3))
    elif cls == "anti-correlated":
        a = u(0.05, 0.35, size=n)
        f = np.column_stack([a, 0.4 - a + u(-0.02, 0.02, size=n), u(0.05, 0.35, size=n)])
    elif cls == "similar":
        f = np.array([0.20, 0.22, 0.18]) * u(0.95, 1.05, size=(n, 3))
    elif cls == "small":
        f = u(0.01, 0.10, size=(n, 3))
    elif cls == "big+small":
        f = u(0.02, 0.15, size=(n, 3))
        big = rng.random(n) < 0.3
        f[big, rng.integers(0, 3, size=int(big.sum()))] = u(0.45, 0.7, size=int(big.sum()))
    else:
        raise ValueError(cls)
    return _units(f)


SYNTHETIC = ("uniform", "correlated", "anti-correlated", "similar", "small", "big+small")


def instances(seed: int, n: int) -> list[tuple[str, bool, list[VMDemand]]]:
    """Return (name, is a VM mix, demands) for every instance of ``n`` VMs."""
    rng = np.random.default_rng(seed)
    out = [("flavours", True, _demands(flavours(rng, n))),
           ("flavours+aa30%", True, _demands(flavours(rng, n), anti_affinity(rng, n))),
           ("mixed-binding", True, _demands(mixed_binding(rng, n)))]
    out += [(f"vbp-{cls}", False, _demands(synthetic(rng, n, cls))) for cls in SYNTHETIC]
    return out


def _timed(fn: Callable[[], list[list[str]]], repeat: int) -> tuple[list[list[str]], float, float, float]:
    """Return the result, then the best and median wall-clock seconds and the best CPU seconds of ``repeat`` runs."""
    wall, cpu, bins = [], [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        bins = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return bins, min(wall), statistics.median(wall), min(cpu)


def _goal(ok: bool, text: str) -> bool:
    print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="runs per algorithm; the median time is shown")
    parser.add_argument("--exact-time", type=float, default=10.0, help="CP-SAT time limit per instance (s)")
    parser.add_argument("--exact-workers", type=int, default=2)
    args = parser.parse_args()

    algorithms: list[tuple[str, Callable[[list[VMDemand]], list[list[str]]]]] = [
        ("dcops pack", lambda d: pack(d, HOST)),
        ("dot product", lambda d: dot_product(d, HOST)),
        ("FF arrival", lambda d: first_fit(d, HOST)),
        ("FFD sum", lambda d: first_fit(d, HOST, sort="sum")),
        ("FFD max", lambda d: first_fit(d, HOST, sort="max")),
    ]
    print(f"{args.vms} VMs per instance onto hosts of {HOST.vcpus:g} vCPU (64 cores at 4:1), {HOST.ram_gib:g} GiB,"
          f" {HOST.disk_gib:g} GB; seed {args.seed}; hosts (best wall-clock seconds of {args.repeat} runs)\n")
    head = f"{'instance':<20} {'LB':>5} " + " ".join(f"{name:>17}" for name, _ in algorithms) \
        + f" {'pack/LB':>8} {'pack median/CPU s':>18}"
    print(head)
    print("-" * len(head))
    results: list[tuple[str, bool, int, dict[str, tuple[int, float]]]] = []
    pack_times: dict[str, tuple[float, float, float]] = {}
    invalid: list[str] = []
    for name, is_mix, demands in instances(args.seed, args.vms):
        lb = lower_bound(demands, HOST)
        row: dict[str, tuple[int, float]] = {}
        for alg, fn in algorithms:
            bins, seconds, median, cpu = _timed(lambda fn=fn, d=demands: fn(d), args.repeat)
            errors = packing_errors(bins, demands, HOST)
            if errors:
                invalid.append(f"{name}/{alg}: {errors[:3]}")
            row[alg] = (len(bins), seconds)
            if alg == "dcops pack":
                pack_times[name] = (seconds, median, cpu)
        results.append((name, is_mix, lb, row))
        cells = " ".join(f"{row[a][0]:>7} ({row[a][1]:6.3f}s)" for a, _ in algorithms)
        best, median, cpu = pack_times[name]
        print(f"{name:<20} {lb:>5} {cells} {row['dcops pack'][0] / lb:>8.3f} {median:>8.3f} / {cpu:>6.3f}s",
              flush=True)

    print("\nExact polish (OR-tools CP-SAT, time limit "
          f"{args.exact_time:g} s, {args.exact_workers} workers) on small instances\n")
    head2 = f"{'instance':<20} {'VMs':>4} {'LB':>4} {'pack':>5} {'FF':>4} {'FFD':>4} {'CP-SAT':>7} {'status':>9} " \
            f"{'proven >=':>9} {'seconds':>8}"
    print(head2)
    print("-" * len(head2))
    small = [(f"{name}", d) for name, _, d in instances(args.seed + 1, 500)[:3]]
    small += [(f"{name}", d[:200]) for name, _, d in instances(args.seed + 1, 200)[3:]]
    exact_ok, proven = True, 0
    for name, demands in small:
        lb = lower_bound(demands, HOST)
        start = pack(demands, HOST)
        ff = len(first_fit(demands, HOST))
        ffd = min(len(first_fit(demands, HOST, sort=s)) for s in ("sum", "max"))
        res = polish(demands, HOST, time_limit=args.exact_time, start=start, workers=args.exact_workers)
        errors = packing_errors(res.bins, demands, HOST)
        if errors:
            invalid.append(f"{name}/CP-SAT: {errors[:3]}")
        exact_ok &= len(res.bins) <= len(start)
        proven += res.optimal
        print(f"{name:<20} {len(demands):>4} {lb:>4} {len(start):>5} {ff:>4} {ffd:>4} {len(res.bins):>7} "
              f"{res.status:>9} {res.proven_bound:>9} {res.seconds:>8.2f}", flush=True)

    print()
    ok = _goal(not invalid, "every packing valid (each VM once, no host over capacity, anti-affinity kept)"
               + ("" if not invalid else f": {invalid}"))
    best, median, cpu = pack_times["flavours+aa30%"]
    ok &= _goal(best < 1.0, f"{args.vms} VMs with 30% anti-affinity packed in {best:.3f} s (< 1 s; median "
                            f"{median:.3f} s, CPU {cpu:.3f} s)")
    for name, is_mix, lb, row in results:
        if is_mix:
            limit = max(lb + 1, math.ceil(1.02 * lb))
            ok &= _goal(row["dcops pack"][0] <= limit,
                        f"{name}: {row['dcops pack'][0]} hosts <= max(LB + 1, ceil(1.02 LB)) = {limit} (LB {lb})")
    worse = [f"{name} ({row['dcops pack'][0]} vs {min(row[a][0] for a in ('FF arrival', 'FFD sum', 'FFD max'))})"
             for name, _, _, row in results
             if row["dcops pack"][0] > min(row[a][0] for a in ("FF arrival", "FFD sum", "FFD max"))]
    ok &= _goal(not worse, "never worse than first fit or first-fit-decreasing on any instance"
                + (f": worse on {', '.join(worse)}" if worse else ""))
    ok &= _goal(exact_ok, f"exact polish never worse than pack; proven optimal on {proven} of {len(small)} instances")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
