"""Faults on the wire: unreachable and slow agents, garbage and hostile replies, spoofed sources."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket

import pytest

from dcops.monitoring.snmp import SnmpClient, SnmpError, SnmpTarget, SnmpTimeout, Varbind
from dcops.monitoring.snmp.ber import encode_varbinds
from dcops.monitoring.snmp.pdu import (
    REPORT,
    RESPONSE,
    decode_message,
    encode_community_message,
    encode_pdu,
    encode_scoped_pdu,
    encode_v3_message,
)
from tests.monitoring.agents import free_udp_port

SYS_NAME = "1.3.6.1.2.1.1.5.0"
EXPECTED = [Varbind(SYS_NAME, "octets", b"dcops-test-agent")]


class _Relay(asyncio.DatagramProtocol):
    """A UDP proxy in front of an agent that delays replies, or answers with what ``forge`` returns."""

    def __init__(self, agent_addr: tuple[str, int], delay: float = 0.0, forge=None) -> None:
        self.agent_addr = agent_addr
        self.delay = delay
        self.forge = forge
        self.clients: dict[int, tuple] = {}
        self.transport: asyncio.DatagramTransport | None = None
        self.upstream: asyncio.DatagramTransport | None = None

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        if self.forge is not None:
            for reply in self.forge(data):
                self.transport.sendto(reply, addr)
            return
        self.last_client = addr
        self.upstream.sendto(data)

    def reply(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(self.delay, self.transport.sendto, data, self.last_client)


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, relay: _Relay) -> None:
        self.relay = relay

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.relay.reply(data)


async def start_relay(agent_addr: tuple[str, int], **kwargs) -> tuple[_Relay, int]:
    loop = asyncio.get_running_loop()
    relay = _Relay(agent_addr, **kwargs)
    port = free_udp_port()
    relay.transport, _ = await loop.create_datagram_endpoint(lambda: relay, local_addr=("127.0.0.1", port))
    if kwargs.get("forge") is None:
        relay.upstream, _ = await loop.create_datagram_endpoint(lambda: _Upstream(relay), remote_addr=agent_addr)
    return relay, port


def test_unreachable_port_times_out_after_its_retries():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # receives, never answers
        silent.bind(("127.0.0.1", 0))
        silent.setblocking(False)
        port = silent.getsockname()[1]

        async def go():
            async with SnmpClient() as client:
                for target in (SnmpTarget("127.0.0.1", port, community="public", timeout=0.4, retries=2),
                               SnmpTarget("127.0.0.1", port, version="3", username="u", auth_protocol="sha",
                                          auth_key="12345678", timeout=0.4, retries=2)):
                    with pytest.raises(SnmpTimeout):
                        await client.get(target, [SYS_NAME])
                return client.stats

        stats = asyncio.run(go())
        sent = 0
        with contextlib.suppress(BlockingIOError):
            while silent.recv(65535):
                sent += 1

    assert stats["timeouts"] == 2 and stats["retries"] == 4
    assert sent == 6  # each target: the request and two retries, then it gives up


def test_an_unreachable_target_does_not_block_others(snmpd):
    dead = SnmpTarget("127.0.0.1", free_udp_port(), community="public", timeout=3.0, retries=0)

    async def go():
        async with SnmpClient() as client:
            slow = asyncio.ensure_future(client.get(dead, [SYS_NAME]))
            results = [await client.get(snmpd.target(v, "sha-aes" if v == "3" else None), [SYS_NAME])
                       for v in ("1", "2c", "3") for _ in range(20)]
            assert not slow.done()  # the good agent answered 60 times while the dead one is still pending
            with pytest.raises(SnmpTimeout):
                await slow
            return results

    assert all(r == EXPECTED for r in asyncio.run(go()))


@pytest.mark.parametrize("version", ["2c", "3"])
def test_slow_agent(snmpd, version):
    async def go():
        relay, port = await start_relay((snmpd.host, snmpd.port), delay=0.4)
        try:
            async with SnmpClient() as client:
                patient = snmpd.target(version, port=port, timeout=1.5, retries=0)
                ok = await client.get(patient, [SYS_NAME])
                walked = await client.walk(patient, "1.3.6.1.2.1.1.9.1.2")
                # the first attempt times out, its late answer arrives during the retry and is accepted
                late = await client.get(snmpd.target(version, port=port, timeout=0.3, retries=2), [SYS_NAME])
                with pytest.raises(SnmpTimeout):
                    await client.get(snmpd.target(version, port=port, timeout=0.1, retries=0), [SYS_NAME])
                return ok, walked, late
        finally:
            relay.transport.close()
            relay.upstream.close()

    ok, walked, late = asyncio.run(go())
    assert ok == EXPECTED and late == EXPECTED and len(walked) >= 5


def _garbage(data: bytes) -> list[bytes]:
    """Answer a request with everything a broken or hostile agent might send, but never a valid reply."""
    msg = decode_message(data)
    rid = msg.pdu.request_id
    good = encode_community_message(1, b"public", encode_pdu(RESPONSE, rid, 0, 0, encode_varbinds(EXPECTED)))
    return [
        os.urandom(50), b"", b"\x30", b"\x30\x84\x7f\xff\xff\xff" + os.urandom(20), good[:-3], good + b"\x00",
        encode_community_message(1, b"public", encode_pdu(RESPONSE, rid + 1, 0, 0, encode_varbinds(EXPECTED))),
        encode_community_message(1, b"other", encode_pdu(RESPONSE, rid, 0, 0, encode_varbinds(EXPECTED))),
        encode_community_message(0, b"public", encode_pdu(RESPONSE, rid, 0, 0, encode_varbinds(EXPECTED))),
        good.replace(b"\x04\x10dcops-test-agent", b"\x47\x10dcops-test-agent"),  # unknown value type
        bytes([0x30, 0x82, 0xFF, 0xFF]) + good,
    ]


def test_garbage_replies_are_dropped_and_counted(snmpd):
    async def go():
        relay, port = await start_relay(("127.0.0.1", 9), forge=_garbage)
        try:
            async with SnmpClient() as client:
                with pytest.raises(SnmpTimeout):
                    await client.get(SnmpTarget("127.0.0.1", port, community="public", timeout=0.3, retries=1),
                                     [SYS_NAME])
                after = await client.get(snmpd.target("2c"), [SYS_NAME])
                after_v3 = await client.get(snmpd.target("3", "sha-aes"), [SYS_NAME])
                return after, after_v3, client.stats
        finally:
            relay.transport.close()

    after, after_v3, stats = asyncio.run(go())
    assert after == EXPECTED and after_v3 == EXPECTED
    assert stats["malformed"] >= 2 * 7 and stats["unexpected"] >= 2 and stats["rejected"] >= 4


def test_random_datagrams_at_the_client_socket_do_not_hurt(snmpd):
    async def go():
        async with SnmpClient() as client:
            sock = client._transports[2].get_extra_info("socket")  # AF_INET
            port = sock.getsockname()[1]
            loop = asyncio.get_running_loop()
            spam, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=("127.0.0.1", port))
            try:
                for _ in range(500):
                    spam.sendto(os.urandom(int.from_bytes(os.urandom(1), "big")))
                results = await asyncio.gather(*[client.get(snmpd.target("2c"), [SYS_NAME]) for _ in range(20)])
            finally:
                spam.close()
            await asyncio.sleep(0.1)
            return results, client.stats

    results, stats = asyncio.run(go())
    assert all(r == EXPECTED for r in results)
    assert stats["malformed"] + stats["unexpected"] >= 450


def _looping_agent(data: bytes) -> list[bytes]:
    """Answer every GETNEXT/GETBULK with OIDs that go backwards (a buggy agent that would loop a walk)."""
    msg = decode_message(data)
    vbs = [Varbind("1.3.6.1.2.1.2.2.1.2.5", "octets", b"eth5"), Varbind("1.3.6.1.2.1.2.2.1.2.3", "octets", b"eth3")]
    return [encode_community_message(msg.version, msg.community,
                                     encode_pdu(RESPONSE, msg.pdu.request_id, 0, 0, encode_varbinds(vbs)))]


@pytest.mark.parametrize("version", ["1", "2c"])
def test_walk_stops_on_oids_that_do_not_increase(version):
    async def go():
        relay, port = await start_relay(("127.0.0.1", 9), forge=_looping_agent)
        try:
            async with SnmpClient() as client:
                target = SnmpTarget("127.0.0.1", port, version, community="public", timeout=1)
                walked = await client.walk(target, "1.3.6.1.2.1.2.2.1.2")
                columns = await client.walk_columns(target, ["1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.3"])
                return walked, columns, client.stats
        finally:
            relay.transport.close()

    walked, columns, stats = asyncio.run(go())
    assert [vb.oid for vb in walked] == ["1.3.6.1.2.1.2.2.1.2.5"]
    assert list(columns) == ["5"]
    assert stats["non_increasing"] >= 2


def _hostile_engine(engine_id: bytes, boots: int, etime: int):
    def forge(data: bytes) -> list[bytes]:
        msg = decode_message(data)
        scoped = encode_scoped_pdu(engine_id, b"", encode_pdu(REPORT, msg.msg_id, 0, 0, encode_varbinds(
            [Varbind("1.3.6.1.6.3.15.1.1.4.0", "counter32", 1)])))
        return [bytes(encode_v3_message(msg.msg_id, 65507, 0, engine_id, boots, etime, b"", 0, b"", scoped)[0])]
    return forge


@pytest.mark.parametrize("engine_id,boots,etime", [(b"\x80" * 40, 1, 1), (b"\x80\x00\x01", -5, 1),
                                                   (b"\x80\x00\x01", 1, -7), (b"\x80\x00\x01", 2**40, 1)])
def test_hostile_v3_engines_are_refused(engine_id, boots, etime):
    async def go():
        relay, port = await start_relay(("127.0.0.1", 9), forge=_hostile_engine(engine_id, boots, etime))
        try:
            async with SnmpClient() as client:
                target = SnmpTarget("127.0.0.1", port, "3", username="u", auth_protocol="sha", auth_key="12345678",
                                    priv_protocol="aes", priv_key="12345678", timeout=0.3, retries=0)
                with pytest.raises(SnmpError):
                    await client.get(target, [SYS_NAME])
        finally:
            relay.transport.close()

    asyncio.run(go())
