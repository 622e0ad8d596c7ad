"""The trap receiver against real traps sent by net-snmp's snmptrap (v2c, v3), unknown sources and garbage."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from typing import Any

from sqlalchemy import select

from dcops.monitoring import traps
from dcops.monitoring.alert_models import Alert
from dcops.monitoring.traps import TrapReceiver, V3TrapUser
from tests.monitoring.agents import free_udp_port

ENGINE_ID = "0x8000000001020304"
TRAP = "1.3.6.1.6.3.1.1.5"


def snmptrap(port: int, *args: str, version: str = "2c", source: str = "127.0.0.1", tool: str = "snmptrap") -> None:
    """Send one trap (or, with tool="snmpinform", an inform that must be answered) with net-snmp."""
    if version in ("1", "2c"):
        auth = ["-v", version, "-c", "trapsecret"]
    else:
        engine = ["-e", ENGINE_ID] if tool == "snmptrap" else []  # an inform discovers the receiver's engine
        auth = ["-v", "3", *engine, "-u", "trapper", "-l", "authPriv", "-a", "SHA", "-A", "trap-auth-key",
                "-x", "AES", "-X", "trap-priv-key"]
    uptime = [] if version == "1" else [""]  # v1 names enterprise, agent, generic, specific, uptime itself
    cmd = [tool, *auth, f"--clientaddr={source}", f"udp:127.0.0.1:{port}", *uptime, *args]
    subprocess.run(cmd, check=True, capture_output=True, timeout=20)


async def _exchange(port: int, sends: list[Any]) -> TrapReceiver:
    receiver = TrapReceiver(host="127.0.0.1", port=port, communities=("trapsecret",),
                            users=(V3TrapUser("trapper", ENGINE_ID, "sha", "trap-auth-key", "aes", "trap-priv-key"),
                                   V3TrapUser("trapper", "", "sha", "trap-auth-key", "aes", "trap-priv-key")))
    receiver.start()
    try:
        for send in sends:
            await asyncio.to_thread(send)
            await asyncio.sleep(0.3)
            await receiver.settle()
        for _ in range(50):
            await receiver.settle()
            await asyncio.sleep(0.05)
            if len(receiver.handled) >= sum(1 for s in sends if getattr(s, "counts", True)):
                break
    finally:
        receiver.stop()
    return receiver


def _garbage(port: int) -> Any:
    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for junk in (b"\x00", b"\x30\x82\xff\xff garbage", bytes(range(256)), b"\x30\x03\x02\x01\x01"):
                s.sendto(junk, ("127.0.0.1", port))
    send.counts = False  # type: ignore[attr-defined]
    return send


def test_traps_v2c_v3_unknown_source_and_garbage(db: str, session: Any, factory: Any) -> None:
    device = factory.device(name="sw-trap", mgmt_address="127.0.0.1", role="switch")
    port = free_udp_port()
    before = dict(traps.COUNTS)
    sends = [
        _garbage(port),
        lambda: snmptrap(port, f"{TRAP}.3", "1.3.6.1.2.1.2.2.1.1.3", "i", "3",
                         "1.3.6.1.2.1.31.1.1.1.1.3", "s", "ge-0/0/3"),
        lambda: snmptrap(port, f"{TRAP}.5", version="3"),
        lambda: snmptrap(port, "1.3.6.1.2.1.33.2.0.1", version="3", tool="snmpinform"),  # answered, or it fails
        lambda: snmptrap(port, f"{TRAP}.1", source="127.0.0.2"),  # not in the inventory
        _garbage(port),
        lambda: snmptrap(port, f"{TRAP}.4", "1.3.6.1.2.1.31.1.1.1.1.3", "s", "ge-0/0/3"),
        # SNMPv1: enterprise, agent address, generic trap 2 (linkDown), specific 0, uptime; then ifName varbind
        lambda: snmptrap(port, "1.3.6.1.4.1.8072", "127.0.0.1", "2", "0", "", "1.3.6.1.2.1.31.1.1.1.1.7", "s",
                         "ge-0/0/7", version="1"),
    ]
    receiver = asyncio.run(_exchange(port, sends))
    got = [(t.name, t.source, dev) for t, dev in receiver.handled]
    assert got == [
        ("linkDown", "127.0.0.1", device.id),
        ("authenticationFailure", "127.0.0.1", device.id),
        ("upsTrapOnBattery", "127.0.0.1", device.id),
        ("coldStart", "127.0.0.2", None),
        ("linkUp", "127.0.0.1", device.id),
        ("linkDown", "127.0.0.1", device.id),
    ]
    assert traps.COUNTS["unknown"] - before.get("unknown", 0) == 1
    assert traps.COUNTS["known"] - before.get("known", 0) == 5
    session.expire_all()
    rows = {(a.rule, a.subject): a.state for a in session.execute(select(Alert)).scalars()}
    assert rows == {
        ("link_down_trap", "ge-0/0/3"): "resolved",  # linkUp ended it
        ("link_down_trap", "ge-0/0/7"): "firing",
        ("snmp_auth_failure_trap", "authenticationFailure"): "firing",
        ("ups_trap", "upsTrapOnBattery"): "firing",
    }


def test_wrong_community_and_wrong_v3_key_are_dropped(db: str, factory: Any) -> None:
    factory.device(name="sw-trap2", mgmt_address="127.0.0.1", role="switch")
    port = free_udp_port()

    def bad_community() -> None:
        subprocess.run(["snmptrap", "-v", "2c", "-c", "guess", f"udp:127.0.0.1:{port}", "", f"{TRAP}.1"],
                       check=True, capture_output=True, timeout=20)

    def good() -> None:
        snmptrap(port, f"{TRAP}.2")

    bad_community.counts = False  # type: ignore[attr-defined]
    receiver = asyncio.run(_exchange(port, [bad_community, good]))
    assert [t.name for t, _ in receiver.handled] == ["warmStart"]


def test_run_trap_receiver_takes_communities_from_the_inventory(db: str, session: Any, factory: Any,
                                                               monkeypatch: Any) -> None:
    from dcops.auth.actor import SYSTEM
    from dcops.dcim.service import save_credential

    cred = save_credential(session, actor=SYSTEM, data={"name": "dc-ro", "kind": "snmp_v2c", "community": "dc-R0-42"})
    factory.device(name="sw-inv", mgmt_address="127.0.0.1", role="switch", snmp_credential_id=cred.id)
    session.commit()
    port = free_udp_port()
    monkeypatch.setenv("DCOPS_TRAP_HOST", "127.0.0.1")
    monkeypatch.setenv("DCOPS_TRAP_PORT", str(port))

    def send() -> None:
        subprocess.run(["snmptrap", "-v", "2c", "-c", "dc-R0-42", f"udp:127.0.0.1:{port}", "", f"{TRAP}.5"],
                       check=True, capture_output=True, timeout=20)

    async def run() -> None:
        task = asyncio.create_task(traps.run_trap_receiver())
        for _ in range(100):  # until it listens (it reads the credentials in a thread first)
            await asyncio.sleep(0.1)
            await asyncio.to_thread(send)
            await asyncio.sleep(0.2)
            if await asyncio.to_thread(_fired):
                break
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    def _fired() -> bool:
        from sqlmodel import Session

        from dcops.database import get_engine

        with Session(get_engine()) as s:
            return s.execute(select(Alert).where(Alert.rule == "snmp_auth_failure_trap")).first() is not None

    asyncio.run(run())
    assert _fired()
    monkeypatch.setenv("DCOPS_TRAP_PORT", "0")
    asyncio.run(traps.run_trap_receiver())  # turned off: returns at once
