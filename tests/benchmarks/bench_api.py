"""API throughput: 50 concurrent clients on a list page of 100 rows and on a PATCH, beside /healthz.

Run: ``python -m tests.benchmarks.bench_api [--seconds 60] [--clients 50] [--backends sqlite,postgresql]``

A real server (uvicorn, one process, background services off) runs on loopback over a database seeded with
the demo data and 150 more devices. Each scenario runs ``clients`` concurrent keep-alive clients for
``seconds`` (wrk, a C load generator, so that the clients' own CPU does not take the server's cores):
``GET /api/v1/dcim/devices?limit=100`` (100 rows per page), ``PATCH /api/v1/dcim/devices/{id}``
(rotating over the devices) and, as the reference measured in the same run, ``GET /healthz``. It prints
throughput, p50/p99 latency and the server's CPU time per request (from /proc: user + system of the server
process over the scenario, divided by the requests answered). While the list and PATCH scenarios run, one
more client probes /healthz every 200 ms and its p99 is printed too. Needs ``wrk`` (Debian package).

Goals (issue 14): at most 5 ms of server CPU per list request; p99 under 1 s with 50 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

PG_ADMIN = os.environ.get("DCOPS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parents[2]
CPU_GOAL_MS, P99_GOAL_S = 5.0, 1.0


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _seed(url: str, device_type_slug: str | None = None) -> tuple[str, list[int]]:
    os.environ["DCOPS_DATABASE_URL"] = url
    from dcops.config import get_settings

    get_settings.cache_clear()
    from sqlalchemy import select

    from dcops.auth.actor import SYSTEM
    from dcops.auth.service import create_user, issue_token
    from dcops.crud import ListQuery
    from dcops.database import session_scope, upgrade
    from dcops.dcim.models import Device
    from dcops.dcim.service import device_types, devices, sites
    from dcops.demo.build import build_demo

    upgrade(url)
    with session_scope() as s:
        build_demo(s)
        s.commit()
        site, _ = sites.create(s, actor=SYSTEM, data={"name": "DC Bench"})
        dtype = device_types.get_all(s, actor=SYSTEM, query=ListQuery(limit=1))[0][0]
        if device_type_slug:
            dtype, _ = device_types.create(s, actor=SYSTEM, data={
                "manufacturer_id": dtype.manufacturer_id, "model": device_type_slug, "slug": device_type_slug,
                "u_height": 1})
        for i in range(150):
            devices.create(s, actor=SYSTEM, commit=False, data={"name": f"bench-{i:03d}", "device_type_id": dtype.id,
                                                                 "role": "other", "site_id": site.id,
                                                                 "mgmt_address": f"10.250.{i // 250}.{i % 250 + 1}"})
        s.commit()
        user = create_user(s, actor=SYSTEM, data={"username": "bench-admin", "role": "admin"})
        token, _ = issue_token(s, actor=SYSTEM, user_id=user.id)
        ids = list(s.execute(select(Device.id).where(Device.name.like("bench-%"))).scalars())
    return token, ids


def _start(url: str, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = os.environ | {"DCOPS_DATABASE_URL": url, "DCOPS_BACKGROUND": "false", "DCOPS_DATA_DIR": str(data_dir),
                        "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "dcops.main:serve_app", "--factory", "--host",
                             "127.0.0.1", "--port", str(port), "--log-level", "warning"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


_WRK_SCRIPT = """
local ids = {%(ids)s}
local kind = "%(kind)s"
local n = 0
wrk.headers["Authorization"] = "Bearer %(token)s"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  if kind == "patch" then
    return wrk.format("PATCH", "/api/v1/dcim/devices/" .. ids[(n %% #ids) + 1], nil,
                      '{"description": "bench ' .. n .. '"}')
  elseif kind == "list" then
    return wrk.format("GET", "/api/v1/dcim/devices?limit=100")
  end
  return wrk.format("GET", "/healthz")
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def _check(base: str, token: str, ids: list[int]) -> None:
    """Make sure each scenario's request succeeds (and the list returns 100 rows) before it is hammered."""
    headers = {"Authorization": f"Bearer {token}"}
    listed = httpx.get(f"{base}/api/v1/dcim/devices", params={"limit": 100}, headers=headers, timeout=30)
    patched = httpx.patch(f"{base}/api/v1/dcim/devices/{ids[0]}", json={"description": "check"}, headers=headers,
                          timeout=30)
    if listed.status_code != 200 or len(listed.json()["data"]) != 100 or patched.status_code != 200:
        raise SystemExit(f"the scenarios do not work: list {listed.status_code}, patch {patched.status_code}")


async def _scenario(base: str, pid: int, token: str, ids: list[int], kind: str, clients: int,
                    seconds: float) -> dict[str, Any]:
    """Run ``clients`` keep-alive connections of wrk (a C load generator, so that the client's own CPU does not
    compete with the server's on a small machine) for ``seconds``, with a Python probe of /healthz beside it."""
    health: list[float] = []
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(_WRK_SCRIPT % {"ids": ", ".join(map(str, ids)), "kind": kind, "token": token})
    stop = time.perf_counter() + seconds

    async def prober() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            while time.perf_counter() < stop:
                t = time.perf_counter()
                with contextlib.suppress(httpx.TransportError):
                    await client.get("/healthz")
                health.append(time.perf_counter() - t)
                await asyncio.sleep(0.2)

    cpu0 = _cpu_seconds(pid)
    wrk = await asyncio.create_subprocess_exec(
        "wrk", "-t1", f"-c{clients}", f"-d{seconds:.0f}s", "--timeout", "60s", "-s", str(script), base,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    probing = [asyncio.create_task(prober())] if kind != "healthz" else []
    out, err = await wrk.communicate()
    cpu = _cpu_seconds(pid) - cpu0
    await asyncio.gather(*probing)
    script.unlink()
    line = next((x for x in out.decode().splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk gave no result: {out.decode()} {err.decode()}")
    n, duration_us, errors, p50_us, p99_us = map(int, line.split()[1:])
    return {"kind": kind, "requests": n, "errors": errors, "rps": n / (duration_us / 1e6), "p50": p50_us / 1e6,
            "p99": p99_us / 1e6, "cpu_ms": 1000 * cpu / max(n, 1), "health_p99": _pct(health, 99)}


def _database(backend: str, tmp: Path) -> tuple[str, Any]:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'bench.db'}", None
    from sqlalchemy import create_engine, text

    name = f"dcops_bench_{secrets.token_hex(3)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


def run(backend: str, seconds: float, clients: int) -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="dcops-bench-api-"))
    os.environ["DCOPS_DATA_DIR"] = str(tmp / "data")
    url, drop = _database(backend, tmp)
    proc = None
    try:
        token, ids = _seed(url)
        from dcops.database import dispose_engines

        dispose_engines()
        proc, base = _start(url, tmp / "data")
        _check(base, token, ids)
        results = [asyncio.run(_scenario(base, proc.pid, token, ids, kind, clients, seconds))
                   for kind in ("healthz", "list", "patch")]
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        if drop is not None:
            from dcops.database import dispose_engines

            dispose_engines()
            drop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each scenario (issue: 60)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    print(f"{args.clients} clients, {args.seconds:.0f} s per scenario; goals: list CPU <= {CPU_GOAL_MS} ms/request, "
          f"p99 < {P99_GOAL_S} s")
    print(f"{'backend':<11}{'scenario':<9}{'requests':>9}{'errors':>7}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
          f"{'CPU ms/req':>11}{'healthz p99 ms':>16}")
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        for r in run(backend, args.seconds, args.clients):
            health = "" if r["kind"] == "healthz" else f"{1000 * r['health_p99']:16.1f}"
            print(f"{backend:<11}{r['kind']:<9}{r['requests']:>9}{r['errors']:>7}{r['rps']:>8.1f}"
                  f"{1000 * r['p50']:>8.1f}{1000 * r['p99']:>8.1f}{r['cpu_ms']:>11.2f}{health}")


if __name__ == "__main__":
    main()
