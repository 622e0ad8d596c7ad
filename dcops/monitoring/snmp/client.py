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
from typing import Any

from dcops.monitoring.snmp.ber import Varbind, encode_null_varbinds
from dcops.monitoring.snmp.errors import DecodeError, SnmpAuthError, SnmpError, SnmpResponseError, SnmpTimeout
from dcops.monitoring.snmp.pdu import (
    GET,
    GETBULK,
    GETNEXT,
    RESPONSE,
    VERSIONS,
    CommunityMessage,
    Pdu,
    V3Message,
    decode_message,
    encode_community_message,
    encode_pdu,
)
from dcops.monitoring.snmp.target import SnmpTarget
from dcops.monitoring.snmp.usm import SaltCounter
from dcops.monitoring.snmp.v3 import MAX_MSG_SIZE, UsmRequests, _Engine, _Report

__all__ = ["MAX_MSG_SIZE", "MAX_WALK_VARBINDS", "SnmpClient", "SnmpTarget"]

RCVBUF = 8 * 1024 * 1024
MAX_WALK_VARBINDS = 200_000  # a hostile agent could invent increasing OIDs forever
_TIMEOUT = object()
_NO_SUCH_NAME, _TOO_BIG = 2, 1


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


class SnmpClient(UsmRequests):
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
        self._transports[family] = transport
        return transport

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
            if not isinstance(msg.pdu, Pdu):
                raise DecodeError("a trap is no answer")
            return msg.pdu

        return await self._exchange(target, addr_info, rid, message, check)

def _expire(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(_TIMEOUT)


def _check(pdu: Pdu) -> None:
    if pdu.error_status:
        raise SnmpResponseError(pdu.error_status, pdu.error_index)
