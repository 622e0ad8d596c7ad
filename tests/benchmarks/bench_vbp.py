"""Placement against the public vector-bin-packing benchmark ("New" instances, 3 resources), with known optima.

    python -m tests.benchmarks.bench_vbp /work/shared/vbp [--classes class1,class4] [--sizes 20,500] [--set New]

DIR holds ``New_instances.tar.gz`` (VPSolver ``.vbp`` text) and ``New_summary_known.csv`` (tab-separated: LB, OPT
(-1 when unknown), best_overall = the best of the published algorithms per instance). The archive is extracted
into a temporary directory, never into the repository. For every d = 3 instance it runs, in the same process:
first fit (arrival order), first fit decreasing (by sum), ``pack()``, and ``place()`` (the service path) onto as
many empty identical hosts as there are items, and checks each result with the independent verifier below
(capacity per dimension in integers, every item placed exactly once). Printed per class, over the instances with
a known optimum: bins/OPT, % at OPT, % within OPT+1, beside the published best; then the instances with no
known optimum against the published lower bound; CPU seconds per instance of ``pack`` (median, max) and of
``place``; ``lower_bound`` against the published LB (never above OPT). Exit status 1 on an invalid result or
a bound above the optimum.

``--set Panigrahy`` reads ``Panigrahy_instances.tar.gz`` and ``Panigrahy_summary_known.csv`` from DIR instead
(the same files of the same source, in the same formats): instances the placement was not tuned on.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from dcops.capacity.placement import HostCapacity, HostShape, VMDemand, first_fit, lower_bound, pack, place


def read_vbp(path: Path) -> tuple[list[int], list[list[int]]]:
    """Return the bin capacities and one size vector per item (item types expanded by their count)."""
    values = [int(v) for v in path.read_text().split()]
    d = values[0]
    cap, m, pos, items = values[1:1 + d], values[1 + d], 2 + d, []
    for _ in range(m):
        size, count = values[pos:pos + d], values[pos + d]
        items += [size] * count
        pos += d + 1
    return cap, items


def verify(bins: list[list[str]], items: list[list[int]], cap: list[int]) -> list[str]:
    """Independent check in integers: every item exactly once, no bin over capacity in any dimension."""
    errors, count = [], [0] * len(items)
    for b, keys in enumerate(bins):
        load = [0] * len(cap)
        for k in keys:
            i = int(k[1:]) if k.startswith("v") and k[1:].isdigit() else -1
            if not 0 <= i < len(items):
                errors.append(f"bin {b}: unknown item {k!r}")
                continue
            count[i] += 1
            load = [a + s for a, s in zip(load, items[i], strict=True)]
        errors += [f"bin {b}: dimension {r} holds {load[r]} > {cap[r]}" for r in range(len(cap)) if load[r] > cap[r]]
    errors += [f"item {i} placed {c} times" for i, c in enumerate(count) if c != 1]
    return errors


def via_place(demands: list[VMDemand], shape: HostShape) -> list[list[str]]:
    """The service path: place() onto as many empty identical hosts as there are VMs."""
    hosts = [HostCapacity(id=i + 1, name=f"hv-{i + 1}", cluster_id=1, vcpus=shape.vcpus, ram_gib=shape.ram_gib,
                          disk_gib=shape.disk_gib) for i in range(len(demands))]
    result = place(hosts, demands, strategy="pack")
    by_host: dict[int, list[str]] = defaultdict(list)
    for key, host_id in sorted(result.assignment.items()):
        by_host[host_id].append(key)
    return list(by_host.values()) + [[u.key] for u in result.unplaced]  # an unplaced VM fails the count check


ALGORITHMS = {
    "first fit": lambda d, s: first_fit(d, s),
    "FFD (sum)": lambda d, s: first_fit(d, s, sort="sum"),
    "pack()": pack,
    "place()": via_place,
}


def table(title: str, rows: list[dict], ref: str) -> None:
    """Print bins/ref, % at ref and % within ref+1 per class and algorithm."""
    names = [*ALGORITHMS, "published best"]
    print(f"\n{title}")
    print(f"{'class':8} {'n':>4}  " + "  ".join(f"{n:>24}" for n in names))
    print(f"{'':8} {'':>4}  " + "  ".join(f"{'bins/' + ref + '  =' + ref + '  <=+1':>24}" for _ in names))
    classes = sorted({r["class"] for r in rows})
    for c in [*classes, "all"]:
        sel = [r for r in rows if c in ("all", r["class"])]
        if not sel:
            continue
        cells = []
        for n in names:
            ratio = statistics.fmean(r[n] / r[ref] for r in sel)
            at = 100 * sum(r[n] == r[ref] for r in sel) / len(sel)
            near = 100 * sum(r[n] <= r[ref] + 1 for r in sel) / len(sel)
            cells.append(f"{ratio:>8.4f} {at:>6.1f}% {near:>6.1f}%")
        print(f"{c:8} {len(sel):>4}  " + "  ".join(f"{x:>24}" for x in cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="folder with New_instances.tar.gz and New_summary_known.csv")
    parser.add_argument("--classes", default="", help="comma-separated classes to run (default: all)")
    parser.add_argument("--sizes", default="", help="comma-separated item counts to run (default: all)")
    parser.add_argument("--set", default="New", help="instance set: DIR/SET_instances.tar.gz (default: New)")
    args = parser.parse_args(argv)
    summary = {r["instance_name"]: r for r in
               csv.DictReader((args.dir / f"{args.set}_summary_known.csv").open(), delimiter="\t")}
    classes = set(filter(None, args.classes.split(",")))
    sizes = set(filter(None, args.sizes.split(",")))
    rows, invalid, above = [], 0, 0
    cpu: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="vbp-") as tmp:
        with tarfile.open(args.dir / f"{args.set}_instances.tar.gz") as tar:
            tar.extractall(tmp, filter="data")
        paths = sorted(Path(tmp).rglob("*.vbp"))
        for path in paths:
            name = path.stem
            cls, n, d, _ = name.split("_")
            if d != "3" or (classes and cls not in classes) or (sizes and n not in sizes) or name not in summary:
                continue
            cap, items = read_vbp(path)
            demands = [VMDemand(f"v{i}", *s) for i, s in enumerate(items)]
            shape = HostShape(*cap)
            info = summary[name]
            row = {"name": name, "class": cls, "n": int(n), "OPT": int(info["OPT"]), "LB": int(info["LB"]),
                   "published best": int(info["best_overall"])}
            for algo, run in ALGORITHMS.items():
                start = time.process_time()
                bins = run(demands, shape)
                cpu[algo].append(time.process_time() - start)
                errors = verify(bins, items, cap)
                if errors:
                    invalid += 1
                    print(f"INVALID {algo} on {name}: {errors[:3]}", file=sys.stderr)
                row[algo] = len(bins)
            row["our LB"] = lower_bound(demands, shape)
            if row["OPT"] > 0 and row["our LB"] > row["OPT"]:
                above += 1
                print(f"BOUND ABOVE OPT on {name}: {row['our LB']} > {row['OPT']}", file=sys.stderr)
            rows.append(row)
    known = [r for r in rows if r["OPT"] > 0]
    print(f"{len(rows)} instances with d = 3 ({len(known)} with a known optimum); every result verified")
    table("Known optimum: bins/OPT, % at OPT, % within OPT+1", known, "OPT")
    table("Optimum unknown: against the published lower bound", [r for r in rows if r["OPT"] <= 0], "LB")
    print("\nCPU seconds per instance: " + ", ".join(
        f"{a} median {statistics.median(v):.3f} max {max(v):.3f}" for a, v in cpu.items() if v))
    by_size = defaultdict(list)
    for r, t in zip(rows, cpu["pack()"], strict=True):
        by_size[r["n"]].append(t)
    print("pack() CPU by items: " + ", ".join(f"n={n} max {max(v):.3f}" for n, v in sorted(by_size.items())))
    place_vs_pack = sum(r["place()"] for r in rows) / max(1, sum(r["pack()"] for r in rows))
    print(f"place()/pack() hosts: {place_vs_pack:.4f} (worse on {sum(r['place()'] > r['pack()'] for r in rows)}, "
          f"better on {sum(r['place()'] < r['pack()'] for r in rows)} of {len(rows)})")
    print(f"lower_bound vs published LB: stronger on {sum(r['our LB'] > r['LB'] for r in rows)}, weaker on "
          f"{sum(r['our LB'] < r['LB'] for r in rows)}, above OPT on {above}")
    print(f"invalid results: {invalid}")
    return 1 if invalid or above else 0


if __name__ == "__main__":
    sys.exit(main())
