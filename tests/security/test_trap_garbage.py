"""Garbage at the trap port is counted and dropped, with at most one short log line a minute."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import subprocess
from typing import Any

from dcops.monitoring import traps
from dcops.monitoring.traps import TrapReceiver
from tests.monitoring.agents import free_udp_port


def _a_real_trap() -> bytes:
    """Capture the bytes of one v2c trap as net-snmp's snmptrap sends it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as cap:
        cap.bind(("127.0.0.1", 0))
        cap.settimeout(20)
        port = cap.getsockname()[1]
        subprocess.run(["snmptrap", "-v2c", "-c", "trapsecret", f"udp:127.0.0.1:{port}", "",
                        "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.3", "i", "3"], check=True, timeout=20)
        return cap.recv(65535)


async def _flood(port: int, datagrams: list[bytes], valid: bytes) -> TrapReceiver:
    receiver = TrapReceiver(host="127.0.0.1", port=port, communities=("trapsecret",), users=())
    receiver.start()
    handled: list[Any] = []
    receiver._handle = lambda trap: handled.append(trap)  # type: ignore[method-assign]  # no database needed
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i, junk in enumerate(datagrams):
                s.sendto(junk, ("127.0.0.1", port))
                if i % 100 == 0:
                    await asyncio.sleep(0)  # let the receiver read: the socket buffer is finite
            s.sendto(valid, ("127.0.0.1", port))  # the receiver still works after the flood
        for _ in range(400):
            await asyncio.sleep(0.05)
            await receiver.settle()
            if handled:
                break
    finally:
        receiver.stop()
    assert handled, "the valid trap after the garbage was not received"
    return receiver


def test_garbage_datagrams_are_counted_and_logged_at_most_once(caplog):
    caplog.set_level(logging.DEBUG)
    valid = _a_real_trap()
    rnd = random.Random(14)
    datagrams = [b"\x00", b"\x30\x82\xff\xff garbage", bytes(range(256))]
    for _ in range(2000):  # corrupt one to three bytes of a real trap: what crashed the BER decoder
        b = bytearray(valid)
        for _ in range(rnd.randint(1, 3)):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        datagrams.append(bytes(b))
    before = traps.COUNTS["garbage"]
    asyncio.run(_flood(free_udp_port(), datagrams, valid))
    assert traps.COUNTS["garbage"] - before > 0
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) <= 1, [r.getMessage()[:200] for r in loud[:3]]
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in caplog.records)


def test_the_rate_limited_log_reports_what_it_suppressed(caplog):
    caplog.set_level(logging.INFO, logger="dcops.traps")
    limited = traps.RateLimitedLog(interval=3600)
    for i in range(50):
        limited(logging.WARNING, "junk %s", i)
    assert [r.getMessage() for r in caplog.records] == ["junk 0"]
    limited.interval = 0
    limited(logging.WARNING, "junk %s", 50)
    assert caplog.records[-1].getMessage() == "junk 50 (and 49 more in the last 0 s)"
