"""Run real ``dcops worker`` and ``dcops scheduler`` processes on the test database and RabbitMQ on loopback."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

BROKER = os.environ.get("DCOPS_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")


@dataclass
class Cluster:
    """Worker and scheduler processes sharing one queue prefix (unique per test, so runs never mix)."""

    log_dir: Path
    prefix: str = field(default_factory=lambda: f"dcopst{secrets.token_hex(4)}")
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, **more: str) -> dict[str, str]:
        env = os.environ.copy()
        env.update({"DCOPS_BROKER_URL": BROKER, "DCOPS_QUEUE_PREFIX": self.prefix, **self.extra_env, **more})
        return env

    def start(self, name: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, "-m", "dcops", *args], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env=self.env(**env))
        self.procs[name] = proc
        return proc

    def worker(self, name: str, *, host: str, queues: str = "poll,jobs,notify", concurrency: int = 4) -> None:
        self.start(name, "worker", "--queues", queues, "--concurrency", str(concurrency), DCOPS_WORKER_HOST=host)

    def scheduler(self, name: str, *, tick: float = 1.0) -> None:
        self.start(name, "scheduler", "--tick", str(tick))

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def kill9(self, name: str) -> None:
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._delete_queues()

    def _delete_queues(self) -> None:
        from kombu import Connection

        with Connection(BROKER) as conn:
            channel = conn.channel()
            for queue in ("poll", "jobs", "notify"):
                try:
                    channel.queue_delete(f"{self.prefix}.{queue}")
                except Exception:
                    channel = conn.channel()


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 600) -> None:
    """Wait for an event (polled twice a second); the timeout only stops a hung run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


class Receiver:
    """A webhook receiver on loopback that records every delivery (dedup id, status, alert)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, int]] = []
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    outer.received.append((self.headers.get("X-Dcops-Dedup-Id", ""), body["status"],
                                           int(body["alert"]["id"])))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
