"""SSH to hypervisors: fetch and pin host keys (paramiko), pre-flight checks and read-only commands (OpenSSH).

Commands run through the same persisting OpenSSH master connection as the playbook runs (:mod:`runner`), so a
pre-flight opens the connection the job's tasks then reuse instead of paying a second handshake.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import paramiko

from dcops.exceptions import ConflictError, ValidationError

CONNECT_TIMEOUT = 10.0
CONTROL_PERSIST_S = 60  # an SSH master connection outlives its last use this long, for the next command or run
BAD_KEY = "the SSH private key cannot be read (unsupported type or wrong passphrase)"
_SEPARATOR = "--dcops--"


@dataclass(frozen=True)
class SSHTarget:
    """Where and how to log in to a hypervisor; ``private_key`` stays in memory only."""

    address: str
    port: int
    user: str
    private_key: str
    passphrase: str | None
    host_key: str  # pinned, "type base64"


class PreflightError(ConflictError):
    """The hypervisor cannot take a job: unreachable, wrong host key, or libvirt missing."""


def fingerprint(host_key: str) -> str:
    """Return the OpenSSH SHA256 fingerprint of a 'type base64' public key."""
    blob = base64.b64decode(host_key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def known_hosts_line(address: str, port: int, host_key: str) -> str:
    """Return the known_hosts line pinning ``host_key`` for ``address:port``."""
    name = address if port == 22 else f"[{address}]:{port}"
    return f"{name} {host_key}\n"


def fetch_host_key(address: str, port: int) -> str:
    """Connect to the SSH server and return its host key as 'type base64' (trust on first use)."""
    try:
        sock = socket.create_connection((address, port), timeout=CONNECT_TIMEOUT)
    except (OSError, UnicodeError, ValueError) as exc:  # UnicodeError: a name no resolver can encode
        raise PreflightError(f"cannot reach SSH on {address}:{port}: {exc}") from None
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=CONNECT_TIMEOUT)
        key = transport.get_remote_server_key()
        return f"{key.get_name()} {key.get_base64()}"
    except paramiko.SSHException as exc:
        raise PreflightError(f"SSH handshake with {address}:{port} failed: {exc}") from None
    finally:
        transport.close()


def control_dir() -> Path:
    """Return the private directory of the SSH master sockets shared by the runs (0700, created if missing)."""
    path = Path(tempfile.gettempdir()) / f"dcops-ssh-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    if path.stat().st_uid != os.getuid() or path.stat().st_mode & 0o077:
        raise PermissionError(f"{path} must be a private directory of this user")
    return path


def control_path(target: SSHTarget) -> str:
    """Return the master socket of ``target``: one per host, port, user, pinned host key and login key.

    The pin and the key are part of the name, so a re-registered host (new pin) or a changed credential never
    rides on a master authenticated under the old ones; 16 hex digits of a SHA-256 reveal nothing of the key.
    """
    tag = hashlib.sha256(f"{target.host_key}\0{target.private_key}".encode()).hexdigest()[:16]
    return f"{control_dir()}/%C-{tag}"


def unlocked_key(text: str, passphrase: str | None) -> str:
    """Return the key without its passphrase (OpenSSH format), so ssh never prompts."""
    if not passphrase:
        return text.strip() + "\n"
    from cryptography.hazmat.primitives import serialization

    raw = text.strip().encode() + b"\n"
    try:
        try:
            key = serialization.load_ssh_private_key(raw, password=passphrase.encode())
        except ValueError:
            key = serialization.load_pem_private_key(raw, password=passphrase.encode())  # type: ignore[assignment]  # PEM may hold any key type; an SSH key is the caller's to give
    except (ValueError, TypeError):
        raise ValidationError(BAD_KEY) from None
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,  # type: ignore[union-attr]  # every private key type has private_bytes
                             serialization.NoEncryption()).decode()


def write_login(workdir: Path, target: SSHTarget) -> tuple[Path, Path]:
    """Write the login key (0600) and a known_hosts holding only the pinned key into the private ``workdir``."""
    key_file = workdir / "id_key"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(unlocked_key(target.private_key, target.passphrase))
    known_hosts = workdir / "known_hosts"
    known_hosts.write_text(known_hosts_line(target.address, target.port, target.host_key))
    return key_file, known_hosts


def ssh_options(known_hosts: Path) -> list[str]:
    """Return the OpenSSH options every connection to a hypervisor uses: the pin strictly checked, no agent."""
    return ["-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-o", "IdentitiesOnly=yes", "-o", "GlobalKnownHostsFile=/dev/null"]


#: share one master connection that persists after its last use (the control path is :func:`control_path`)
PERSIST = ["-o", "ControlMaster=auto", "-o", f"ControlPersist={CONTROL_PERSIST_S}s", "-o", "ServerAliveInterval=15"]


def master_options(target: SSHTarget) -> list[str]:
    """Return the options that share one persisting master connection per :func:`control_path`."""
    return [*PERSIST, "-o", f"ControlPath={control_path(target)}"]


def _ssh_failure(target: SSHTarget, stderr: str) -> Exception:
    """Turn the stderr of an ssh that could not log in (exit 255) into the error to show."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith(("@", "Warning"))]
    detail = lines[-1] if lines else "ssh exited with status 255"
    where = f"{target.address}:{target.port}"
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr or "Host key verification failed" in stderr:
        return PreflightError(f"the host key of {where} does not match the pinned key "
                              f"({fingerprint(target.host_key)}); if the host was reinstalled, register it again")
    if "Load key" in stderr:
        return ValidationError(BAD_KEY)
    if "Permission denied" in stderr or "Too many authentication failures" in stderr:
        return PreflightError(f"SSH to {target.user}@{where} failed: authentication failed ({detail})")
    if stderr.startswith("ssh: ") or any(m in stderr for m in ("Connection refused", "timed out", "No route",
                                                               "Could not resolve", "Network is unreachable")):
        return PreflightError(f"cannot reach {where}: {detail.removeprefix('ssh: ')}")
    return PreflightError(f"SSH to {target.user}@{where} failed: {detail}")


