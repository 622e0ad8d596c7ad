"""Start real SNMP agents for tests: net-snmp ``snmpd`` and ``snmpsim``, on free loopback UDP ports.

``netsnmp(...)`` / ``reference(...)`` read an agent with net-snmp's own snmpget/snmpwalk, for comparison.

``start_snmpd(tmp_dir, ...)`` writes an snmpd configuration (communities, v3 users of every security
level, a persistent directory) and a ``pass_persist`` script that serves values the test controls
through ``Agent.set_value`` / ``Agent.set_values`` (read from a JSON file on every request, so a test
can move a temperature or a UPS figure between two polls). ``start_snmpsim(data_dir, tmp_dir)``
serves ``.snmprec`` recordings. Both wait until the agent answers an SNMPv3 discovery probe.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcops.monitoring.snmp import Varbind

SNMPD = "/usr/sbin/snmpd"

#: subtrees the pass_persist script answers for by default (values appear only where the test sets them)
DEFAULT_PASS_ROOTS = (
    "1.3.6.1.2.1.33",  # UPS-MIB (RFC 1628)
    "1.3.6.1.2.1.99",  # ENTITY-SENSOR-MIB
    "1.3.6.1.2.1.47",  # ENTITY-MIB
    "1.3.6.1.4.1.534",  # Eaton XUPS-MIB
    "1.3.6.1.4.1.2021.13.16",  # LM-SENSORS-MIB
    "1.3.6.1.4.1.99999",  # dcops test enterprise
)

#: client type name (dcops.monitoring.snmp Varbind.type) -> net-snmp pass type
PASS_TYPES = {
    "integer": "integer",
    "gauge32": "gauge",
    "counter32": "counter",
    "counter64": "counter64",
    "timeticks": "timeticks",
    "ipaddress": "ipaddress",
    "oid": "objectid",
    "octets": "string",
    "hex": "octet",
}


@dataclass(frozen=True)
class V3User:
    """An SNMPv3 USM user configured on an agent; protocols use the client's names."""

    name: str
    auth_protocol: str = "none"  # none, md5, sha, sha224, sha256, sha384, sha512
    auth_key: str = ""
    priv_protocol: str = "none"  # none, des, aes, aes192, aes256
    priv_key: str = ""

    @property
    def level(self) -> str:
        """Return the net-snmp security level: noauth, auth or priv."""
        if self.auth_protocol == "none":
            return "noauth"
        return "auth" if self.priv_protocol == "none" else "priv"


AUTH_PASS = "dcops-auth-secret"
PRIV_PASS = "dcops-priv-secret"

#: the v3 users every snmpd fixture has unless the test gives its own
DEFAULT_USERS = (
    V3User("sha-aes", "sha", AUTH_PASS, "aes", PRIV_PASS),
    V3User("sha224-aes192", "sha224", AUTH_PASS, "aes192", PRIV_PASS),
    V3User("sha256-aes256", "sha256", AUTH_PASS, "aes256", PRIV_PASS),
    V3User("sha384-aes256", "sha384", AUTH_PASS, "aes256", PRIV_PASS),
    V3User("sha512-aes256", "sha512", AUTH_PASS, "aes256", PRIV_PASS),
    V3User("md5-des", "md5", AUTH_PASS, "des", PRIV_PASS),
    V3User("sha-aes256", "sha", AUTH_PASS, "aes256", PRIV_PASS),  # needs the key extension
    V3User("md5-aes192", "md5", AUTH_PASS, "aes192", PRIV_PASS),  # needs the key extension
    V3User("sha-auth", "sha", AUTH_PASS),
    V3User("md5-auth", "md5", AUTH_PASS),
    V3User("noauth"),
)

_NETSNMP_AUTH = {"md5": "MD5", "sha": "SHA", "sha224": "SHA-224", "sha256": "SHA-256", "sha384": "SHA-384",
                 "sha512": "SHA-512"}
_NETSNMP_PRIV = {"des": "DES", "aes": "AES", "aes192": "AES-192", "aes256": "AES-256"}

