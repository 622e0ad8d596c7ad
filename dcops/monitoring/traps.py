"""SNMP trap receiver (pysnmp): v1, v2c and v3 traps and informs turned into alert events.

Listens on UDP ``DCOPS_TRAP_HOST``:``DCOPS_TRAP_PORT`` (default 0.0.0.0:1162, so it runs without root; to take
the standard port 162, set ``DCOPS_TRAP_PORT=162`` and give the process ``CAP_NET_BIND_SERVICE``, or redirect 162
to 1162 with nftables). ``DCOPS_TRAP_PORT=0`` turns it off. Communities: the v1/v2c SNMP credentials of the
inventory plus ``DCOPS_TRAP_COMMUNITIES``; v3 users: the v3 credentials, for each sender engine id listed in
``DCOPS_TRAP_ENGINE_IDS`` (hex), as snmptrapd's ``createUser -e`` needs; v3 informs need no engine id (the
sender discovers ours), so they work with the credentials alone.

A trap is matched to a device by its source address (``Device.mgmt_address``); traps from unknown sources are
logged and counted, never evaluated. pysnmp drops malformed datagrams and ones with wrong credentials by itself;
the receiver keeps running whatever arrives.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from dcops.database import session_scope, utcnow

log = logging.getLogger("dcops.traps")

SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
TRAPS = {
    "1.3.6.1.6.3.1.1.5.1": "coldStart",
    "1.3.6.1.6.3.1.1.5.2": "warmStart",
    "1.3.6.1.6.3.1.1.5.3": "linkDown",
    "1.3.6.1.6.3.1.1.5.4": "linkUp",
    "1.3.6.1.6.3.1.1.5.5": "authenticationFailure",
    "1.3.6.1.2.1.33.2.0.1": "upsTrapOnBattery",  # RFC 1628 (SMIv2 form, with the .0)
    "1.3.6.1.2.1.33.2.0.2": "upsTrapTestCompleted",
    "1.3.6.1.2.1.33.2.0.3": "upsTrapAlarmEntryAdded",
    "1.3.6.1.2.1.33.2.0.4": "upsTrapAlarmEntryRemoved",
    "1.3.6.1.2.1.33.2.1": "upsTrapOnBattery",  # as some agents send it
    "1.3.6.1.2.1.33.2.3": "upsTrapAlarmEntryAdded",
    "1.3.6.1.4.1.534.1.11.0.3": "xupsOnBattery",  # Eaton XUPS-MIB
    "1.3.6.1.4.1.534.1.11.0.4": "xupsLowBattery",
    "1.3.6.1.4.1.534.1.11.0.5": "xupsUtilityPowerRestored",
}
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1."
IF_DESCR = "1.3.6.1.2.1.2.2.1.2."
IF_INDEX = "1.3.6.1.2.1.2.2.1.1."

#: traps received since start, by source: known | unknown | garbage (exported to Prometheus)
COUNTS: Counter[str] = Counter()


class RateLimitedLog:
    """At most one log line per ``interval`` seconds for one kind of event; the next line counts the rest."""

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._last = float("-inf")
        self._suppressed = 0

    def __call__(self, level: int, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last < self.interval:
            self._suppressed += 1
            return
        extra = f" (and {self._suppressed} more in the last {self.interval:.0f} s)" if self._suppressed else ""
        self._last, self._suppressed = now, 0
        log.log(level, message + extra, *args)


_garbage_log = RateLimitedLog()
_unknown_log = RateLimitedLog()
_failure_log = RateLimitedLog()


def dropped(source: str, exc: BaseException) -> None:
    """Count a datagram that is not a usable trap, with one short log line at most per minute."""
    COUNTS["garbage"] += 1
    _garbage_log(logging.WARNING, "dropped an undecodable datagram from %s: %s", source,
                 f"{type(exc).__name__}: {str(exc)[:120]}")


@dataclass
class Trap:
    """One received notification, in dcops' terms."""

    source: str
    trap_oid: str
    name: str
    varbinds: dict[str, str] = field(default_factory=dict)
    at: datetime = field(default_factory=utcnow)

    @property
    def subject(self) -> str:
        """Return what the trap is about: the interface for link traps, else ""."""
        for prefix in (IF_NAME, IF_DESCR, IF_INDEX):
            for oid, value in self.varbinds.items():
                if oid.startswith(prefix) and value:
                    return value
        return ""


