"""SNMPv3 requests (RFC 3414 USM): engine discovery, time windows, authentication and privacy of our messages.

:class:`UsmRequests` is the v3 half of :class:`dcops.monitoring.snmp.client.SnmpClient`, which supplies the
transport (``_exchange``: send, retry, match the answer) and request ids.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from dcops.monitoring.snmp.errors import DecodeError, SnmpAuthError, SnmpError
from dcops.monitoring.snmp.pdu import (
    FLAG_AUTH,
    FLAG_PRIV,
    FLAG_REPORTABLE,
    GET,
    REPORT,
    RESPONSE,
    USM_MODEL,
    CommunityMessage,
    Pdu,
    V3Message,
    decode_scoped_pdu,
    encode_pdu,
    encode_scoped_pdu,
    encode_v3_message,
)
from dcops.monitoring.snmp.target import SnmpTarget
from dcops.monitoring.snmp.usm import (
    REPORT_REASONS,
    SaltCounter,
    UsmKeys,
    decrypt,
    encrypt,
    localized_keys,
    sign,
    verify,
)

MAX_MSG_SIZE = 65507
T = TypeVar("T")
Check = Callable[[CommunityMessage | V3Message], T]


@dataclass
class _Engine:
    """What we know of an authoritative engine: its id and clock."""

    engine_id: bytes
    boots: int
    time: int
    at: float

    def clock(self, now: float) -> tuple[int, int]:
        """Return (boots, time) as the agent should see them now, kept inside 0..2^31-1."""
        return min(max(self.boots, 0), 0x7FFFFFFF), min(max(self.time + int(now - self.at), 0), 0x7FFFFFFF)


class _Report(SnmpError):
    """A v3 report PDU answered our request (internal; turned into discovery, resync or SnmpAuthError)."""

    def __init__(self, reason: str, message: V3Message) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message


class UsmRequests:
    """The SNMPv3 requests of a client: the engines it learnt, and how it signs, encrypts and opens messages."""

    _loop: asyncio.AbstractEventLoop
    _engines: dict[tuple[Any, ...], _Engine]
    _discovering: dict[tuple[Any, ...], asyncio.Task[_Engine]]
    _salt: SaltCounter
    stats: Counter[str]

    def _new_id(self) -> int:
        raise NotImplementedError

    async def _exchange(self, target: SnmpTarget, addr_info: tuple[int, tuple[Any, ...]], rid: int, message: bytes,
                        check: Check[T], on_retry: Callable[[], asyncio.Future[bool]] | None = None) -> T:
        raise NotImplementedError

    async def _engine(self, target: SnmpTarget, addr_info: tuple[int, tuple]) -> _Engine:
        addr = addr_info[1]
        engine = self._engines.get(addr)
        if engine is not None:
            return engine
        task = self._discovering.get(addr)
        if task is None:
            task = self._discovering[addr] = asyncio.ensure_future(self._discover(target, addr_info))
            task.add_done_callback(lambda _t: self._discovering.pop(addr, None))
        return await asyncio.shield(task)

    async def _discover(self, target: SnmpTarget, addr_info: tuple[int, tuple], remember: bool = True) -> _Engine:
        """Learn the agent's engine id, boots and time with an unauthenticated probe (RFC 3414 4)."""
        mid = self._new_id()
        scoped = encode_scoped_pdu(b"", b"", encode_pdu(GET, mid, 0, 0, b"\x30\x00"))
        message, _ = encode_v3_message(mid, MAX_MSG_SIZE, FLAG_REPORTABLE, b"", 0, 0, b"", 0, b"", scoped)

        def check(msg: CommunityMessage | V3Message) -> V3Message:
            if not isinstance(msg, V3Message) or not msg.usm.engine_id:
                raise DecodeError("not a discovery answer")
            return msg

        msg = await self._exchange(target, addr_info, mid, bytes(message), check)
        if len(msg.usm.engine_id) > 32 or not 0 <= msg.usm.boots <= 0x7FFFFFFF or not 0 <= msg.usm.time <= 0x7FFFFFFF:
            raise SnmpError(f"{target.host}:{target.port} announced an invalid engine")
        engine = _Engine(msg.usm.engine_id, msg.usm.boots, msg.usm.time, self._loop.time())
        if remember:
            self._engines[addr_info[1]] = engine
        return engine

    async def _request_v3(self, target: SnmpTarget, addr_info: tuple[int, tuple], tag: int, a: int, b: int,
                          varbinds: bytes) -> Pdu:
        for attempt in range(3):
            engine = await self._engine(target, addr_info)
            try:
                return await self._send_v3(target, addr_info, engine, tag, a, b, varbinds)
            except _Report as report:
                usm = report.message.usm
                if (report.reason == "notInTimeWindows" and attempt < 2 and usm.engine_id == engine.engine_id
                        and 0 <= usm.boots <= 0x7FFFFFFF and 0 <= usm.time <= 0x7FFFFFFF):
                    self.stats["time_resyncs"] += 1
                    self._engines[addr_info[1]] = _Engine(engine.engine_id, usm.boots, usm.time, self._loop.time())
                    continue
                if report.reason == "unknownEngineIDs" and attempt < 2:
                    self.stats["rediscoveries"] += 1
                    self._engines.pop(addr_info[1], None)
                    continue
                self.stats["auth_errors"] += 1
                raise SnmpAuthError(f"{target.host}:{target.port} rejected SNMPv3 user {target.username!r}: "
                                    f"{report.reason} (check the user name, protocols and passwords)") from None
        raise SnmpAuthError(f"{target.host}:{target.port}: SNMPv3 time synchronisation failed")

    async def _send_v3(self, target: SnmpTarget, addr_info: tuple[int, tuple], engine: _Engine, tag: int,
                       a: int, b: int, varbinds: bytes) -> Pdu:
        keys = localized_keys(target.auth_protocol, target.auth_key, target.priv_protocol, target.priv_key,
                              engine.engine_id)
        mid = self._new_id()
        boots, etime = engine.clock(self._loop.time())
        scoped = encode_scoped_pdu(engine.engine_id, target.context.encode(), encode_pdu(tag, mid, a, b, varbinds))
        flags = FLAG_REPORTABLE
        priv_params = b""
        if keys.auth_protocol != "none":
            flags |= FLAG_AUTH
            if keys.priv_protocol != "none":
                flags |= FLAG_PRIV
                scoped, priv_params = encrypt(keys, scoped, boots, etime, self._salt.next())
        user = target.username.encode()
        message, offset = encode_v3_message(mid, MAX_MSG_SIZE, flags, engine.engine_id, boots, etime, user,
                                            keys.mac_length, priv_params, scoped)
        if flags & FLAG_AUTH:
            sign(keys, message, offset)
        addr = addr_info[1]

        def check(msg: CommunityMessage | V3Message) -> Pdu:
            if not isinstance(msg, V3Message) or msg.security_model != USM_MODEL:
                raise DecodeError("not a USM message")
            return self._open_v3(msg, keys, engine, user, mid, addr)

        # an agent that cannot decrypt drops the request silently: probe it to tell that from a dead agent
        on_retry = (lambda: asyncio.ensure_future(self._alive(target, addr_info))) if flags & FLAG_PRIV else None
        return await self._exchange(target, addr_info, mid, bytes(message), check, on_retry)

    async def _alive(self, target: SnmpTarget, addr_info: tuple[int, tuple]) -> bool:
        """Return whether the agent answers a discovery probe within one timeout."""
        try:
            await self._discover(replace(target, retries=0), addr_info, remember=False)
        except SnmpError:
            return False
        return True

    def _open_v3(self, msg: V3Message, keys: UsmKeys, engine: _Engine, user: bytes, mid: int, addr: tuple) -> Pdu:
        """Authenticate and decrypt an answer to our request; a report becomes _Report."""
        usm = msg.usm
        authenticated = bool(msg.flags & FLAG_AUTH)
        if authenticated:
            if keys.auth_protocol == "none" or usm.engine_id != engine.engine_id or usm.user != user:
                raise DecodeError("unexpected authenticated answer")
            if not verify(keys, msg.raw, msg.auth_offset, usm.auth_params):
                self.stats["bad_digests"] += 1
                raise DecodeError("wrong digest")
            self._update_clock(addr, engine, usm.boots, usm.time)
        if msg.flags & FLAG_PRIV:
            if not authenticated or keys.priv_protocol == "none":
                raise DecodeError("encrypted answer we cannot read")
            scoped = decode_scoped_pdu(decrypt(keys, msg.scoped, usm.boots, usm.time, usm.priv_params))
        else:
            scoped = decode_scoped_pdu(msg.scoped)
        pdu = scoped.pdu
        if pdu.tag == REPORT:
            oid = pdu.varbinds[0].oid if pdu.varbinds else ""
            raise _Report(REPORT_REASONS.get(oid, f"report {oid}"), msg)
        if pdu.tag != RESPONSE or not isinstance(pdu, Pdu) or pdu.request_id != mid:
            raise DecodeError("not the response to this request")
        if keys.auth_protocol != "none" and not authenticated:
            raise DecodeError("unauthenticated response to an authenticated request")
        return pdu

    def _update_clock(self, addr: tuple, engine: _Engine, boots: int, etime: int) -> None:
        if not (0 <= boots <= 0x7FFFFFFF and 0 <= etime <= 0x7FFFFFFF):
            return
        known_boots, known_time = engine.clock(self._loop.time())
        if boots > known_boots or (boots == known_boots and etime > known_time):
            self._engines[addr] = _Engine(engine.engine_id, boots, etime, self._loop.time())
