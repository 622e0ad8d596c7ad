"""The poller against real agents: versions, counter wrap and reboot, unreachable and slow agents."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from dcops.monitoring.poller import Target, poll_target
from dcops.monitoring.profiles import load_profiles
from dcops.monitoring.snmp import SnmpClient, SnmpTarget

COUNTER_PROFILE = """
name: test-counters
match: {roles: [other]}
tables:
  - name: test_ports
    columns:
      name: 1.3.6.1.4.1.99999.2.1.2
      c32: 1.3.6.1.4.1.99999.2.1.3
      c64: 1.3.6.1.4.1.99999.2.1.4
    labels: {ifname: [name]}
    samples:
      - {metric: if_in_bps, kind: rate, sources: [{column: c32, scale: 8}]}
      - {metric: if_out_bps, kind: rate, sources: [{column: c64, scale: 8}]}
"""
C32, C64 = "1.3.6.1.4.1.99999.2.1.3.1", "1.3.6.1.4.1.99999.2.1.4.1"


def _value(result, metric: str, **labels: str) -> float | None:
    found = [s.value for s in result.samples if s.metric == metric and all(s.label(k) == v for k, v in labels.items())]
    assert len(found) <= 1, (metric, labels)
    return found[0] if found else None


async def _poll(target: Target, profiles=None, deadline: float | None = None):
    async with SnmpClient() as client:
        return await poll_target(client, target, all_profiles=profiles, deadline_s=deadline)


def _advance(target: Target, result, extras) -> None:
    """Carry a poll's counters and uptime to the next poll, as the state service does."""
    target.previous_counters, target.previous_uptime = result.counters, extras.uptime_ticks
    target.previous_at = result.at.timestamp()


@pytest.mark.parametrize("version, user", [("1", None), ("2c", None), ("3", "noauth"), ("3", "sha-auth"),
                                           ("3", "sha-aes"), ("3", "sha256-aes256"), ("3", "sha512-aes256")])
def test_poll_snmpd_over_every_version(snmpd, version, user):
    target = Target(device_id=1, name="snmpd", role="hypervisor", snmp=snmpd.target(version, user=user))
    result, extras = asyncio.run(_poll(target))
    assert result.reachable and result.error is None, result.error
    assert result.facts["sys_name"] == "dcops-test-agent"
    assert result.facts["sys_object_id"].startswith("1.3.6.1.4.1.8072")
    assert "host-resources" in result.facts["profiles"] and "if-mib" in result.facts["profiles"]
    assert _value(result, "device_up") == 1 and _value(result, "device_uptime_seconds") > 0
    assert 0 < _value(result, "memory_used_percent") < 100
    assert _value(result, "if_oper_up", ifname="lo") == 1
    assert {i.name for i in extras.interfaces} >= {"lo"} and extras.table_rows["interfaces"] >= 1
    assert result.varbinds > 20


def test_counter_wrap_gives_the_true_rate_and_a_reboot_gives_none(snmpd_agent, tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "test.yaml").write_text(COUNTER_PROFILE)
    profiles = load_profiles(str(tmp_path / "p"))
    agent = snmpd_agent(values={"1.3.6.1.4.1.99999.2.1.2.1": ("octets", "port1"), C32: ("counter32", 2**32 - 1000),
                                C64: ("counter64", 2**64 - 10**9)})
    target = Target(device_id=1, name="a", role="other", snmp=agent.target("2c"))
    first, extras = asyncio.run(_poll(target, profiles))
    assert _value(first, "if_in_bps", ifname="port1") is None  # first reading: no rate
    _advance(target, first, extras)

    agent.set_values({C32: ("counter32", 4000), C64: ("counter64", 2**64 - 10**9 + 5000)})
    second, extras = asyncio.run(_poll(target, profiles))
    key = next(k for k in second.counters if k.startswith("if_in_bps|ifname=port1"))
    elapsed = second.counters[key][2] - first.counters[key][2]
    # the 32-bit counter wrapped once: 1000 + 4000 octets
    assert _value(second, "if_in_bps", ifname="port1") == pytest.approx(5000 * 8 / elapsed)
    assert _value(second, "if_out_bps", ifname="port1") == pytest.approx(5000 * 8 / elapsed)
    _advance(target, second, extras)

    agent.set_values({C64: ("counter64", 100)})  # a 64-bit counter going down is a reset, not a wrap
    third, extras = asyncio.run(_poll(target, profiles))
    assert _value(third, "if_out_bps", ifname="port1") is None and _value(third, "if_in_bps", ifname="port1") == 0.0
    _advance(target, third, extras)
    target.previous_uptime = (extras.uptime_ticks or 0) + 10**6  # the agent was up much longer before...

    agent.restart()  # ...then rebooted: sysUpTime goes back, counters restart from small values
    agent.set_values({C32: ("counter32", 10), C64: ("counter64", 200)})
    rebooted, _ = asyncio.run(_poll(target, profiles))
    assert rebooted.reachable
    assert _value(rebooted, "if_in_bps", ifname="port1") is None  # no spike
    assert _value(rebooted, "if_out_bps", ifname="port1") is None