def decode(source: str, varbinds: list[tuple[Any, Any]], at: datetime | None = None) -> Trap:
    """Turn pysnmp varbinds (SNMPv2 form) into a :class:`Trap`."""
    values = {str(oid): (v.prettyPrint() if hasattr(v, "prettyPrint") else str(v)) for oid, v in varbinds}
    trap_oid = values.get(SNMP_TRAP_OID, "")
    return Trap(source=source, trap_oid=trap_oid, name=TRAPS.get(trap_oid, trap_oid or "unknown"),
                varbinds=values, at=at or utcnow())


def handle(trap: Trap) -> int | None:
    """Record one trap: evaluate it for its device; return the device id, or None for an unknown source."""
    from dcops.dcim.models import Device
    from dcops.monitoring.alerting import record_events

    with session_scope() as session:
        found = session.execute(select(col(Device.id)).where(col(Device.mgmt_address) == trap.source))
        device_id = found.scalars().first()
        if device_id is None:
            COUNTS["unknown"] += 1
            _unknown_log(logging.WARNING, "trap %s from unknown source %s ignored", trap.name, trap.source)
            return None
        COUNTS["known"] += 1
        log.info("trap %s from %s (device %s) %s", trap.name, trap.source, device_id, trap.subject)
        record_events(session, device_id=device_id, events=[(trap.name, trap.subject)], at=trap.at)
        return int(device_id)


@dataclass
class V3TrapUser:
    """An SNMPv3 user allowed to send traps (with the sender's engine id, hex) or informs (engine id "")."""

    name: str
    engine_id: str = ""
    auth_protocol: str = "none"
    auth_key: str = ""
    priv_protocol: str = "none"
    priv_key: str = ""


class TrapReceiver:
    """A pysnmp notification receiver on one UDP address; create and start it inside the running loop."""

    def __init__(self, *, host: str = "0.0.0.0", port: int = 1162, communities: tuple[str, ...] = (),  # noqa: S104
                 users: tuple[V3TrapUser, ...] = ()) -> None:
        self.host, self.port = host, port
        self.communities, self.users = communities, users
        self.engine: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.handled: list[tuple[Trap, int | None]] = []

    def start(self) -> None:
        """Bind the UDP socket and register the callbacks (needs a running event loop)."""
        from pysnmp.carrier.asyncio.dgram import udp
        from pysnmp.entity import config, engine
        from pysnmp.entity.rfc3413 import ntfrcv
        from pysnmp.proto.rfc1902 import OctetString

        self.engine = engine.SnmpEngine()
        transport = udp.UdpTransport().open_server_mode((self.host, self.port))
        config.add_transport(self.engine, udp.DOMAIN_NAME, transport)
        transport._callback_function = _guarded(transport._callback_function)
        if self.port == 0:
            self.port = transport._lport[1] if hasattr(transport, "_lport") else self.port
        for i, community in enumerate(dict.fromkeys(self.communities)):
            config.add_v1_system(self.engine, f"dcops-{i}", community)
        for user in self.users:
            engine_id = OctetString(hexValue=user.engine_id.removeprefix("0x")) if user.engine_id else None
            config.add_v3_user(  # an inform is sent to our engine: its users need no sender engine id
                self.engine, user.name, _AUTH[user.auth_protocol], user.auth_key or None,
                _PRIV[user.priv_protocol], user.priv_key or None, securityEngineId=engine_id,
            )
        ntfrcv.NotificationReceiver(self.engine, self._received)
        self.engine.transport_dispatcher.job_started(1)

    def _received(self, snmp_engine: Any, state_reference: Any, context_engine_id: Any, context_name: Any,
                  varbinds: Any, cb_ctx: Any) -> None:
        try:
            ctx = snmp_engine.observer.get_execution_context("rfc3412.receiveMessage:request")
            source = str(ctx["transportAddress"][0])
            trap = decode(source, list(varbinds))
        except Exception as exc:
            dropped("?", exc)
            return
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(self._handle, trap))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _handle(self, trap: Trap) -> None:
        try:
            self.handled.append((trap, handle(trap)))
        except Exception as exc:
            _failure_log(logging.ERROR, "could not record trap %s from %s: %s", trap.name, trap.source,
                         f"{type(exc).__name__}: {str(exc)[:200]}")

    async def settle(self) -> None:
        """Wait until every trap received so far is recorded."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def stop(self) -> None:
        """Close the socket."""
        if self.engine is not None:
            self.engine.transport_dispatcher.job_finished(1)
            self.engine.close_dispatcher()
            self.engine = None


def _guarded(receive: Any) -> Any:
    """Wrap pysnmp's datagram callback: garbage is counted and dropped, not a traceback per datagram."""

    def callback(transport: Any, address: Any, message: Any) -> Any:
        try:
            return receive(transport, address, message)
        except Exception as exc:
            dropped(str(address[0]) if address else "?", exc)
            return None

    return callback