_PASS_SCRIPT = r'''
import json, sys

VALUES = sys.argv[1]


def key(oid):
    return tuple(int(p) for p in oid.strip(".").split(".") if p)


def load():
    try:
        with open(VALUES) as fh:
            raw = json.load(fh)
    except (OSError, ValueError):
        return {}
    return {key(o): v for o, v in raw.items()}


def answer(oid, entry):
    kind, value = entry
    sys.stdout.write("." + ".".join(map(str, oid)) + "\n" + kind + "\n" + str(value) + "\n")


for line in sys.stdin:
    cmd = line.strip()
    if cmd == "PING":
        sys.stdout.write("PONG\n")
    elif cmd in ("get", "getnext"):
        oid = key(sys.stdin.readline())
        values = load()
        if cmd == "get":
            if oid in values:
                answer(oid, values[oid])
            else:
                sys.stdout.write("NONE\n")
        else:
            later = sorted(o for o in values if o > oid)
            if later:
                answer(later[0], values[later[0]])
            else:
                sys.stdout.write("NONE\n")
    elif cmd == "set":
        sys.stdin.readline(); sys.stdin.readline()
        sys.stdout.write("not-writable\n")
    elif cmd == "":
        break
    sys.stdout.flush()
'''


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _endpoint(host: str, port: int) -> str:
    return f"udp6:[{host}]:{port}" if ":" in host else f"udp:{host}:{port}"


def free_udp_port(host: str = "127.0.0.1") -> int:
    """Return a UDP port that is free on host right now."""
    with socket.socket(_family(host), socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + body


def _int(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))


def discovery_probe(request_id: int = 4242) -> bytes:
    """Return an SNMPv3 engine-discovery GET: every v3-capable agent answers it with a report."""
    usm = _tlv(0x30, _tlv(0x04, b"") + _int(0) + _int(0) + _tlv(0x04, b"") * 3)
    header = _tlv(0x30, _int(request_id) + _int(65507) + _tlv(0x04, b"\x04") + _int(3))
    pdu = _tlv(0xA0, _int(request_id) + _int(0) + _int(0) + _tlv(0x30, b""))
    scoped = _tlv(0x30, _tlv(0x04, b"") + _tlv(0x04, b"") + pdu)
    return _tlv(0x30, _int(3) + header + _tlv(0x04, usm) + scoped)