def run(target: SSHTarget, command: str, timeout: float = 60.0) -> tuple[int, str, str]:
    """Run ``command`` on the hypervisor over its shared master connection; return (status, stdout, stderr).

    The first call opens the master (the pinned host key strictly checked), which then persists
    :data:`CONTROL_PERSIST_S` for the next commands and for the playbook runs (:mod:`runner` uses the same
    control path). Raises PreflightError when ssh cannot log in, with what went wrong in plain words.
    """
    if not target.host_key:
        raise PreflightError(f"no host key is pinned for {target.address}:{target.port}; register the hypervisor")
    workdir = Path(tempfile.mkdtemp(prefix="dcops-cmd-"))
    try:
        key_file, known_hosts = write_login(workdir, target)
        argv = ["ssh", "-p", str(target.port), "-i", str(key_file), *ssh_options(known_hosts),
                *master_options(target), "-o", "BatchMode=yes", "-o", f"ConnectTimeout={int(CONNECT_TIMEOUT)}",
                "-o", "LogLevel=ERROR", f"{target.user}@{target.address}", command]
        # stdout/stderr to files, not pipes: a master forked off by this ssh must not hold our pipes open
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                code = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                      timeout=timeout).returncode
            except subprocess.TimeoutExpired:
                raise PreflightError(f"{target.address}:{target.port} did not answer within {timeout:.0f} s") from None
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if code == 255:
        raise _ssh_failure(target, stderr)
    return code, stdout, stderr


def preflight(target: SSHTarget, libvirt_uri: str) -> str:
    """Check the hypervisor can take a job; return a one-line summary or raise PreflightError."""
    uri = shlex.quote(libvirt_uri)
    # one command (one channel, one round trip): libvirt first, then the tools (exit 3 when one is missing)
    code, out, err = run(target, f"virsh -c {uri} list --all --name >/dev/null && virsh -c {uri} uri && "
                                 "{ /usr/bin/python3 -c 'import sys' && command -v qemu-img genisoimage "
                                 ">/dev/null || exit 3; }")
    if code == 3:
        raise PreflightError(f"{target.address}: /usr/bin/python3, qemu-img or genisoimage is missing")
    if code != 0:
        raise PreflightError(f"libvirt does not answer on {target.address}: {(err or out).strip()[:300]}")
    return f"ok: libvirt answers at {out.strip()}"


def list_domains(target: SSHTarget, libvirt_uri: str) -> dict[str, str]:
    """Return every domain on the hypervisor with its state ('running', 'shut off', ...)."""
    uri = shlex.quote(libvirt_uri)
    # one round trip: every domain, a separator line, then the running ones
    code, out, err = run(target, f"virsh -c {uri} list --all --name && echo {_SEPARATOR} && "
                                 f"virsh -c {uri} list --state-running --name")
    if code != 0 or _SEPARATOR not in out:
        raise PreflightError(f"virsh list failed on {target.address}: {(err or out).strip()[:300]}")
    every, _, running = out.partition(_SEPARATOR)
    names = [n.strip() for n in every.splitlines() if n.strip()]
    up = {n.strip() for n in running.splitlines() if n.strip()}
    return {name: ("running" if name in up else "shut off") for name in names}
