"""SSH to hypervisors with paramiko: fetch and pin host keys, pre-flight checks, run read-only commands."""

from __future__ import annotations

import base64
import hashlib
import io
import shlex
import socket
from dataclasses import dataclass

import paramiko

from dcops.exceptions import ConflictError, ValidationError

CONNECT_TIMEOUT = 10.0


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


def _load_key(text: str, passphrase: str | None) -> paramiko.PKey:
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key(io.StringIO(text), password=passphrase)
        except (paramiko.SSHException, ValueError):
            continue
    raise ValidationError("the SSH private key cannot be read (unsupported type or wrong passphrase)")


def connect(target: SSHTarget) -> paramiko.SSHClient:
    """Open an SSH session that accepts only the pinned host key."""
    if not target.host_key:
        raise PreflightError(f"no host key is pinned for {target.address}:{target.port}; register the hypervisor")
    client = paramiko.SSHClient()
    key_type, key_b64 = target.host_key.split()[:2]
    pinned = paramiko.PKey.from_type_string(key_type, base64.b64decode(key_b64))
    name = target.address if target.port == 22 else f"[{target.address}]:{target.port}"
    client.get_host_keys().add(name, key_type, pinned)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(target.address, port=target.port, username=target.user,
                       pkey=_load_key(target.private_key, target.passphrase), timeout=CONNECT_TIMEOUT,
                       banner_timeout=CONNECT_TIMEOUT, auth_timeout=CONNECT_TIMEOUT, allow_agent=False,
                       look_for_keys=False, disabled_algorithms=None)
    except paramiko.BadHostKeyException:
        raise PreflightError(
            f"the host key of {target.address}:{target.port} does not match the pinned key "
            f"({fingerprint(target.host_key)}); if the host was reinstalled, register it again"
        ) from None
    except paramiko.SSHException as exc:
        raise PreflightError(f"SSH to {target.user}@{target.address}:{target.port} failed: {exc}") from None
    except OSError as exc:
        raise PreflightError(f"cannot reach {target.address}:{target.port}: {exc}") from None
    return client


def run(client: paramiko.SSHClient, command: str, timeout: float = 60.0) -> tuple[int, str, str]:
    """Run ``command`` and return (exit status, stdout, stderr)."""
    _, out, err = client.exec_command(command, timeout=timeout)
    stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    return out.channel.recv_exit_status(), stdout, stderr


def preflight(target: SSHTarget, libvirt_uri: str) -> str:
    """Check the hypervisor can take a job; return a one-line summary or raise PreflightError."""
    client = connect(target)
    try:
        uri = shlex.quote(libvirt_uri)
        # one command (one channel, one round trip): libvirt first, then the tools (exit 3 when one is missing)
        code, out, err = run(client, f"virsh -c {uri} list --all --name >/dev/null && virsh -c {uri} uri && "
                                     "{ /usr/bin/python3 -c 'import sys' && command -v qemu-img genisoimage "
                                     ">/dev/null || exit 3; }")
        if code == 3:
            raise PreflightError(f"{target.address}: /usr/bin/python3, qemu-img or genisoimage is missing")
        if code != 0:
            raise PreflightError(f"libvirt does not answer on {target.address}: {(err or out).strip()[:300]}")
        return f"ok: libvirt answers at {out.strip()}"
    finally:
        client.close()


def list_domains(target: SSHTarget, libvirt_uri: str) -> dict[str, str]:
    """Return every domain on the hypervisor with its state ('running', 'shut off', ...)."""
    client = connect(target)
    try:
        uri = shlex.quote(libvirt_uri)
        code, out, err = run(client, f"virsh -c {uri} list --all --name")
        if code != 0:
            raise PreflightError(f"virsh list failed on {target.address}: {err.strip()[:300]}")
        names = [n.strip() for n in out.splitlines() if n.strip()]
        code, running, _ = run(client, f"virsh -c {uri} list --state-running --name")
        up = {n.strip() for n in running.splitlines() if n.strip()}
        return {name: ("running" if name in up else "shut off") for name in names}
    finally:
        client.close()
