"""Poller benchmark: memory stays flat over 1,000 cycles, and cycles with 30 % timeouts keep their interval.

Run: ``python -m tests.benchmarks.bench_poller [--cycles 1000] [--devices 10] [--interval 1.0]``

A real snmpd on loopback serves 70 % of the devices; the other 30 % point at UDP ports that never
answer, so every cycle has timeouts. Each cycle polls, records (SQLite, state + history + alert
evaluation) and compacts history every 100 cycles, exactly as ``dcops poller`` does. Figures,
each beside its reference measured in the same run:

- memory: Python heap (tracemalloc) and RSS sampled every 100 cycles after a warm-up, with the
  least-squares growth per cycle, beside the same measure of a reference loop that runs the
  event loop and a SQLite write per cycle but polls nothing (the noise floor);
- cycle duration (mean, max) beside the configured interval.

Exits 1 if the heap grows by more than 2 KiB per cycle (2 MB over 1,000 cycles) above the reference.
The interval is kept short (1 s) so that 1,000 cycles take minutes; the functional property "a cycle
with 30 % timeouts ends within its interval" is asserted in tests/monitoring/test_poller_cycle.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path


def _rss_kib() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _slope(points: list[tuple[int, float]]) -> float:
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points) or 1.0
    return sum((x - mx) * (y - my) for x, y in points) / den


def _setup(workdir: Path, devices: int) -> tuple[object, list[socket.socket]]:
    os.environ["DCOPS_DATA_DIR"] = str(workdir)
    os.environ["DCOPS_DATABASE_URL"] = f"sqlite:///{workdir / 'bench.db'}"
    from sqlmodel import Session

    from dcops.auth.actor import SYSTEM
    from dcops.config import get_settings
    from dcops.database import get_engine, upgrade
    from dcops.dcim.service import device_types, manufacturers, save_credential, sites
    from dcops.dcim.service import devices as device_service
    from dcops.monitoring.state_models import MonitoringSetting
    from tests.monitoring.agents import start_snmpd

    get_settings.cache_clear()
    upgrade()
    agent = start_snmpd(workdir / "snmpd")
    silent = []
    with Session(get_engine(), expire_on_commit=False) as s:
        site, _ = sites.create(s, actor=SYSTEM, data={"name": "DC"})
        vendor, _ = manufacturers.create(s, actor=SYSTEM, data={"name": "Vendor"})
        dtype, _ = device_types.create(s, actor=SYSTEM, data={"manufacturer_id": vendor.id, "model": "1U",
                                                              "slug": "one-u"})
        cred = save_credential(s, actor=SYSTEM, data={"name": "v2c", "kind": "snmp_v2c", "community": "public"})
        down = max(1, round(devices * 0.3))
        for i in range(devices):
            if i < down:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.bind(("127.0.0.1", 0))
                silent.append(sock)
                port = sock.getsockname()[1]
            else:
                port = agent.port
            dev, _ = device_service.create(s, actor=SYSTEM, data={
                "name": f"dev-{i}", "device_type_id": dtype.id, "role": "hypervisor", "site_id": site.id,
                "mgmt_address": "127.0.0.1", "snmp_credential_id": cred.id})
            s.add(MonitoringSetting(device_id=dev.id, snmp_port=port))
        s.commit()
    return agent, silent


async def _poll_cycles(cycles: int, interval: float, on_cycle) -> list[float]:
    from dcops.monitoring.poller import Poller, PollerOptions, _load_all
    from dcops.monitoring.snmp import SnmpClient

    options = PollerOptions(timeout_s=interval * 0.15, retries=1, compact_every_s=0.0)
    poller = Poller(options)
    durations = []
    async with SnmpClient() as client:
        for n in range(1, cycles + 1):
            targets = _load_all(options)
            report = await poller.run_cycle(client, targets, interval)
            durations.append(report.duration_s)
            if report.ok + report.failed != len(targets):
                raise SystemExit(f"cycle {n}: {report}")
            if n % 100 == 0:
                poller.maybe_compact()
                poller.save_status(len(targets))
            on_cycle(n)
    return durations


async def _reference_cycles(cycles: int, on_cycle) -> None:
    from dcops.monitoring.poller import Poller

    poller = Poller()
    for n in range(1, cycles + 1):
        await asyncio.sleep(0)
        await asyncio.to_thread(poller.save_status, 0)
        on_cycle(n)


def _measure(label: str, run, cycles: int, warmup: int) -> tuple[float, float, list[tuple[int, float]]]:
    heap: list[tuple[int, float]] = []
    rss: list[tuple[int, float]] = []

    def on_cycle(n: int) -> None:
        if n == warmup:
            tracemalloc.start()
        if n >= warmup and (n - warmup) % 100 == 0 and n > warmup or n == cycles:
            heap.append((n, tracemalloc.get_traced_memory()[0] / 1024))
            rss.append((n, float(_rss_kib())))

    run(on_cycle)
    tracemalloc.stop()
    growth = _slope(heap) * 1024 if len(heap) > 1 else 0.0
    rss_growth = _slope(rss) * 1024 if len(rss) > 1 else 0.0
    print(f"{label:<10} heap KiB at " + ", ".join(f"{n}: {v:.0f}" for n, v in heap))
    print(f"{label:<10} heap growth {growth:+.1f} B/cycle, RSS growth {rss_growth:+.1f} B/cycle "
          f"(RSS {rss[0][1] / 1024:.1f} -> {rss[-1][1] / 1024:.1f} MiB)")
    return growth, rss_growth, heap


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--interval", type=float, default=1.0, help="cycle interval in seconds")
    args = parser.parse_args()
    warmup = min(100, args.cycles // 5)
    with tempfile.TemporaryDirectory(prefix="dcops-bench-poller-") as tmp:
        agent, silent = _setup(Path(tmp), args.devices)
        try:
            print(f"{args.devices} devices ({len(silent)} never answer), {args.cycles} cycles of {args.interval} s, "
                  f"timeout {args.interval * 0.15:.2f} s x 2 tries; python {sys.version.split()[0]}")
            started = time.monotonic()
            durations: list[float] = []

            def poll(on_cycle) -> None:
                durations.extend(asyncio.run(_poll_cycles(args.cycles, args.interval, on_cycle)))

            growth, _, _ = _measure("poller", poll, args.cycles, warmup)
            ref_growth, _, _ = _measure("reference", lambda cb: asyncio.run(_reference_cycles(args.cycles, cb)),
                                        args.cycles, warmup)
            over = sum(d > args.interval for d in durations)
            print(f"cycle duration: mean {sum(durations) / len(durations):.3f} s, max {max(durations):.3f} s, "
                  f"over the interval {over} of {len(durations)}; reference: the interval, {args.interval:.3f} s")
            print(f"wall time {time.monotonic() - started:.0f} s")
        finally:
            agent.stop()
            for sock in silent:
                sock.close()
    failed = growth - ref_growth > 2048
    print("FAIL: the heap grows" if failed else "OK: memory flat")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
