"""The agent fixtures themselves, checked with net-snmp's command-line tools."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.monitoring.agents import Agent

_LEVEL = {"noauth": "noAuthNoPriv", "auth": "authNoPriv", "priv": "authPriv"}
_AUTH = {"md5": "MD5", "sha": "SHA", "sha224": "SHA-224", "sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512"}
_PRIV = {"des": "DES", "aes": "AES", "aes192": "AES-192", "aes256": "AES-256"}


def netsnmp(tool: str, agent: Agent, *args: str, version: str = "2c", user: str | None = None,
            context: str = "", tmp: Path | None = None) -> str:
    """Run snmpget/snmpwalk/... -On against agent and return stdout (raises on failure)."""
    argv = [tool, "-On", "-r", "1", "-t", "2"]
    if version == "3":
        u = agent.users[user] if user else next(iter(agent.users.values()))
        argv += ["-v3", "-u", u.name, "-l", _LEVEL[u.level]]
        if u.auth_protocol != "none":
            argv += ["-a", _AUTH[u.auth_protocol], "-A", u.auth_key]
        if u.priv_protocol != "none":
            argv += ["-x", _PRIV[u.priv_protocol], "-X", u.priv_key]
        if context:
            argv += ["-n", context]
    else:
        argv += [f"-v{version}", "-c", agent.community]
    env = {"MIBS": "", "PATH": "/usr/bin:/bin"}
    if tmp is not None:
        env["SNMP_PERSISTENT_DIR"] = str(tmp)
    out = subprocess.run([*argv, agent.address, *args], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


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
