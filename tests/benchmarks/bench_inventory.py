"""Inventory benchmark: import 10,000 devices from CSV, then list them through the API page by page.

Run: ``python -m tests.benchmarks.bench_inventory [--devices 10000] [--backends sqlite,postgresql]``

Each figure is printed beside a reference measured in the same run on the same database, so a
noisy machine shows up in both: the import beside a raw ``executemany`` INSERT of as many rows
(no checks, no change log), a page of the API beside the same ``SELECT ... LIMIT 100`` through the
engine and beside an HTTP round trip to ``/healthz``. Targets (issue 2): import < 10 s, p99 of a
page of 100 < 50 ms with 10,000 devices.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

PG_ADMIN = os.environ.get("DCOPS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(url: str, n: int) -> dict[str, float]:
    os.environ["DCOPS_DATABASE_URL"] = url
    from dcops.config import get_settings
    from dcops.database import dispose_engines

    get_settings.cache_clear()
    dispose_engines()
    import httpx
    from sqlalchemy import insert, text
    from sqlmodel import Session

    from dcops.auth.actor import SYSTEM
    from dcops.auth.service import create_user, issue_token
    from dcops.database import get_engine, upgrade
    from dcops.dcim.models import Device
    from dcops.dcim.service import device_types, manufacturers, racks, sites
    from dcops.main import create_app
    from dcops.transfer.formats import read_rows
    from dcops.transfer.service import import_rows, kind_named
    from tests.server import running_server

    upgrade(url)
    engine = get_engine(url)
    per_rack = 40
    with Session(engine, expire_on_commit=False) as s:
        site, _ = sites.create(s, actor=SYSTEM, data={"name": "DC"})
        vendor, _ = manufacturers.create(s, actor=SYSTEM, data={"name": "Vendor"})
        device_types.create(s, actor=SYSTEM, data={"manufacturer_id": vendor.id, "model": "1U", "slug": "one-u",
                                                   "u_height": 1, "max_power_w": 100})
        for r in range(n // per_rack + 1):
            racks.create(s, actor=SYSTEM, data={"site_id": site.id, "name": f"R{r:04d}", "u_height": 42,
                                                "power_budget_w": 100_000}, commit=False)
        s.commit()
        user = create_user(s, actor=SYSTEM, data={"username": "bench", "role": "admin"})
        token, _ = issue_token(s, actor=SYSTEM, user_id=user.id)
    lines = ["name,device_type,role,site,rack,position,face,serial"]
    lines += [f"dev-{i:05d},one-u,switch,DC,R{i // per_rack:04d},{i % per_rack + 1},front,SN{i:05d}" for i in range(n)]
    csv_text = "\n".join(lines) + "\n"

    figures: dict[str, float] = {}
    t0 = time.perf_counter()
    with Session(engine, expire_on_commit=False) as s:
        result = import_rows(s, actor=SYSTEM, kind=kind_named("devices"), rows=read_rows(csv_text, "csv"))
    figures["import_s"] = time.perf_counter() - t0
    assert result.created == n, result
    # reference: the same number of rows inserted raw, no checks, no rack units, no change log
    raw = [{"name": f"ref-{i:05d}", "device_type_id": 1, "role": "switch", "site_id": site.id, "serial": "",
            "status": "active", "description": "", "created_at": None, "updated_at": None} for i in range(n)]
    from dcops.database import utcnow

    now = utcnow()
    for row in raw:
        row["created_at"] = row["updated_at"] = now
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(Device.__table__), raw)
    figures["raw_insert_s"] = time.perf_counter() - t0
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM device WHERE name LIKE 'ref-%'"))

    headers = {"Authorization": f"Bearer {token}"}
    api, sql, health = [], [], []
    with running_server(create_app()) as base, httpx.Client(base_url=base, headers=headers) as client:
        client.get("/api/v1/dcim/devices?limit=1")  # warm up
        for offset in range(0, n, 100):
            t0 = time.perf_counter()
            r = client.get(f"/api/v1/dcim/devices?limit=100&offset={offset}")
            api.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200 and len(r.json()["data"]) == min(100, n - offset)
            t0 = time.perf_counter()
            with engine.connect() as conn:
                conn.execute(text("SELECT * FROM device ORDER BY id LIMIT 100 OFFSET :o"), {"o": offset}).all()
            sql.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            client.get("/healthz")
            health.append((time.perf_counter() - t0) * 1000)
    figures |= {"api_p50_ms": statistics.median(api), "api_p99_ms": _pct(api, 99),
                "sql_p50_ms": statistics.median(sql), "sql_p99_ms": _pct(sql, 99),
                "http_p50_ms": statistics.median(health), "http_p99_ms": _pct(health, 99)}
    dispose_engines()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dcops-bench-"))
    os.environ["DCOPS_DATA_DIR"] = str(tmp)
    from sqlalchemy import create_engine, text

    print(f"{args.devices} devices, pages of 100 ({args.devices // 100} pages)\n")
    print(f"{'backend':<11} {'import s':>9} {'raw insert s':>13} {'ratio':>6} | {'API p50':>8} {'API p99':>8} "
          f"{'SQL p50':>8} {'SQL p99':>8} {'HTTP p50':>9} {'HTTP p99':>9}  (ms)")
    for backend in args.backends.split(","):
        admin = None
        if backend == "sqlite":
            url = f"sqlite:///{tmp / 'bench.db'}"
        else:
            name = f"dcops_bench_{secrets.token_hex(3)}"
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
        try:
            f = run(url, args.devices)
        finally:
            if admin is not None:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        ratio = f["import_s"] / f["raw_insert_s"]
        print(f"{backend:<11} {f['import_s']:>9.2f} {f['raw_insert_s']:>13.2f} {ratio:>6.1f} | "
              f"{f['api_p50_ms']:>8.1f} {f['api_p99_ms']:>8.1f} {f['sql_p50_ms']:>8.1f} {f['sql_p99_ms']:>8.1f} "
              f"{f['http_p50_ms']:>9.1f} {f['http_p99_ms']:>9.1f}")
        sys.stdout.flush()
    print("\ntargets: import < 10 s; API page of 100 p99 < 50 ms")


if __name__ == "__main__":
    main()
