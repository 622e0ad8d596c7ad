"""Each alert rule fires AND resolves against a real agent: net-snmp snmpd whose values the test moves between
polls (pass_persist), polled by the real poller (``poll_device``), evaluated by the real alert service.

``for:`` durations are set to zero here (the pure engine tests cover them); ``for_polls`` stays (unreachable needs
three failed polls in a row), and occurrence rules resolve at the first poll without a new occurrence.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from dcops.auth.actor import SYSTEM
from dcops.dcim.service import save_credential
from dcops.monitoring.alert_models import Alert, AlertState
from dcops.monitoring.poller import PollerOptions, poll_device
from dcops.monitoring.rules import load_rules, set_rules
from dcops.monitoring.state_models import Interface, MonitoringSetting

OPTIONS = PollerOptions(timeout_s=3.0, retries=1)  # generous: pass_persist answers slowly on a busy machine
FAIL_FAST = PollerOptions(timeout_s=0.5, retries=0)
UPS, ENT, LM = "1.3.6.1.2.1.33.1", "1.3.6.1.2.1.47.1.1.1.1", "1.3.6.1.4.1.2021.13.16.2.1"
IF, IFX, HR = "1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.31.1.1.1", "1.3.6.1.2.1.25"


@pytest.fixture(autouse=True)
def quick_rules() -> Iterator[None]:
    rules = [replace(r, for_s=0.0, clear_after=0.0 if r.clear_after is not None else None) for r in load_rules()]
    set_rules(rules)
    yield
    set_rules(None)


@pytest.fixture
def monitored(session: Any, factory: Any) -> Any:
    """Return a function adding an inventory device polled at an agent's address and port."""
    cred = save_credential(session, actor=SYSTEM, data={"name": "ro-v2c", "kind": "snmp_v2c", "community": "public"})

    def add(agent: Any, **kw: Any) -> Any:
        device = factory.device(mgmt_address="127.0.0.1", snmp_credential_id=cred.id, **kw)
        session.add(MonitoringSetting(device_id=device.id, snmp_port=agent.port))
        session.commit()
        return device

    return add


def poll(device: Any, options: PollerOptions = OPTIONS) -> Any:
    return asyncio.run(poll_device(device.id, options=options))


def rows(stmt: Any) -> list[Any]:
    """Read in a short transaction of its own (an open SQLite transaction would block the poller's writes)."""
    from sqlmodel import Session

    from dcops.database import get_engine

    with Session(get_engine()) as s:
        return list(s.execute(stmt).scalars().all())


def firing(session: Any, device: Any) -> set[tuple[str, str]]:
    found = rows(select(Alert).where(Alert.device_id == device.id,
                                     Alert.state.in_((AlertState.FIRING, AlertState.ACKNOWLEDGED))))
    return {(a.rule, a.subject) for a in found}


def test_ups_rules_security_rules_reboot_and_unreachable(db: str, session: Any, snmpd_agent: Any,
                                                          monitored: Any) -> None:
    agent = snmpd_agent()
    normal = {
        f"{UPS}.1.2.0": ("octets", "Smart-UPS 3000"), f"{UPS}.1.3.0": ("octets", "fw 1.0"),
        f"{UPS}.4.1.0": ("integer", 3), f"{UPS}.2.4.0": ("integer", 100), f"{UPS}.2.3.0": ("integer", 60),
        f"{ENT}.5.1": ("integer", 3), f"{ENT}.11.1": ("octets", "UPS-SN-1"), f"{ENT}.13.1": ("octets", "SMT3000"),
        f"{LM}.2.1": ("octets", "inlet"), f"{LM}.3.1": ("gauge32", 25000),
    }
    agent.set_values(normal)
    ups = monitored(agent, name="ups-live", role="ups", serial="UPS-SN-1")
    first = poll(ups)
    assert first.reachable, first.error
    assert firing(session, ups) == set()

    agent.set_values({f"{UPS}.4.1.0": ("integer", 5), f"{UPS}.2.4.0": ("integer", 35), f"{UPS}.2.3.0": ("integer", 4),
                      f"{UPS}.1.3.0": ("octets", "fw 6.6-unsigned"), f"{ENT}.11.1": ("octets", "SWAPPED-99"),
                      f"{LM}.3.1": ("gauge32", 61000)})
    for _ in range(30):  # wrong communities, really sent: snmpd counts snmpInBadCommunityNames
        subprocess.run(["snmpget", "-v2c", "-c", "guess-me", "-t", "0.05", "-r", "0", agent.address,
                        "1.3.6.1.2.1.1.5.0"], capture_output=True, timeout=10)
    poll(ups)
    assert firing(session, ups) == {
        ("ups_on_battery", ""), ("ups_battery_low", ""), ("ups_runtime_low", ""), ("temperature_high", "inlet"),
        ("firmware_changed", "firmware"), ("hardware_swapped", ""), ("snmp_bad_community_rising", ""),
    }
    (swapped,) = rows(select(Alert).where(Alert.rule == "hardware_swapped"))
    assert swapped.summary == "ups-live reports serial SWAPPED-99, inventory says UPS-SN-1"

    agent.set_values(normal)  # back on mains, original hardware; the firmware change back is one more change
    time.sleep(1.5)
    poll(ups)
    assert firing(session, ups) == {("firmware_changed", "firmware")}
    poll(ups)
    assert firing(session, ups) == set()

    agent.restart()  # a real reboot: sysUpTime starts again
    poll(ups)
    assert firing(session, ups) == {("unexpected_reboot", "")}
    poll(ups)
    assert firing(session, ups) == set()

    agent.pause()  # SIGSTOP: the agent stops answering
    try:
        for expected in (set(), set(), {("device_unreachable", "")}):
            assert not poll(ups, FAIL_FAST).reachable
            assert firing(session, ups) == expected
    finally:
        agent.resume()
    assert poll(ups).reachable
    assert firing(session, ups) == set()
    resolved = rows(select(Alert.rule).where(Alert.device_id == ups.id, Alert.state == "resolved"))
    assert {"ups_on_battery", "device_unreachable", "unexpected_reboot", "hardware_swapped",
            "snmp_bad_community_rising", "temperature_high"} <= set(resolved)


