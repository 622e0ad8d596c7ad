"""Console benchmark: render every page on the demo data plus 2,000 devices through a real server.

Run: ``python -m tests.benchmarks.bench_web [--devices 2000] [--rounds 40] [--backends sqlite,postgresql]``

The demo data center gets 2,000 more devices (50 racks of 40, through ``create_devices_bulk``), a
polled state for every device, 40 firing alerts and 24 hours of per-minute history for one device,
so the health overview, the rack elevations and the device charts have real work to do. Each page
is fetched ``rounds`` times by a logged-in client over HTTP (uvicorn on loopback); p50 and p95 are
printed beside a ``/healthz`` round trip measured in the same run. Target (issue 6): p95 < 300 ms.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

PG_ADMIN = os.environ.get("DCOPS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TARGET_MS = 300.0


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _populate(session: Any, n: int) -> dict[str, Any]:
    """Add ``n`` devices in racks of 40, their polled state, firing alerts and one device's 24 h history."""
    from sqlalchemy import insert, select

    from dcops.auth.actor import SYSTEM
    from dcops.database import utcnow
    from dcops.dcim.models import Device, DeviceCreate, DeviceType
    from dcops.dcim.service import create_devices_bulk, racks, sites
    from dcops.monitoring.alert_models import Alert
    from dcops.monitoring.state_models import DeviceState, Interface, MetricHistory, PollerStatus

    site, _ = sites.create(session, actor=SYSTEM, data={"name": "DC Bench", "description": "benchmark hall"})
    per_rack = 40
    rack_ids = []
    for r in range((n + per_rack - 1) // per_rack):
        rack, _ = racks.create(session, actor=SYSTEM, commit=False, data={
            "site_id": site.id, "name": f"B{r:03d}", "u_height": 42, "power_budget_w": 20_000})
        rack_ids.append(rack.id)
    session.commit()
    dtype = session.execute(select(DeviceType).where(DeviceType.slug == "cisco-c9300-48t")).scalars().one()
    items = [(i, DeviceCreate(name=f"bench-sw-{i:04d}", device_type_id=dtype.id, role="switch", site_id=site.id,
                              rack_id=rack_ids[i // per_rack], position=i % per_rack + 1, face="front",
                              serial=f"BENCH{i:05d}", mgmt_address=f"127.1.{i // 250}.{i % 250 + 1}"))
             for i in range(n)]
    outcome = create_devices_bulk(session, actor=SYSTEM, items=items, options={})
    assert not outcome.errors, outcome.errors[:3]
    session.commit()
    ids = list(session.execute(select(Device.id)).scalars())
    now = utcnow()
    samples = [["cpu_load_percent", {}, 23.0], ["memory_used_percent", {}, 61.0],
               ["temperature_celsius", {"sensor": "inlet"}, 27.5]]
    samples += [[m, {"ifname": f"Gi1/0/{k}"}, v] for k in range(1, 25)
                for m, v in (("if_in_bps", 1.2e8 * k), ("if_out_bps", 8.0e7 * k), ("if_oper_up", 1.0))]
    session.execute(insert(DeviceState), [
        {"device_id": i, "reachable": i % 97 != 0, "last_poll_at": now, "last_success_at": now,
         "samples": samples, "facts": {"sys_descr": "bench"}, "counters": {}, "table_rows": {}}
        for i in ids])
    session.execute(insert(Alert), [
        {"rule": "if_down" if k % 2 else "temperature_high", "severity": "critical" if k % 3 == 0 else "warning",
         "category": "health", "device_id": ids[k * 37 % len(ids)], "device_name": f"dev{k}", "subject": f"s{k}",
         "state": "firing", "open_key": f"bench|{k}", "summary": "benchmark alert", "labels": {},
         "started_at": now, "fired_at": now} for k in range(40)])
    device = session.execute(select(Device).where(Device.name == "bench-sw-0000")).scalars().one()
    session.execute(insert(Interface), [
        {"device_id": device.id, "ifindex": k, "name": f"Gi1/0/{k}", "alias": f"uplink {k}", "speed_bps": 10**9,
         "admin_up": True, "oper_up": k % 5 != 0, "updated_at": now} for k in range(1, 25)])
    history = []
    for minute in range(24 * 60):
        values = {"cpu_load_percent": 20 + minute % 30, "memory_used_percent": 60.0,
                  "temperature_celsius{sensor=inlet}": 27.0}
        values |= {f"if_in_bps{{ifname=Gi1/0/{k}}}": 1e8 + minute * k for k in range(1, 25)}
        values |= {f"if_out_bps{{ifname=Gi1/0/{k}}}": 5e7 + minute * k for k in range(1, 25)}
        history.append({"device_id": device.id, "at": now - timedelta(minutes=minute), "resolution_s": 0,
                        "values": values})
    session.execute(insert(MetricHistory), history)
    session.merge(PollerStatus(id=1, heartbeat_at=now, started_at=now, devices=len(ids), cycle_duration_s=21.5,
                               cycle_interval_s=60, polls_total=123456, overruns_total=2, errors_total={"timeout": 7}))
    session.commit()
    return {"device_id": device.id, "rack_id": rack_ids[0], "devices": len(ids)}


def run(url: str, n: int, rounds: int) -> list[tuple[str, float, float]]:
    os.environ["DCOPS_DATABASE_URL"] = url
    from dcops.config import get_settings
    from dcops.database import dispose_engines

    get_settings.cache_clear()
    dispose_engines()
    import httpx
    from sqlmodel import Session

    from dcops.database import get_engine, upgrade
    from dcops.demo.build import build_demo
    from tests.server import running_server
    from tests.web.conftest import build_app

    upgrade(url)
    with Session(get_engine(url), expire_on_commit=False) as s:
        summary = build_demo(s)
        s.commit()
        where = _populate(s, n)
    password = next(u.password for u in summary.users if u.username == "demo-admin")
    pages = ["/health", "/health/panel", "/health?kiosk=1", "/racks", f"/racks/{where['rack_id']}",
             f"/devices/{where['device_id']}", "/inventory/devices", "/inventory/devices?q=bench-sw-19",
             "/inventory/devices?role=switch&offset=1000", "/inventory/vms", "/inventory/agencies",
             "/inventory/devices/new", "/capacity", "/requests", "/requests/new", "/jobs", "/plan", "/import"]
    with Session(get_engine(url), expire_on_commit=False) as s:  # the pages of issue 13 on the same data
        from sqlalchemy import select

        from dcops.ipam.models import IPAddress, Prefix
        from dcops.tenancy.models import Agency
        from dcops.virtualization.models import VirtualMachine

        agency = s.execute(select(Agency.id).where(Agency.code == "DINKES")).scalar_one()
        vm = s.execute(select(VirtualMachine.id).where(VirtualMachine.agency_id == agency)).scalars().first()
        prefix = s.execute(select(Prefix.id).where(Prefix.agency_id == agency)).scalars().first()
        ip = s.execute(select(IPAddress.id)).scalars().first()
    pages += ["/consolidation", "/alerts", "/alerts?state=firing", "/changelog", "/users", "/account",
              "/search?q=bench-sw-12", "/search?q=BENCH0042", f"/vms/{vm}", f"/agencies/{agency}",
              f"/prefixes/{prefix}", f"/ips/{ip}", "/inventory/devices?ordering=-name",
              "/inventory/devices/export?role=switch&format=csv"]
    out: list[tuple[str, float, float]] = []
    with running_server(build_app()) as base, httpx.Client(base_url=base, timeout=60) as client:
        login = client.get("/login").text
        token = login.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        answer = client.post("/login", data={"username": "demo-admin", "password": password, "csrf_token": token})
        assert answer.status_code in (200, 303), answer.status_code
        for path in ["/healthz"] + pages:
            for _ in range(3):  # warm up (template compilation, connection pool)
                assert client.get(path).status_code == 200, path
            times = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            out.append((path, statistics.median(times), _pct(times, 95)))
    print(f"  ({where['devices']} devices in the database, {rounds} requests per page)")
    return out


def _pg_database() -> tuple[str, Any]:
    from sqlalchemy import create_engine, text

    name = f"dcops_bench_web_{secrets.token_hex(3)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        from dcops.database import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--backends", default="sqlite")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="dcops-bench-web-"))
    os.environ["DCOPS_DATA_DIR"] = str(tmp / "data")
    os.environ["DCOPS_BACKGROUND"] = "false"
    worst = 0.0
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        drop = None
        url = f"sqlite:///{tmp / 'bench.db'}" if backend == "sqlite" else None
        if backend == "postgresql":
            url, drop = _pg_database()
        assert url, f"unknown backend {backend}"
        print(f"\n{backend}: console pages, demo + {args.devices} devices")
        try:
            rows = run(url, args.devices, args.rounds)
        finally:
            if drop:
                drop()
        ref = rows[0][1]
        print(f"  {'page':<44} {'p50 ms':>8} {'p95 ms':>8} {'p50/healthz':>12}  target p95 < {TARGET_MS:.0f} ms")
        for path, p50, p95 in rows:
            ok = "" if path == "/healthz" else ("ok" if p95 < TARGET_MS else "SLOW")
            print(f"  {path:<44} {p50:8.1f} {p95:8.1f} {p50 / ref:11.1f}x  {ok}")
            if path != "/healthz":
                worst = max(worst, p95)
    verdict = "within" if worst < TARGET_MS else "OVER"
    print(f"\nworst page p95: {worst:.1f} ms ({verdict} the {TARGET_MS:.0f} ms target)")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
