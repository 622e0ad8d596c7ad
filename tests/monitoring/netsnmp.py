"""Reference reads with net-snmp's command-line tools, parsed into dcops Varbinds for comparison."""

from __future__ import annotations

import subprocess
from pathlib import Path

from dcops.monitoring.snmp import Varbind
from tests.monitoring.agents import Agent

_LEVEL = {"noauth": "noAuthNoPriv", "auth": "authNoPriv", "priv": "authPriv"}
_AUTH = {"md5": "MD5", "sha": "SHA", "sha224": "SHA-224", "sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512"}
_PRIV = {"des": "DES", "aes": "AES", "aes192": "AES-192", "aes256": "AES-256"}
_TYPES = {"INTEGER": "integer", "Hex-STRING": "octets", "STRING": "octets", "OID": "oid", "IpAddress": "ipaddress",
          "Counter32": "counter32", "Gauge32": "gauge32", "Timeticks": "timeticks", "Counter64": "counter64",
          "Opaque": "opaque", "OPAQUE": "opaque"}
_EXCEPTIONS = {"No Such Object": "nosuchobject", "No Such Instance": "nosuchinstance",
               "No more variables": "endofmibview"}


def netsnmp(tool: str, agent: Agent, *args: str, version: str = "2c", user: str | None = None,
            context: str = "", tmp: Path | None = None) -> str:
    """Run snmpget/snmpwalk/... -On against agent and return stdout (raises on failure)."""
    argv = [tool, "-On", "-r", "1", "-t", "3"]
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


def reference(tool: str, agent: Agent, oid: str, **kwargs) -> list[Varbind]:
    """Return what net-snmp reads (-Ox -Oe: strings in hex, no enum names) as Varbinds."""
    got = parse(netsnmp(tool, agent, "-Ox", "-Oe", oid, **kwargs))
    if tool == "snmpwalk" and got and got[-1].type == "endofmibview":  # snmpwalk prints where the MIB ended
        got.pop()
    return got


def parse(text: str) -> list[Varbind]:
    """Parse ``snmpwalk -On -Ox -Oe`` output (hex strings may continue on following lines)."""
    entries: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith(".") and " = " in line:
            entries.append(line.split(" = ", 1))
        elif entries:
            entries[-1][1] += " " + line
    out = []
    for oid, rest in entries:
        oid = oid.lstrip(".")
        kind = next((v for k, v in _EXCEPTIONS.items() if rest.startswith(k)), None)
        if kind:
            out.append(Varbind(oid, kind, None))
            continue
        if rest.strip() == '""':
            out.append(Varbind(oid, "octets", b""))
            continue
        name, _, value = rest.partition(": ")
        kind = _TYPES[name]
        value = value.strip()
        if kind in ("octets", "opaque"):
            parsed: object = bytes.fromhex(value.replace(" ", "")) if name != "STRING" else value.strip('"').encode()
        elif kind == "oid":
            parsed = value.lstrip(".")
        elif kind == "ipaddress":
            parsed = value
        elif kind == "timeticks":
            parsed = int(value.split(")")[0].strip("("))
        else:
            parsed = int(value)
        out.append(Varbind(oid, kind, parsed))
    return out


#: types whose values move between two reads of a live agent
MOVING = frozenset({"timeticks", "counter32", "counter64", "gauge32"})


def stable(varbinds: list[Varbind]) -> list[tuple]:
    """Return (oid, type, value) with the values that move between two reads blanked."""
    return [(vb.oid, vb.type, None if vb.type in MOVING else vb.value) for vb in varbinds]