def _interfaces(ifs: dict[int, tuple[str, int, int]], counters: dict[int, tuple[int, int, int]]
                ) -> dict[str, tuple[str, Any]]:
    values: dict[str, tuple[str, Any]] = {}
    for index, (name, admin, oper) in ifs.items():
        octets, errors, discards = counters.get(index, (0, 0, 0))
        values |= {
            f"{IF}.1.{index}": ("integer", index), f"{IF}.2.{index}": ("octets", name),
            f"{IF}.5.{index}": ("gauge32", 10_000_000), f"{IF}.7.{index}": ("integer", admin),
            f"{IF}.8.{index}": ("integer", oper), f"{IF}.10.{index}": ("counter32", octets % 2**32),
            f"{IF}.13.{index}": ("counter32", discards), f"{IF}.14.{index}": ("counter32", errors),
            f"{IF}.16.{index}": ("counter32", 0), f"{IF}.19.{index}": ("counter32", 0),
            f"{IF}.20.{index}": ("counter32", 0),
            f"{IFX}.1.{index}": ("octets", name), f"{IFX}.6.{index}": ("counter64", octets),
            f"{IFX}.10.{index}": ("counter64", 0), f"{IFX}.15.{index}": ("gauge32", 10),
        }
    return values


def ours(session: Any, device: Any) -> set[tuple[str, str]]:
    """The alerts about the test's interfaces (the host's own interfaces show through snmpd as well)."""
    return {a for a in firing(session, device) if a[1].startswith("ge-")}


def test_switch_interface_rules(db: str, session: Any, snmpd_agent: Any, monitored: Any) -> None:
    # registered exactly where snmpd registers ifTable/ifXTable, at a higher priority: the test's values win
    agent = snmpd_agent(pass_roots=("1.3.6.1.2.1.2.2", "1.3.6.1.2.1.31.1.1"))
    ifs = {1001: ("ge-0/0/1", 1, 1), 1002: ("ge-0/0/2", 1, 1), 1009: ("ge-0/0/9", 2, 2)}
    agent.set_values(_interfaces(ifs, {}))
    sw = monitored(agent, name="sw-live", role="switch")
    assert poll(sw).reachable
    assert ours(session, sw) == set()
    names = [i.name for i in rows(select(Interface).where(Interface.device_id == sw.id))]
    assert "ge-0/0/9" in names, names
    iface = session.execute(select(Interface).where(Interface.device_id == sw.id, Interface.name == "ge-0/0/9")
                            ).scalar_one()
    iface.unused = True  # operators flag the port that must stay down
    session.commit()
    session.close()

    # ge-0/0/2 goes down, the unused ge-0/0/9 comes up, ge-0/0/1 takes errors, discards and ~97 % of 10 Mb/s
    started = time.time()
    ifs |= {1002: ("ge-0/0/2", 1, 2), 1009: ("ge-0/0/9", 1, 1)}
    wanted = {("interface_down", "ge-0/0/2"), ("unused_port_up", "ge-0/0/9"), ("interface_errors", "ge-0/0/1"),
              ("interface_discards", "ge-0/0/1"), ("link_utilization", "ge-0/0/1")}
    octets, errors, discards = 0, 0, 0
    for _ in range(4):  # the octets for ~97 % depend on the time between polls: aim, poll, look
        time.sleep(2.0)
        octets += int(0.97 * 10_000_000 / 8 * (time.time() - started))
        errors, discards = errors + 5000, discards + 50000
        agent.set_values(_interfaces(ifs, {1001: (octets, errors, discards)}))
        started = time.time()
        poll(sw)
        if ours(session, sw) == wanted:
            break
    assert ours(session, sw) == wanted

    ifs |= {1002: ("ge-0/0/2", 1, 1), 1009: ("ge-0/0/9", 2, 2)}
    agent.set_values(_interfaces(ifs, {1001: (octets, errors, discards)}))  # counters stand still
    time.sleep(1.0)
    poll(sw)
    assert ours(session, sw) == set()


