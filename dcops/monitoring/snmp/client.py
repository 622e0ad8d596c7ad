"""An asyncio SNMP manager: GET, GETNEXT, GETBULK, walks and column walks over v1, v2c and v3 (USM).

One UDP socket per address family (large receive buffer) carries every request to every target;
replies are matched by request id (v1/v2c) or msgID (v3) and by source address. Datagrams that are
malformed, unexpected or fail authentication are dropped and counted in ``SnmpClient.stats``; they
never end a request early. Each attempt waits ``target.timeout``; a request is sent ``retries + 1``
times at most, so an unreachable target costs ``timeout * (retries + 1)`` and blocks nothing else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from dcops.monitoring.snmp.ber import Varbind, encode_null_varbinds
from dcops.monitoring.snmp.errors import DecodeError, SnmpAuthError, SnmpError, SnmpResponseError, SnmpTimeout
from dcops.monitoring.snmp.pdu import (
    FLAG_AUTH,
    FLAG_PRIV,
    FLAG_REPORTABLE,
    GET,
    GETBULK,
    GETNEXT,
    REPORT,
    RESPONSE,
    USM_MODEL,
    VERSIONS,
    CommunityMessage,
    Pdu,
    V3Message,
    decode_message,
    decode_scoped_pdu,
    encode_community_message,
    encode_pdu,
    encode_scoped_pdu,
    encode_v3_message,
)
from dcops.monitoring.snmp.usm import (
    AUTH_PROTOCOLS,
    PRIV_PROTOCOLS,
    REPORT_REASONS,
    SaltCounter,
    UsmKeys,
    decrypt,
    encrypt,
    localized_keys,
    sign,
    verify,
)

RCVBUF = 8 * 1024 * 1024
MAX_MSG_SIZE = 65507
MAX_WALK_VARBINDS = 200_000  # a hostile agent could invent increasing OIDs forever
_TIMEOUT = object()
_NO_SUCH_NAME, _TOO_BIG = 2, 1


@dataclass(frozen=True)
class SnmpTarget:
    """Where and how to reach one agent. Secrets live here in clear only for the duration of a poll."""

    host: str
    port: int = 161
    version: str = "2c"  # "1", "2c", "3"
    community: str = ""
    username: str = ""
    auth_protocol: str = "none"  # none, md5, sha, sha224, sha256, sha384, sha512
    auth_key: str = ""
    priv_protocol: str = "none"  # none, des, aes (AES-128), aes192, aes256
    priv_key: str = ""
    timeout: float = 2.0
    retries: int = 1
    context: str = ""

    def __post_init__(self) -> None:
        if self.version not in VERSIONS:
            raise ValueError(f"SNMP version must be one of 1, 2c, 3, not {self.version!r}")
        if self.auth_protocol != "none" and self.auth_protocol not in AUTH_PROTOCOLS:
            raise ValueError(f"unknown auth protocol {self.auth_protocol!r}")
        if self.priv_protocol != "none" and self.priv_protocol not in PRIV_PROTOCOLS:
            raise ValueError(f"unknown priv protocol {self.priv_protocol!r}")
        if self.priv_protocol != "none" and self.auth_protocol == "none":
            raise ValueError("privacy needs an auth protocol")

    def __repr__(self) -> str:  # never show secrets in logs or tracebacks
        return f"SnmpTarget({self.host}:{self.port} v{self.version})"


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


class _Pending:
    __slots__ = ("future", "addr", "check")

    def __init__(self, addr: tuple, check: Any) -> None:
        self.future: asyncio.Future | None = None
        self.addr = addr
        self.check = check  # callable(message) -> result, raises DecodeError to drop the datagram


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, client: SnmpClient) -> None:
        self.client = client

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.client._on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        self.client.stats["socket_errors"] += 1


def _oid_key(oid: str) -> tuple[int, ...]:
    return tuple(map(int, oid.split(".")))


class SnmpClient:
    """Send SNMP requests to many targets concurrently. Create it inside the running event loop."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._transports: dict[int, asyncio.DatagramTransport] = {}
        self._opening: dict[int, asyncio.Task] = {}
        self._pending: dict[int, _Pending] = {}
        self._next_id = int.from_bytes(os.urandom(3), "big") + 1
        self._engines: dict[tuple, _Engine] = {}
        self._discovering: dict[tuple, asyncio.Task] = {}
        self._addresses: dict[tuple[str, int], tuple[int, tuple]] = {}
        self._salt = SaltCounter()
        self.stats: Counter[str] = Counter()

    async def __aenter__(self) -> SnmpClient:
        await self._transport(socket.AF_INET)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the sockets; pending requests end with SnmpError."""
        for transport in self._transports.values():
            transport.close()
        self._transports.clear()
        for entry in self._pending.values():
            if entry.future is not None and not entry.future.done():
                entry.future.set_exception(SnmpError("client closed"))
        self._pending.clear()

    # ------------------------------------------------------------------------------------------ public API

    async def get(self, target: SnmpTarget, oids: Sequence[str]) -> list[Varbind]:
        """GET the given OIDs; missing ones come back as nosuchobject/nosuchinstance (also for v1)."""
        if not oids:
            return []
        if target.version == "1":
            return await self._get_v1(target, list(oids))
        pdu = await self._request(target, GET, 0, 0, encode_null_varbinds(oids))
        _check(pdu)
        return pdu.varbinds

    async def get_next(self, target: SnmpTarget, oids: Sequence[str]) -> list[Varbind]:
        """GETNEXT the given OIDs (v1 end of MIB comes back as endofmibview)."""
        if not oids:
            return []
        pdu = await self._request(target, GETNEXT, 0, 0, encode_null_varbinds(oids))
        if target.version == "1" and pdu.error_status == _NO_SUCH_NAME:
            bad = pdu.error_index - 1
            rest = [o for i, o in enumerate(oids) if i != bad]
            got = await self.get_next(target, rest) if rest else []
            got.insert(bad, Varbind(oids[bad], "endofmibview", None))
            return got
        _check(pdu)
        return pdu.varbinds

    async def get_bulk(self, target: SnmpTarget, oids: Sequence[str], *, non_repeaters: int = 0,
                       max_repetitions: int = 25) -> list[Varbind]:
        """GETBULK (v2c/v3 only)."""
        if target.version == "1":
            raise SnmpError("GETBULK needs SNMP v2c or v3")
        pdu = await self._request(target, GETBULK, non_repeaters, max_repetitions, encode_null_varbinds(oids))
        _check(pdu)
        return pdu.varbinds

    async def walk(self, target: SnmpTarget, base_oid: str, *, max_repetitions: int = 25) -> list[Varbind]:
        """Return every varbind under base_oid (GETBULK for v2c/v3, GETNEXT for v1); a leaf walks as a GET."""
        base = base_oid.strip(".")
        table = await self.walk_columns(target, [base], max_repetitions=max_repetitions)
        out = [row[base] for row in table.values()]
        if not out:
            leaf = await self.get(target, [base])
            out = [vb for vb in leaf if vb.type not in ("nosuchobject", "nosuchinstance", "endofmibview")]
        return out

    async def walk_columns(self, target: SnmpTarget, columns: Sequence[str], *,
                           max_repetitions: int = 25) -> dict[str, dict[str, Varbind]]:
        """Walk several table columns together; return {index: {column: varbind}} in the agent's row order."""
        names = [c.strip(".") for c in columns]
        prefixes = [n + "." for n in names]
        current = list(names)
        last: list[tuple[int, ...] | None] = [None] * len(names)
        active = list(range(len(names)))
        rows: dict[str, dict[str, Varbind]] = {}
        seen = 0
        reps = max(1, max_repetitions)
        while active:
            oids = [current[c] for c in active]
            if target.version == "1":
                vbs = await self.get_next(target, oids)
            else:
                pdu = await self._request(target, GETBULK, 0, reps, encode_null_varbinds(oids))
                if pdu.error_status == _TOO_BIG and reps > 1:
                    reps = max(1, reps // 2)
                    continue
                _check(pdu)
                vbs = pdu.varbinds
            if not vbs:
                break
            n = len(active)
            ended: set[int] = set()
            progressed = False
            for i, vb in enumerate(vbs):
                c = active[i % n]
                if c in ended:
                    continue
                oid = vb.oid
                if vb.type == "endofmibview" or not oid.startswith(prefixes[c]):
                    ended.add(c)
                    continue
                key = _oid_key(oid)
                prev = last[c]
                if prev is not None and key <= prev:
                    self.stats["non_increasing"] += 1
                    ended.add(c)
                    continue
                last[c] = key
                current[c] = oid
                progressed = True
                index = oid[len(prefixes[c]):]
                row = rows.get(index)
                if row is None:
                    rows[index] = row = {}
                row[names[c]] = vb
            seen += len(vbs)
            if (not progressed and not ended) or seen > MAX_WALK_VARBINDS:
                self.stats["walks_cut"] += 1
                break
            active = [c for c in active if c not in ended]
        return rows

    # ------------------------------------------------------------------------------------------ v1 details

    async def _get_v1(self, target: SnmpTarget, oids: list[str]) -> list[Varbind]:
        """GET for v1: an OID the agent lacks (noSuchName) is reported as nosuchobject, like v2c."""
        remaining = list(range(len(oids)))
        while remaining:
            pdu = await self._request(target, GET, 0, 0, encode_null_varbinds([oids[i] for i in remaining]))
            if pdu.error_status == _NO_SUCH_NAME and 1 <= pdu.error_index <= len(remaining):
                remaining.pop(pdu.error_index - 1)
                continue
            _check(pdu)
            got = dict(zip(remaining, pdu.varbinds, strict=False))
            return [got[i] if i in got else Varbind(oids[i], "nosuchobject", None) for i in range(len(oids))]
        return [Varbind(o, "nosuchobject", None) for o in oids]

    # ------------------------------------------------------------------------------------------ transport

    async def _transport(self, family: int) -> asyncio.DatagramTransport:
        transport = self._transports.get(family)
        if transport is not None:
            return transport
        task = self._opening.get(family)
        if task is None:
            task = self._opening[family] = asyncio.ensure_future(self._open(family))
        try:
            return await asyncio.shield(task)
        finally:
            self._opening.pop(family, None)

    async def _open(self, family: int) -> asyncio.DatagramTransport:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:  # as root the limit net.core.rmem_max does not apply
            sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), RCVBUF)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        sock.bind(("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0))
        transport, _ = await self._loop.create_datagram_endpoint(lambda: _Protocol(self), sock=sock)
        self._transports[family] = transport  # type: ignore[assignment]
        return transport  # type: ignore[return-value]

    async def _address(self, target: SnmpTarget) -> tuple[int, tuple]:
        key = (target.host, target.port)
        found = self._addresses.get(key)
        if found is not None:
            return found
        try:
            ip = ipaddress.ip_address(target.host)
            found = (socket.AF_INET6 if ip.version == 6 else socket.AF_INET, (str(ip), target.port))
        except ValueError:
            try:
                infos = await self._loop.getaddrinfo(target.host, target.port, type=socket.SOCK_DGRAM)
            except OSError as exc:
                raise SnmpError(f"cannot resolve {target.host}: {exc}") from None
            family, _, _, _, sockaddr = infos[0]
            found = (family, (sockaddr[0], sockaddr[1]))
        self._addresses[key] = found
        return found

    def _new_id(self) -> int:
        rid = self._next_id
        self._next_id = rid + 1 if rid < 0x7FFFFFFF else 1
        return rid

    def _on_datagram(self, data: bytes, addr: tuple) -> None:
        self.stats["received"] += 1
        try:
            msg = decode_message(data)
        except DecodeError:
            self.stats["malformed"] += 1
            return
        except Exception:  # noqa: BLE001 - a hostile datagram must never reach the event loop
            self.stats["malformed"] += 1
            return
        if isinstance(msg, V3Message):
            entry = self._pending.get(msg.msg_id)
        else:
            pdu = msg.pdu
            entry = self._pending.get(pdu.request_id) if isinstance(pdu, Pdu) and pdu.tag == RESPONSE else None
        if entry is None or entry.future is None or entry.future.done():
            self.stats["unexpected"] += 1
            return
        if (addr[0], addr[1]) != entry.addr:
            self.stats["wrong_source"] += 1
            return
        try:
            result = entry.check(msg)
        except _Report as report:
            entry.future.set_exception(report)
            return
        except Exception:  # noqa: BLE001 - malformed, forged or undecryptable: drop it, keep serving
            self.stats["rejected"] += 1
            return
        entry.future.set_result(result)

    async def _exchange(self, target: SnmpTarget, addr_info: tuple[int, tuple], rid: int, message: bytes,
                        check: Any, on_retry: Any = None) -> Any:
        transport = await self._transport(addr_info[0])
        addr = addr_info[1]
        entry = _Pending(addr, check)
        self._pending[rid] = entry
        loop = self._loop
        probe: asyncio.Task | None = None
        try:
            for attempt in range(max(0, target.retries) + 1):
                fut = entry.future = loop.create_future()
                if attempt:
                    self.stats["retries"] += 1
                    if attempt == 1 and on_retry is not None:
                        probe = on_retry()
                self.stats["sent"] += 1
                transport.sendto(message, addr)
                handle = loop.call_later(target.timeout, _expire, fut)
                try:
                    result = await fut
                finally:
                    handle.cancel()
                if result is not _TIMEOUT:
                    return result
            self.stats["timeouts"] += 1
            if probe is not None and probe.done() and not probe.cancelled() and probe.result():
                self.stats["auth_errors"] += 1
                raise SnmpAuthError(f"{target.host}:{target.port} answers SNMPv3 discovery but not our authPriv "
                                    f"requests as user {target.username!r}: wrong privacy password or protocol?")
            raise SnmpTimeout(f"no answer from {target.host}:{target.port} after {target.retries + 1} "
                              f"attempt(s) of {target.timeout}s")
        finally:
            self._pending.pop(rid, None)
            if probe is not None and not probe.done():
                probe.cancel()

    # ------------------------------------------------------------------------------------------ requests

    async def _request(self, target: SnmpTarget, tag: int, a: int, b: int, varbinds: bytes) -> Pdu:
        addr_info = await self._address(target)
        if target.version == "3":
            return await self._request_v3(target, addr_info, tag, a, b, varbinds)
        rid = self._new_id()
        version = VERSIONS[target.version]
        community = target.community.encode()
        message = encode_community_message(version, community, encode_pdu(tag, rid, a, b, varbinds))

        def check(msg: CommunityMessage | V3Message) -> Pdu:
            if not isinstance(msg, CommunityMessage) or msg.version != version or msg.community != community:
                raise DecodeError("version or community differs")
            return msg.pdu  # type: ignore[return-value]

        return await self._exchange(target, addr_info, rid, message, check)

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


def _expire(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(_TIMEOUT)


def _check(pdu: Pdu) -> None:
    if pdu.error_status:
        raise SnmpResponseError(pdu.error_status, pdu.error_index)
