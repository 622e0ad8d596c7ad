"""Simulated SNMP agents for the demo: snmpsim serving one rendered recording per device.

snmpsim picks a recording by the community a request carries (the file name without
``.snmprec``), so one snmpsim process on one loopback port serves every demo device: each device
gets its own random community and its own recording, rendered from a template of
``recordings/`` (switch, hypervisor, storage, UPS, Eaton UPS, PDU) with its name, serial number
and a few per-device values. Counters and gauges move through snmpsim's ``numeric`` variation
module. Templates may hold ``#`` comments and any order; rendering drops comments and sorts the
OIDs, as snmpsim requires.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

RECORDINGS = Path(__file__).parent / "recordings"


def _oid_key(line: str) -> tuple[int, ...]:
    return tuple(int(p) for p in line.split("|", 1)[0].strip(".").split("."))


def _carry_on(line: str, elapsed_s: float) -> str:
    """Shift a growing ``numeric`` value (uptime, counters) by ``elapsed_s`` seconds of its rate.

    snmpsim starts every ``numeric`` value again from ``initial`` when it restarts; a simulated
    device that has been "up" for ``elapsed_s`` seconds must go on from where it was, or each
    restart of the simulator looks like a reboot of every device (and counters that went back).
    """
    oid, tag, spec = line.split("|", 2)
    if not tag.endswith(":numeric") or "function=" in spec:
        return line
    params = dict(p.split("=", 1) for p in spec.split(",") if "=" in p)
    rate = float(params.get("rate", 1))
    params["initial"] = str(int(float(params.get("initial", params.get("min", 0))) + rate * elapsed_s))
    return f"{oid}|{tag}|" + ",".join(f"{k}={v}" for k, v in params.items())


def render(template: str, values: dict[str, str], *, elapsed_s: float = 0.0) -> str:
    """Return a recording: placeholders ``@KEY@`` replaced, comments dropped, lines sorted by OID.

    ``elapsed_s``: how long the simulated devices have been running already (growing values go on
    from there instead of starting again).
    """
    lines = []
    for line in template.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for key, value in values.items():
            line = line.replace(f"@{key}@", value.replace("|", "/").replace("\n", " "))
        if elapsed_s > 0:
            line = _carry_on(line, elapsed_s)
        lines.append(line)
    return "\n".join(sorted(lines, key=_oid_key)) + "\n"


def template_for(role: str, type_slug: str = "") -> str:
    """Return the name of the recording template for a device role (and device type)."""
    if role == "ups":
        return "ups-eaton" if type_slug.startswith("eaton") else "ups"
    return {"switch": "switch", "router": "switch", "firewall": "switch", "hypervisor": "hypervisor",
            "storage": "storage", "pdu": "pdu"}.get(role, "hypervisor")


@dataclass
class SimulatedDevice:
    """One device served by the simulator: its community (secret) and its recording's values."""

    name: str
    template: str
    community: str
    values: dict[str, str] = field(default_factory=dict)


def write_data_dir(devices: list[SimulatedDevice], data_dir: Path, *, elapsed_s: float = 0.0) -> None:
    """Render one recording per device into ``data_dir`` (removing recordings of devices gone)."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    wanted = set()
    for device in devices:
        text = render((RECORDINGS / f"{device.template}.snmprec").read_text(), {"NAME": device.name} | device.values,
                      elapsed_s=elapsed_s)
        path = data_dir / f"{device.community}.snmprec"
        path.write_text(text)
        path.chmod(0o600)
        wanted.add(path.name)
    for old in data_dir.glob("*.snmprec"):
        if old.name not in wanted:
            old.unlink()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Simulator:
    """A running snmpsim process (a child of this process, stopped with it)."""

    host: str
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, *, probe_community: str | None = None, timeout: float = 60.0) -> Simulator:
        """Start snmpsim on host:port and wait until it answers ``probe_community`` (if given)."""
        exe = Path(sys.executable).with_name("snmpsim-command-responder")
        work = self.data_dir.parent / "snmpsim-work"
        work.mkdir(parents=True, exist_ok=True)
        argv = [str(exe) if exe.exists() else "snmpsim-command-responder", f"--data-dir={self.data_dir}",
                f"--cache-dir={work / 'cache'}", "--logging-method=stderr", "--log-level=error",
                f"--agent-udpv4-endpoint={self.host}:{self.port}"]
        log = open(work / "snmpsim.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
                                            env=os.environ | {"SNMPSIM_ALLOW_ROOT": "true"})
        finally:
            log.close()
        if probe_community:
            self.wait(probe_community, timeout)
        return self

    def wait(self, community: str, timeout: float) -> None:
        """Wait until the simulator answers a GET of sysUpTime with ``community``."""
        import asyncio

        from dcops.monitoring.snmp import SnmpClient, SnmpError, SnmpTarget

        async def probe() -> bool:
            target = SnmpTarget(host=self.host, port=self.port, community=community, timeout=0.5, retries=0)
            async with SnmpClient() as client:
                try:
                    await client.get(target, ["1.3.6.1.2.1.1.3.0"])
                    return True
                except SnmpError:
                    return False

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"snmpsim exited with {self.process.returncode}; log in {self.data_dir.parent}")
            if asyncio.run(probe()):
                return
            time.sleep(0.2)
        raise RuntimeError(f"snmpsim did not answer on {self.host}:{self.port} within {timeout:.0f} s")

    def stop(self) -> None:
        """Stop snmpsim and wait for it."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
