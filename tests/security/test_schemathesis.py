"""schemathesis over every operation, as admin and as agency viewer, against a real server on loopback.

Bounded examples (``ST_EXAMPLES``, default 2 per operation; examples and fuzzing phases) keep the run short.
It runs on PostgreSQL, where odd values used to cause 5xx. Checks: no 5xx, documented status codes,
documented content types, response bodies that match their schema. Operations that would end the run's
own credentials are left out (revoking tokens, changing or disabling users).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

EXAMPLES = os.environ.get("ST_EXAMPLES", "2")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
EXCLUDE = [r"/auth/tokens/.*/revoke", r"^/api/v1/auth/users/\{id\}$"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def seeded(session: Any, db: str, tokens: Any) -> dict[str, str]:
    from sqlalchemy import select

    from dcops.demo.build import build_demo
    from dcops.tenancy.models import Agency

    build_demo(session)
    session.commit()
    agency = session.execute(select(Agency).order_by(Agency.id)).scalars().first()
    session.rollback()
    return {"admin": tokens.user("admin")[1], "agency-viewer": tokens.user("agency-viewer", agency.id)[1]}


@pytest.fixture
def server(db: str, seeded: dict[str, str], tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = os.environ | {"DCOPS_DATABASE_URL": db, "DCOPS_BACKGROUND": "false", "DCOPS_TRAP_PORT": "0",
                        "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "dcops.main:serve_app", "--factory", "--host",
                             "127.0.0.1", "--port", str(port), "--log-level", "warning"], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # until it answers (or has died)
            if proc.poll() is not None:
                raise AssertionError((tmp_path / "server.log").read_text()[-3000:])
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.mark.postgresql_only
def test_schemathesis_finds_no_5xx_and_no_schema_violation(server, seeded, tmp_path):
    """Both roles at once against one server and one seeded database (a setup less, the two runs in parallel)."""
    st = shutil.which("schemathesis") or shutil.which("st")
    assert st, "schemathesis is a test dependency (pip install -e .[test])"
    schema = tmp_path / "openapi.json"  # fetched here: building it can take longer than schemathesis waits
    schema.write_bytes(httpx.get(f"{server}/openapi.json", timeout=300).content)
    runs = {}
    for role in ("admin", "agency-viewer"):
        cmd = [st, "run", str(schema), "--url", server, "--checks", CHECKS, "--max-examples", EXAMPLES,
               "--phases", "examples,fuzzing", "--seed", "14", "--request-timeout", "60", "--no-color",
               "--header", f"Authorization: Bearer {seeded[role]}", "--suppress-health-check", "all"]
        for pattern in EXCLUDE:
            cmd += ["--exclude-path-regex", pattern]
        out = (tmp_path / f"{role}.out").open("w")  # noqa: SIM115 - closed below
        runs[role] = (subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True), out)
    failures = []
    for role, (proc, out) in runs.items():
        proc.wait(timeout=900)
        out.close()
        report = (tmp_path / f"{role}.out").read_text()
        if "Tested:" not in report or proc.returncode != 0:
            failures.append(f"--- as {role} (exit {proc.returncode}):\n{report[-6000:]}")
    assert failures == [], "\n".join(failures)