def wait_until_answers(host: str, port: int, timeout: float = 20.0, proc: subprocess.Popen | None = None,
                       log: Path | None = None) -> None:
    """Send discovery probes until the agent at host:port answers; raise RuntimeError on timeout."""
    deadline = time.monotonic() + timeout
    with socket.socket(_family(host), socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
                raise RuntimeError(f"agent exited with {proc.returncode} before answering:\n{tail}")
            try:
                sock.sendto(discovery_probe(), (host, port))
                sock.recvfrom(65535)
                return
            except OSError:  # timeout, or ICMP port unreachable while the agent binds
                time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    raise RuntimeError(f"agent at {host}:{port} did not answer within {timeout}s\n{tail}")


@dataclass
class Agent:
    """A running agent: where it listens, how to authenticate, and how to control or stop it."""

    kind: str  # "snmpd" or "snmpsim"
    host: str
    port: int
    community: str = ""
    users: dict[str, V3User] = field(default_factory=dict)
    hosts: tuple[str, ...] = ()  # every address it listens on (benchmarks emulate N devices)
    workdir: Path | None = None
    values_file: Path | None = None
    log: Path | None = None
    _argv: list[str] = field(default_factory=list, repr=False)
    _env: dict[str, str] = field(default_factory=dict, repr=False)
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def user(self, name: str) -> V3User:
        """Return the configured v3 user called name."""
        return self.users[name]

    def target(self, version: str = "2c", user: str | None = None, host: str | None = None, **overrides: Any):
        """Return a dcops.monitoring.snmp.SnmpTarget for this agent (v1/v2c with its community, v3 with a user)."""
        from dcops.monitoring.snmp import SnmpTarget

        kwargs: dict[str, Any] = {"host": host or self.host, "port": self.port, "version": version}
        if version == "3":
            u = self.users[user] if user else next(iter(self.users.values()))
            kwargs.update(username=u.name, auth_protocol=u.auth_protocol, auth_key=u.auth_key,
                          priv_protocol=u.priv_protocol, priv_key=u.priv_key)
        else:
            kwargs["community"] = self.community
        kwargs.update(overrides)
        return SnmpTarget(**kwargs)

    # --- values served by the pass_persist script (snmpd only) ---
    def _read_values(self) -> dict[str, list]:
        assert self.values_file is not None, "only snmpd agents serve controllable values"
        try:
            return json.loads(self.values_file.read_text())
        except (OSError, ValueError):
            return {}

    def set_values(self, values: dict[str, tuple[str, Any]]) -> None:
        """Set several OIDs at once: {oid: (type, value)}, type as in Varbind.type (or "hex")."""
        current = self._read_values()
        for oid, (kind, value) in values.items():
            current[oid.strip(".")] = [PASS_TYPES.get(kind, kind), value]
        tmp = self.values_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(current))
        os.replace(tmp, self.values_file)  # atomic: the script never reads half a file

    def set_value(self, oid: str, kind: str, value: Any) -> None:
        """Set one OID served by this agent, e.g. set_value("1.3.6.1.2.1.33.1.2.4.0", "integer", 35)."""
        self.set_values({oid: (kind, value)})

    def delete_value(self, oid: str) -> None:
        """Stop serving oid."""
        current = self._read_values()
        current.pop(oid.strip("."), None)
        self.values_file.write_text(json.dumps(current))

    # --- life cycle ---
    def start(self, timeout: float = 20.0) -> Agent:
        """Start (or restart) the process and wait until it answers."""
        logfh = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(self._argv, stdout=logfh, stderr=subprocess.STDOUT,
                                            env={**os.environ, **self._env}, start_new_session=True)
        finally:
            if logfh is not subprocess.DEVNULL:
                logfh.close()
        for host in self.hosts or (self.host,):
            wait_until_answers(host, self.port, timeout, self.process, self.log)
        return self

    def stop(self) -> None:
        """Stop the agent (its whole process group) and wait for it."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def restart(self) -> None:
        """Stop and start again on the same port: sysUpTime goes back, snmpEngineBoots goes up."""
        self.stop()
        self.start()

    def pause(self) -> None:
        """Freeze the agent (SIGSTOP): it stops answering without closing its port."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Undo pause()."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGCONT)


def snmpd_config(*, hosts: tuple[str, ...], port: int, communities: tuple[str, ...], users: tuple[V3User, ...],
                 pass_roots: tuple[str, ...], pass_command: str, sys_name: str, sys_descr: str | None,
                 sys_location: str, sys_contact: str, engine_id: str | None, extra: str) -> str:
    """Return the text of an snmpd.conf for a test agent."""
    lines = [
        "dontLogTCPWrappersConnects yes",
        "view all included .1",
        f"sysName {sys_name}",
        f"sysLocation {sys_location}",
        f"sysContact {sys_contact}",
        "sysServices 72",
    ]
    if sys_descr:
        lines.append(f"sysDescr {sys_descr}")
    if engine_id:
        lines.append(f"engineID {engine_id}")
    for community in communities:
        lines.append(f"rocommunity {community} 127.0.0.0/8 -V all")
        lines.append(f"rocommunity6 {community} ::1/128 -V all")
    for u in users:
        line = f"createUser {u.name}"
        if u.auth_protocol != "none":
            line += f' {_NETSNMP_AUTH[u.auth_protocol]} "{u.auth_key}"'
            if u.priv_protocol != "none":
                line += f' {_NETSNMP_PRIV[u.priv_protocol]} "{u.priv_key}"'
        lines.append(line)
        lines.append(f"rouser -s usm {u.name} {u.level} -V all")
    for root in pass_roots:
        lines.append(f"pass_persist -p 1 .{root.strip('.')} {pass_command}")
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


