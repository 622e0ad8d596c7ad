"""SnmpClient against snmpsim recordings: every value type, v1/v2c by community, v3 by context."""

from __future__ import annotations

import asyncio

import pytest

from dcops.monitoring.snmp import SnmpClient, SnmpTimeout, Varbind
from tests.monitoring.agents import reference

RECORDING = """\
1.3.6.1.2.1.1.1.0|4|dcops test switch 48x10G
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.9.1.1208
1.3.6.1.2.1.1.3.0|67|123456
1.3.6.1.2.1.1.5.0|4|sw-core-01
1.3.6.1.2.1.2.2.1.1.1|2|1
1.3.6.1.2.1.2.2.1.1.2|2|2
1.3.6.1.2.1.2.2.1.2.1|4|Ethernet1/1
1.3.6.1.2.1.2.2.1.2.2|4x|00ff10
1.3.6.1.2.1.2.2.1.7.1|2|1
1.3.6.1.2.1.2.2.1.7.2|2|2
1.3.6.1.2.1.2.2.1.10.1|65|4294967290
1.3.6.1.2.1.2.2.1.10.2|65|0
1.3.6.1.2.1.4.20.1.1.127.0.0.5|64|127.0.0.5
1.3.6.1.2.1.25.3.3.1.2.196608|2|-3
1.3.6.1.2.1.31.1.1.1.6.1|70|18446744073709551610
1.3.6.1.2.1.31.1.1.1.6.2|70|9223372036854775817
1.3.6.1.2.1.31.1.1.1.15.1|66|10000
1.3.6.1.4.1.99999.1.0|68x|0102
"""

EXPECTED = [
    Varbind("1.3.6.1.2.1.1.1.0", "octets", b"dcops test switch 48x10G"),
    Varbind("1.3.6.1.2.1.1.2.0", "oid", "1.3.6.1.4.1.9.1.1208"),
    Varbind("1.3.6.1.2.1.1.3.0", "timeticks", 123456),
    Varbind("1.3.6.1.2.1.1.5.0", "octets", b"sw-core-01"),
    Varbind("1.3.6.1.2.1.2.2.1.1.1", "integer", 1),
    Varbind("1.3.6.1.2.1.2.2.1.1.2", "integer", 2),
    Varbind("1.3.6.1.2.1.2.2.1.2.1", "octets", b"Ethernet1/1"),
    Varbind("1.3.6.1.2.1.2.2.1.2.2", "octets", b"\x00\xff\x10"),
    Varbind("1.3.6.1.2.1.2.2.1.7.1", "integer", 1),
    Varbind("1.3.6.1.2.1.2.2.1.7.2", "integer", 2),
    Varbind("1.3.6.1.2.1.2.2.1.10.1", "counter32", 4294967290),
    Varbind("1.3.6.1.2.1.2.2.1.10.2", "counter32", 0),
    Varbind("1.3.6.1.2.1.4.20.1.1.127.0.0.5", "ipaddress", "127.0.0.5"),
    Varbind("1.3.6.1.2.1.25.3.3.1.2.196608", "integer", -3),
    Varbind("1.3.6.1.2.1.31.1.1.1.6.1", "counter64", 18446744073709551610),
    Varbind("1.3.6.1.2.1.31.1.1.1.6.2", "counter64", 9223372036854775817),
    Varbind("1.3.6.1.2.1.31.1.1.1.15.1", "gauge32", 10000),
    Varbind("1.3.6.1.4.1.99999.1.0", "opaque", b"\x01\x02"),
]
V1_EXPECTED = [vb for vb in EXPECTED if vb.type != "counter64"]  # v1 has no Counter64


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    from tests.monitoring.agents import start_snmpsim

    data = tmp_path_factory.mktemp("recordings")
    (data / "switch.snmprec").write_text(RECORDING)
    agent = start_snmpsim(data, tmp_path_factory.mktemp("snmpsim"))
    yield agent
    agent.stop()


@pytest.mark.parametrize("version", ["2c", "3"])
def test_walk_of_a_recording(sim, tmp_path, version):
    async def go():
        async with SnmpClient() as client:
            target = sim.target(version, context="switch") if version == "3" else sim.target(version)
            return await client.walk(target, "1.3.6.1", max_repetitions=7)

    got = asyncio.run(go())
    assert got == EXPECTED
    kwargs = {"version": version, "tmp": tmp_path, "context": "switch" if version == "3" else ""}
    assert got == reference("snmpwalk", sim, "1.3.6.1", **kwargs)


def test_v1_walk_of_a_recording(sim):
    async def go():
        async with SnmpClient() as client:
            return await client.walk(sim.target("1"), "1.3.6.1")

    assert asyncio.run(go()) == V1_EXPECTED


def test_columns_and_gets_of_a_recording(sim):
    async def go():
        async with SnmpClient() as client:
            t = sim.target("2c")
            rows = await client.walk_columns(t, ["1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.10",
                                                 "1.3.6.1.2.1.31.1.1.1.6", "1.3.6.1.2.1.31.1.1.1.15"])
            got = await client.get(t, ["1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.4.0"])
            return rows, got

    rows, got = asyncio.run(go())
    assert list(rows) == ["1", "2"]
    assert rows["1"]["1.3.6.1.2.1.31.1.1.1.15"].value == 10000
    assert "1.3.6.1.2.1.31.1.1.1.15" not in rows["2"]
    assert rows["2"]["1.3.6.1.2.1.31.1.1.1.6"].value == 2**63 + 9
    assert got[0] == Varbind("1.3.6.1.2.1.1.5.0", "octets", b"sw-core-01")
    assert got[1].type in ("nosuchobject", "nosuchinstance")


def test_unknown_community_times_out(sim):
    async def go():
        async with SnmpClient() as client:
            await client.get(sim.target("2c", community="no-such-recording", timeout=0.5, retries=0),
                             ["1.3.6.1.2.1.1.5.0"])

    with pytest.raises(SnmpTimeout):
        asyncio.run(go())
