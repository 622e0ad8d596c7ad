"""The agent fixtures themselves, checked with net-snmp's command-line tools."""

from __future__ import annotations

from tests.monitoring.agents import netsnmp


def test_snmpd_answers_every_configured_user(snmpd_agent, tmp_path):
    agent = snmpd_agent(sys_name="fixture-check")
    assert "fixture-check" in netsnmp("snmpget", agent, "1.3.6.1.2.1.1.5.0", tmp=tmp_path)
    for name in agent.users:
        out = netsnmp("snmpget", agent, "1.3.6.1.2.1.1.5.0", version="3", user=name, tmp=tmp_path)
        assert '"fixture-check"' in out, name


def test_snmpd_serves_values_the_test_moves(snmpd_agent, tmp_path):
    agent = snmpd_agent(values={"1.3.6.1.2.1.33.1.2.4.0": ("integer", 95)})
    assert "INTEGER: 95" in netsnmp("snmpget", agent, "1.3.6.1.2.1.33.1.2.4.0", tmp=tmp_path)
    agent.set_values({"1.3.6.1.2.1.33.1.2.4.0": ("integer", 12),
                      "1.3.6.1.4.1.2021.13.16.2.1.3.1": ("gauge32", 71000),
                      "1.3.6.1.4.1.99999.1.0": ("counter64", 2**64 - 2)})
    assert "INTEGER: 12" in netsnmp("snmpget", agent, "1.3.6.1.2.1.33.1.2.4.0", tmp=tmp_path)
    assert "Gauge32: 71000" in netsnmp("snmpwalk", agent, "1.3.6.1.4.1.2021.13.16", tmp=tmp_path)
    assert "Counter64: 18446744073709551614" in netsnmp("snmpget", agent, "1.3.6.1.4.1.99999.1.0", tmp=tmp_path)


def test_snmpd_restart_resets_uptime(snmpd_agent, tmp_path):
    agent = snmpd_agent()
    agent.restart()
    assert "Timeticks" in netsnmp("snmpget", agent, "1.3.6.1.2.1.1.3.0", tmp=tmp_path)


def test_snmpsim_serves_recording_by_community_and_context(snmpsim_agent, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "switch.snmprec").write_text("1.3.6.1.2.1.1.1.0|4|Test switch\n1.3.6.1.2.1.1.3.0|67|12345\n")
    agent = snmpsim_agent(data)
    assert agent.community == "switch"
    assert '"Test switch"' in netsnmp("snmpget", agent, "1.3.6.1.2.1.1.1.0", tmp=tmp_path)
    out = netsnmp("snmpget", agent, "1.3.6.1.2.1.1.3.0", version="3", context="switch", tmp=tmp_path)
    assert "12345" in out
