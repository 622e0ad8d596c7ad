"""SnmpClient against a real net-snmp snmpd: every version and v3 user, compared with snmpwalk -On."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from dcops.monitoring.snmp import SnmpAuthError, SnmpClient, SnmpError, SnmpTarget, SnmpTimeout, Varbind
from tests.monitoring.agents import DEFAULT_USERS, reference, stable

SYSTEM = "1.3.6.1.2.1.1"
IF_TABLE = "1.3.6.1.2.1.2.2"
IF_COLUMNS = [f"1.3.6.1.2.1.2.2.1.{c}" for c in (1, 2, 3, 7, 8, 10, 16)]
IFX_COLUMNS = ["1.3.6.1.2.1.31.1.1.1.1", "1.3.6.1.2.1.31.1.1.1.6", "1.3.6.1.2.1.31.1.1.1.10"]


def run(coro):
    return asyncio.run(coro)


async def _walks(target, *bases, **kwargs):
    async with SnmpClient() as client:
        return [await client.walk(target, base, **kwargs) for base in bases]


@pytest.mark.parametrize("version", ["1", "2c"])
def test_community_walks_equal_netsnmp(snmpd, tmp_path, version):
    system, if_table = run(_walks(snmpd.target(version), SYSTEM, IF_TABLE))
    assert stable(system) == stable(reference("snmpwalk", snmpd, SYSTEM, version=version, tmp=tmp_path))
    assert stable(if_table) == stable(reference("snmpwalk", snmpd, IF_TABLE, version=version, tmp=tmp_path))
    assert len(system) >= 7 and len(if_table) >= 22
    assert system[0].oid == "1.3.6.1.2.1.1.1.0" and system[0].type == "octets"


@pytest.mark.parametrize("user", [u.name for u in DEFAULT_USERS])
def test_v3_walks_equal_netsnmp(snmpd, tmp_path, user):
    (system,) = run(_walks(snmpd.target("3", user), SYSTEM))
    assert stable(system) == stable(reference("snmpwalk", snmpd, SYSTEM, version="3", user=user, tmp=tmp_path))


@pytest.mark.parametrize("max_repetitions", [1, 3, 50])
def test_walk_is_independent_of_max_repetitions(snmpd, max_repetitions):
    (if_table,) = run(_walks(snmpd.target("2c"), IF_TABLE, max_repetitions=max_repetitions))
    (reference_walk,) = run(_walks(snmpd.target("1"), IF_TABLE))
    assert stable(if_table) == stable(reference_walk)


@pytest.mark.parametrize("version,user", [("1", None), ("2c", None), ("3", "sha512-aes256"), ("3", "md5-des")])
def test_walk_columns_rows_equal_netsnmp(snmpd, tmp_path, version, user):
    async def go():
        async with SnmpClient() as client:
            return await client.walk_columns(snmpd.target(version, user), IF_COLUMNS + IFX_COLUMNS,
                                             max_repetitions=2)

    rows = run(go())
    kwargs = {"version": version, "user": user, "tmp": tmp_path}
    for column in IF_COLUMNS + IFX_COLUMNS:
        expected = reference("snmpwalk", snmpd, column, **kwargs)
        got = [row[column] for row in rows.values() if column in row]
        assert stable(got) == stable(expected), column
    assert list(rows) == [vb.value and str(vb.value) for vb in reference("snmpwalk", snmpd, IF_COLUMNS[0], **kwargs)]


def test_get_scalars_and_missing_objects(snmpd):
    oids = ["1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.77.0", "1.3.6.1.2.1.2.2.1.2.999"]

    async def go(version):
        async with SnmpClient() as client:
            return await client.get(snmpd.target(version), oids)

    for version in ("1", "2c"):
        got = run(go(version))
        assert [vb.oid for vb in got] == oids
        assert got[0] == Varbind(oids[0], "octets", b"dcops-test-agent")
        assert got[1].type == "oid" and got[1].value.startswith("1.3.6.1.4.1.8072.3.2")
        assert got[2].type in ("nosuchobject", "nosuchinstance") and got[3].type in ("nosuchobject", "nosuchinstance")


def test_get_next_and_get_bulk(snmpd):
    async def go():
        async with SnmpClient() as client:
            t = snmpd.target("2c")
            nxt = await client.get_next(t, ["1.3.6.1.2.1.1.1", "1.3.6.1.2.1.1.5.0"])
            bulk = await client.get_bulk(t, ["1.3.6.1.2.1.1.1", "1.3.6.1.2.1.2.2.1.1"], non_repeaters=1,
                                         max_repetitions=3)
            v1_end = await client.get_next(snmpd.target("1"), ["1.3.6.1.9.9.9.9.9"])
            with pytest.raises(SnmpError):
                await client.get_bulk(snmpd.target("1"), ["1.3.6.1.2.1.1"])
            return nxt, bulk, v1_end

    nxt, bulk, v1_end = run(go())
    assert [vb.oid for vb in nxt] == ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.6.0"]
    assert [vb.oid for vb in bulk] == ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.2.2.1.1.1", "1.3.6.1.2.1.2.2.1.1.2",
                                       "1.3.6.1.2.1.2.2.1.1.3"]
    assert v1_end[0].type == "endofmibview"


def test_walk_of_a_leaf_and_of_an_empty_subtree(snmpd):
    async def go():
        async with SnmpClient() as client:
            t = snmpd.target("2c")
            return await client.walk(t, "1.3.6.1.2.1.1.5.0"), await client.walk(t, "1.3.6.1.4.1.99999.42")

    leaf, empty = run(go())
    assert leaf == [Varbind("1.3.6.1.2.1.1.5.0", "octets", b"dcops-test-agent")]
    assert empty == []


def test_counter64_above_2_63_and_controlled_values(snmpd_agent):
    agent = snmpd_agent(values={"1.3.6.1.4.1.99999.1.1.0": ("counter64", 2**63 + 7),
                                "1.3.6.1.4.1.99999.1.2.0": ("counter64", 2**64 - 1),
                                "1.3.6.1.4.1.99999.1.3.0": ("gauge32", 2**32 - 1),
                                "1.3.6.1.4.1.99999.1.4.0": ("integer", -5),
                                "1.3.6.1.4.1.99999.1.5.0": ("ipaddress", "127.0.0.9"),
                                "1.3.6.1.4.1.99999.1.6.0": ("oid", "1.3.6.1.4.1.534")})

    async def go():
        async with SnmpClient() as client:
            return await client.walk(agent.target("2c"), "1.3.6.1.4.1.99999"), \
                await client.walk(agent.target("3", "sha256-aes256"), "1.3.6.1.4.1.99999")

    v2, v3 = run(go())
    assert [(vb.type, vb.value) for vb in v2] == [("counter64", 2**63 + 7), ("counter64", 2**64 - 1),
                                                  ("gauge32", 2**32 - 1), ("integer", -5),
                                                  ("ipaddress", "127.0.0.9"), ("oid", "1.3.6.1.4.1.534")]
    assert v3 == v2


def test_wrong_community_is_a_timeout(snmpd):
    async def go():
        async with SnmpClient() as client:
            await client.get(snmpd.target("2c", community="not-the-community", timeout=0.3, retries=1),
                             ["1.3.6.1.2.1.1.5.0"])

    with pytest.raises(SnmpTimeout):
        run(go())


@pytest.mark.parametrize("override,reason", [
    ({"auth_key": "wrong-auth-password"}, "wrongDigests"),
    ({"username": "nobody"}, "unknownUserNames"),
    ({"priv_key": "wrong-priv-password"}, "wrong privacy password"),
    ({"priv_protocol": "des"}, "wrong privacy password"),
    ({"auth_protocol": "md5"}, "wrongDigests"),
])
def test_wrong_v3_credentials_are_auth_errors(snmpd, override, reason):
    async def go():
        async with SnmpClient() as client:
            await client.get(snmpd.target("3", "sha-aes", timeout=0.5, retries=1, **override), ["1.3.6.1.2.1.1.5.0"])

    with pytest.raises(SnmpAuthError, match=reason):
        run(go())


def test_v3_engine_reboot_resynchronises(snmpd_agent):
    agent = snmpd_agent()

    async def go():
        async with SnmpClient() as client:
            t = agent.target("3", "sha-aes")
            before = await client.get(t, ["1.3.6.1.6.3.10.2.1.2.0"])  # snmpEngineBoots
            await asyncio.to_thread(agent.restart)
            after = await client.get(t, ["1.3.6.1.6.3.10.2.1.2.0"])
            return before[0].value, after[0].value, client.stats

    before, after, stats = run(go())
    assert after == before + 1
    assert stats["time_resyncs"] == 1


def test_many_concurrent_requests_and_targets(snmpd_agent):
    agents = [snmpd_agent(), snmpd_agent()]

    async def go():
        async with SnmpClient() as client:
            jobs = [client.get(a.target(v, "sha-aes" if v == "3" else None), ["1.3.6.1.2.1.1.5.0"])
                    for _ in range(150) for a in agents for v in ("2c", "3")]
            return await asyncio.gather(*jobs), client.stats

    results, stats = run(go())
    assert len(results) == 600
    assert all(r == [Varbind("1.3.6.1.2.1.1.5.0", "octets", b"dcops-test-agent")] for r in results)
    assert stats["timeouts"] == 0


def test_client_outside_a_loop_is_refused():
    with pytest.raises(RuntimeError):
        SnmpClient()


def test_targets_never_show_their_secrets(snmpd):
    target = snmpd.target("3", "sha-aes")
    assert "dcops-auth-secret" not in repr(target) and "dcops-priv-secret" not in str(target)
    assert "public" not in repr(snmpd.target("2c"))
    with pytest.raises(ValueError):
        SnmpTarget("127.0.0.1", version="4")
    with pytest.raises(ValueError):
        SnmpTarget("127.0.0.1", version="3", priv_protocol="aes")


def test_ipv6_loopback(snmpd_agent):
    agent = snmpd_agent(hosts=("::1",))

    async def go():
        async with SnmpClient() as client:
            return [await client.get(agent.target(v, "sha-aes" if v == "3" else None), ["1.3.6.1.2.1.1.5.0"])
                    for v in ("1", "2c", "3")]

    assert asyncio.run(go()) == [[Varbind("1.3.6.1.2.1.1.5.0", "octets", b"dcops-test-agent")]] * 3


def test_v3_clock_skew_resynchronises_once(snmpd):
    async def go():
        async with SnmpClient() as client:
            t = snmpd.target("3", "sha256-aes256")
            await client.get(t, ["1.3.6.1.2.1.1.5.0"])
            (addr, engine), = client._engines.items()
            engine.time += 10_000  # our notion of the agent's clock is now far outside the 150 s window
            got = await client.get(t, ["1.3.6.1.2.1.1.5.0"])
            return got, client.stats

    got, stats = asyncio.run(go())
    assert got == [Varbind("1.3.6.1.2.1.1.5.0", "octets", b"dcops-test-agent")]
    assert stats["time_resyncs"] == 1


def test_no_state_left_behind_after_many_requests(snmpd):
    import tracemalloc

    async def go():
        async with SnmpClient() as client:
            targets = [snmpd.target("2c"), snmpd.target("3", "sha-aes"),
                       snmpd.target("2c", community="wrong", timeout=0.05, retries=0)]

            async def cycle():
                for t in targets:
                    with contextlib.suppress(SnmpTimeout):
                        await client.walk_columns(t, IF_COLUMNS, max_repetitions=10)

            for _ in range(20):
                await cycle()
            tracemalloc.start()
            before = tracemalloc.take_snapshot()
            for _ in range(100):
                await cycle()
            after = tracemalloc.take_snapshot()
            tracemalloc.stop()
            growth = sum(s.size_diff for s in after.compare_to(before, "filename"))
            return growth, client._pending, client._discovering, client.stats

    growth, pending, discovering, stats = asyncio.run(go())
    assert pending == {} and discovering == {}
    assert stats["timeouts"] == 120
    assert growth < 200_000, growth