@pytest.fixture
def silent_port() -> Iterator[socket.socket]:
    """A UDP socket on loopback that receives and never answers (a device that is down or filtered)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        yield sock


def _datagrams(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            sock.recv(65535)
        except BlockingIOError:
            return count
        count += 1


def test_unreachable_device_is_down_after_one_request_timeout(silent_port):
    target = Target(device_id=7, name="gone", role="switch",
                    snmp=SnmpTarget("127.0.0.1", silent_port.getsockname()[1], community="public", timeout=0.3,
                                    retries=1))
    result, _ = asyncio.run(_poll(target))
    assert not result.reachable and result.error.startswith("timeout")
    assert _value(result, "device_up") == 0
    assert _datagrams(silent_port) == 2  # one GET, retried once: not one timeout per table


def test_wrong_community_is_reported_as_unreachable(snmpd):
    target = Target(device_id=1, name="x", role="switch",
                    snmp=snmpd.target("2c", community="not-the-community", timeout=0.3, retries=0))
    result, _ = asyncio.run(_poll(target))
    assert not result.reachable and _value(result, "device_up") == 0


def test_wrong_v3_key_is_an_auth_error(snmpd):
    target = Target(device_id=1, name="x", role="switch",
                    snmp=snmpd.target("3", user="sha-aes", auth_key="wrong-key-123", timeout=0.5, retries=0))
    result, _ = asyncio.run(_poll(target))
    assert not result.reachable and result.error.startswith("auth")


class _DelayProxy(asyncio.DatagramProtocol):
    """Forward datagrams to an agent and send its replies back ``delay`` seconds late (a slow agent)."""

    def __init__(self, agent: tuple[str, int], delay: float) -> None:
        self.agent, self.delay = agent, delay
        self.transport: asyncio.DatagramTransport | None = None
        self.upstream: dict[tuple, asyncio.DatagramTransport] = {}
        self.requests = 0  # datagrams forwarded to the agent: the poll's requests

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.requests += 1
        asyncio.ensure_future(self._forward(data, addr))

    async def _forward(self, data: bytes, client: tuple) -> None:
        loop = asyncio.get_running_loop()
        if client not in self.upstream:
            proxy = self

            class Back(asyncio.DatagramProtocol):
                def datagram_received(self, reply: bytes, _addr: tuple) -> None:
                    loop.call_later(proxy.delay, proxy.transport.sendto, reply, client)

            self.upstream[client], _ = await loop.create_datagram_endpoint(Back, remote_addr=self.agent)
        self.upstream[client].sendto(data)


async def _poll_through_proxy(agent, delay: float, deadline: float | None, timeout: float):
    """Poll the agent through a delaying proxy; return the result and how many requests the poll sent."""
    loop = asyncio.get_running_loop()
    transport, proxy = await loop.create_datagram_endpoint(lambda: _DelayProxy((agent.host, agent.port), delay),
                                                           local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    try:
        target = Target(device_id=1, name="slow", role="hypervisor",
                        snmp=SnmpTarget("127.0.0.1", port, community=agent.community, timeout=timeout, retries=0))
        async with SnmpClient() as client:
            result, _ = await poll_target(client, target, deadline_s=deadline)
        return result, proxy.requests
    finally:
        transport.close()
        for t in proxy.upstream.values():
            t.close()


def test_slow_agent_is_polled_within_its_timeout_and_cut_at_the_deadline(snmpd):
    slow, slow_requests = asyncio.run(_poll_through_proxy(snmpd, delay=0.15, deadline=None, timeout=1.0))
    assert slow.reachable and slow.error is None and slow_requests >= 3  # the system group, then the tables
    assert _value(slow, "memory_used_percent") is not None

    cut, cut_requests = asyncio.run(_poll_through_proxy(snmpd, delay=0.15, deadline=0.4, timeout=1.0))
    # stopped at the deadline instead of reading every table: fewer requests, less time than the full poll
    assert 1 <= cut_requests < slow_requests and cut.duration_s < slow.duration_s
    assert cut.reachable and "deadline" in cut.error  # it answered the system group, then ran out of time
    assert _value(cut, "device_up") == 1 and _value(cut, "memory_used_percent") is None