def _recording(cpu: int, disk_used_percent: int, ram_used_percent: int) -> str:
    """Return an snmpsim recording of a hypervisor with these loads (HOST-RESOURCES-MIB)."""
    lines = [
        "1.3.6.1.2.1.1.1.0|4|Linux hv-live 6.1.0-amd64 x86_64",
        "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.8072.3.2.10",
        "1.3.6.1.2.1.1.3.0|67|123456",
        "1.3.6.1.2.1.1.5.0|4|hv-live",
        f"{HR}.2.3.1.1.1|2|1", f"{HR}.2.3.1.1.2|2|2",
        f"{HR}.2.3.1.2.1|6|{HR}.2.1.2", f"{HR}.2.3.1.2.2|6|{HR}.2.1.4",
        f"{HR}.2.3.1.3.1|4|Physical memory", f"{HR}.2.3.1.3.2|4|/var/lib/libvirt",
        f"{HR}.2.3.1.4.1|2|1024", f"{HR}.2.3.1.4.2|2|4096",
        f"{HR}.2.3.1.5.1|2|1000000", f"{HR}.2.3.1.5.2|2|2000000",
        f"{HR}.2.3.1.6.1|2|{ram_used_percent * 10000}", f"{HR}.2.3.1.6.2|2|{disk_used_percent * 20000}",
        f"{HR}.3.3.1.2.196608|2|{cpu}", f"{HR}.3.3.1.2.196609|2|{cpu}",
    ]
    return "\n".join(lines) + "\n"


def test_host_resource_rules(db: str, session: Any, snmpsim_agent: Any, monitored: Any, tmp_path: Any) -> None:
    # snmpd's own HOST-RESOURCES tables cannot be shadowed, so this agent is snmpsim with one recording per
    # state; the device's community picks the recording, as snmpsim does
    data = tmp_path / "recordings"
    data.mkdir()
    for name, loads in {"hv-normal": (20, 40, 50), "hv-busy": (97, 95, 99), "hv-band": (85, 87, 92)}.items():
        (data / f"{name}.snmprec").write_text(_recording(*loads))
    agent = snmpsim_agent(data, community="hv-normal")
    hv = monitored(agent, name="hv-live", role="hypervisor")
    cred_id = hv.snmp_credential_id

    def use(recording: str) -> None:
        save_credential(session, actor=SYSTEM, data={"community": recording}, id=cred_id)
        session.close()

    slow = OPTIONS  # snmpsim indexes a recording on its first use
    use("hv-normal")
    assert poll(hv, slow).reachable
    assert firing(session, hv) == set()
    use("hv-busy")
    assert poll(hv, slow).reachable
    assert firing(session, hv) == {("cpu_high", ""), ("storage_full", "/var/lib/libvirt"), ("memory_high", "")}
    use("hv-band")  # inside every hysteresis band: still firing
    assert poll(hv, slow).reachable
    assert len(firing(session, hv)) == 3
    use("hv-normal")
    assert poll(hv, slow).reachable
    assert firing(session, hv) == set()


def test_rack_power_over_budget_from_pdu_readings(db: str, session: Any, snmpd_agent: Any, monitored: Any,
                                                  factory: Any) -> None:
    agent = snmpd_agent(pass_roots=("1.3.6.1.4.1.318",), extra_config="sysObjectID .1.3.6.1.4.1.318.1.3.4.5")
    agent.set_value("1.3.6.1.4.1.318.1.1.12.1.16.0", "integer", 3000)
    rack = factory.rack(name="R-PWR", power_budget_w=5000)
    pdu = monitored(agent, name="pdu-live", role="pdu", rack=rack, position=1)

    def rack_alerts() -> set[str]:
        return {a.subject for a in rows(select(Alert).where(Alert.rule == "rack_power_over_budget",
                                                            Alert.state == AlertState.FIRING))}

    assert poll(pdu).reachable
    assert rack_alerts() == set()
    agent.set_value("1.3.6.1.4.1.318.1.1.12.1.16.0", "integer", 5600)
    poll(pdu)
    assert rack_alerts() == {"R-PWR"}
    (alert,) = rows(select(Alert).where(Alert.rule == "rack_power_over_budget"))
    assert alert.summary == "rack R-PWR draws 112% of its power budget" and alert.device_id is None
    agent.set_value("1.3.6.1.4.1.318.1.1.12.1.16.0", "integer", 4900)  # 98 %: inside the band
    poll(pdu)
    assert rack_alerts() == {"R-PWR"}
    agent.set_value("1.3.6.1.4.1.318.1.1.12.1.16.0", "integer", 4000)
    poll(pdu)
    assert rack_alerts() == set()
