"""``dcops serve --workers N``: N API processes on one port, refused while each would run the background work."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _env(tmp_path: Path, background: bool) -> dict[str, str]:
    return os.environ | {"DCOPS_DATABASE_URL": f"sqlite:///{tmp_path / 'dcops.db'}",
                         "DCOPS_DATA_DIR": str(tmp_path / "data"), "DCOPS_BACKGROUND": str(background).lower(),
                         "COLUMNS": "", "TERM": "dumb"}


def _workers(pid: int) -> list[int]:
    """The API processes uvicorn's supervisor ``pid`` runs (its children started by multiprocessing's spawn)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:  # a process may end while this reads
                stat, cmdline = (entry / "stat").read_text(), (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn_main" in cmdline:
                found.append(int(entry.name))
    return found


def test_several_workers_with_the_background_work_in_process_are_refused(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "dcops", "serve", "--workers", "2"], capture_output=True, text=True,
                          env=_env(tmp_path, background=True), timeout=120)
    assert done.returncode == 2
    assert "DCOPS_BACKGROUND=false" in done.stderr and "dcops worker" in done.stderr
    assert not (tmp_path / "dcops.db").exists()  # refused before touching the database


def test_two_api_processes_answer_on_one_port(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "dcops", "serve", "--workers", "2", "--port", str(port)],
                              env=_env(tmp_path, background=False), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError("dcops serve --workers 2 did not answer")
        workers = _workers(server.pid)
        assert len(workers) == 2
        # a killed process: the port answers meanwhile, and the process is replaced
        os.kill(workers[0], signal.SIGKILL)
        assert all(httpx.get(f"{base}/healthz", timeout=10).status_code == 200 for _ in range(10))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = _workers(server.pid)
            if len(now) == 2 and workers[0] not in now:
                break
            time.sleep(0.5)
        else:
            raise AssertionError("the killed API process was not replaced")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)