def start_snmpd(workdir: Path, *, hosts: tuple[str, ...] = ("127.0.0.1",), port: int | None = None,
                communities: tuple[str, ...] = ("public",), users: tuple[V3User, ...] = DEFAULT_USERS,
                values: dict[str, tuple[str, Any]] | None = None, pass_roots: tuple[str, ...] = DEFAULT_PASS_ROOTS,
                sys_name: str = "dcops-test-agent", sys_descr: str | None = None,
                sys_location: str = "Jakarta DC1 hall A", sys_contact: str = "noc@example.org",
                engine_id: str | None = None, extra_config: str = "", timeout: float = 20.0) -> Agent:
    """Write a configuration into workdir, start snmpd on loopback and wait until it answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "persist").mkdir(exist_ok=True)
    port = port or free_udp_port(hosts[0])
    values_file = workdir / "values.json"
    script = workdir / "pass_persist.py"
    script.write_text(_PASS_SCRIPT)
    conf = workdir / "snmpd.conf"
    conf.write_text(snmpd_config(
        hosts=hosts, port=port, communities=communities, users=users, pass_roots=pass_roots,
        pass_command=f"{sys.executable} {script} {values_file}", sys_name=sys_name, sys_descr=sys_descr,
        sys_location=sys_location, sys_contact=sys_contact, engine_id=engine_id, extra=extra_config))
    # lmsensorsMib would shadow the LM-SENSORS values the test serves; smux would fight over TCP port 199
    # no -C: snmpd must read its persistent file (snmpEngineBoots goes up on restart); SNMPCONFPATH keeps
    # it away from /etc/snmp
    argv = [SNMPD, "-f", "-Lo", "-c", str(conf), "-m", "", "-M", str(workdir / "no-mibs"),
            "-I", "-lmsensorsMib,smux", "-p", str(workdir / "snmpd.pid"), f"--persistentDir={workdir / 'persist'}",
            ",".join(_endpoint(h, port) for h in hosts)]
    agent = Agent(kind="snmpd", host=hosts[0], port=port, community=communities[0] if communities else "",
                  users={u.name: u for u in users}, hosts=hosts, workdir=workdir, values_file=values_file,
                  log=workdir / "snmpd.log", _argv=argv,
                  _env={"MIBS": "", "SNMP_PERSISTENT_DIR": str(workdir / "persist"),
                        "SNMPCONFPATH": str(workdir / "persist")})
    values_file.write_text("{}")
    if values:
        agent.set_values(values)
    return agent.start(timeout)


def start_snmpsim(data_dir: Path, workdir: Path, *, host: str = "127.0.0.1", port: int | None = None,
                  community: str | None = None, v3_user: V3User | None = None, timeout: float = 60.0) -> Agent:
    """Start snmpsim-command-responder serving data_dir's .snmprec files and wait until it answers.

    The community of a recording is its path under data_dir without ``.snmprec``; the default is the
    only (or first) recording. A v3 user (default SHA/AES128) reaches the recordings by context name.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_udp_port(host)
    recordings = sorted(p.relative_to(data_dir).with_suffix("").as_posix() for p in data_dir.rglob("*.snmprec"))
    if community is None:
        community = recordings[0] if recordings else "public"
    v3 = v3_user or V3User("simulator", "sha", "auctoritas", "aes", "privatus")
    auth = {"none": "NONE", "md5": "MD5", "sha": "SHA", "sha224": "SHA224", "sha256": "SHA256",
            "sha384": "SHA384", "sha512": "SHA512"}[v3.auth_protocol]
    priv = {"none": "NONE", "des": "DES", "aes": "AES", "aes192": "AES192BLMT",
            "aes256": "AES256BLMT"}[v3.priv_protocol]
    exe = Path(sys.executable).with_name("snmpsim-command-responder")
    argv = [str(exe) if exe.exists() else "snmpsim-command-responder", f"--data-dir={data_dir}",
            f"--cache-dir={workdir / 'cache'}", "--logging-method=stderr", "--log-level=error",
            f"--agent-udpv4-endpoint={host}:{port}", f"--v3-user={v3.name}", f"--v3-auth-proto={auth}",
            f"--v3-priv-proto={priv}"]
    if v3.auth_protocol != "none":
        argv.append(f"--v3-auth-key={v3.auth_key}")
    if v3.priv_protocol != "none":
        argv.append(f"--v3-priv-key={v3.priv_key}")
    agent = Agent(kind="snmpsim", host=host, port=port, community=community, users={v3.name: v3}, hosts=(host,),
                  workdir=workdir, log=workdir / "snmpsim.log", _argv=argv, _env={"SNMPSIM_ALLOW_ROOT": "true"})
    return agent.start(timeout)


# ------------------------------------------------------------------ reference reads with net-snmp's tools

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