def _protocols() -> tuple[dict[str, Any], dict[str, Any]]:
    from pysnmp.entity import config as c

    auth = {"none": c.USM_AUTH_NONE, "md5": c.USM_AUTH_HMAC96_MD5, "sha": c.USM_AUTH_HMAC96_SHA,
            "sha224": c.USM_AUTH_HMAC128_SHA224, "sha256": c.USM_AUTH_HMAC192_SHA256,
            "sha384": c.USM_AUTH_HMAC256_SHA384, "sha512": c.USM_AUTH_HMAC384_SHA512}
    priv = {"none": c.USM_PRIV_NONE, "des": c.USM_PRIV_CBC56_DES, "aes": c.USM_PRIV_CFB128_AES,
            "aes128": c.USM_PRIV_CFB128_AES, "aes192": c.USM_PRIV_CFB192_AES, "aes256": c.USM_PRIV_CFB256_AES}
    return auth, priv


_AUTH, _PRIV = _protocols()


def configured_receiver() -> TrapReceiver | None:
    """Build the receiver from the environment and the inventory's SNMP credentials (None when turned off)."""
    from dcops.dcim.models import Credential
    from dcops.security import decrypt_secrets

    port = int(os.environ.get("DCOPS_TRAP_PORT", "1162"))
    if port <= 0:
        return None
    host = os.environ.get("DCOPS_TRAP_HOST", "0.0.0.0")  # noqa: S104 - a receiver listens for the equipment
    communities = [c.strip() for c in os.environ.get("DCOPS_TRAP_COMMUNITIES", "").split(",") if c.strip()]
    engine_ids = [e.strip() for e in os.environ.get("DCOPS_TRAP_ENGINE_IDS", "").split(",") if e.strip()]
    users: list[V3TrapUser] = []
    with session_scope() as session:
        for cred in session.execute(select(Credential)).scalars().all():
            if not str(cred.kind).startswith("snmp"):
                continue
            secrets = decrypt_secrets(cred.secret_blob)
            if cred.kind in ("snmp_v1", "snmp_v2c") and secrets.get("community"):
                communities.append(secrets["community"])
            elif cred.kind == "snmp_v3":
                users += [V3TrapUser(cred.username, e, str(cred.auth_protocol), secrets.get("auth_key", ""),
                                     str(cred.priv_protocol), secrets.get("priv_key", "")) for e in ["", *engine_ids]]
    return TrapReceiver(host=host, port=port, communities=tuple(communities), users=tuple(users))


async def run_trap_receiver() -> None:
    """Receive traps until cancelled (``dcops serve`` runs this); a bind failure is logged, not fatal."""
    try:
        receiver = await asyncio.to_thread(configured_receiver)
    except Exception:
        log.exception("trap receiver not started: cannot read its configuration")
        return
    if receiver is None:
        log.info("trap receiver turned off (DCOPS_TRAP_PORT=0)")
        return
    try:
        receiver.start()
    except Exception as exc:
        log.error("trap receiver cannot listen on %s:%s: %s", receiver.host, receiver.port, exc)
        return
    log.info("trap receiver listening on udp %s:%s", receiver.host, receiver.port)
    try:
        await asyncio.Event().wait()
    finally:
        receiver.stop()
