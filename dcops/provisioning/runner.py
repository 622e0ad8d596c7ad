"""The ansible-runner adapter: run one playbook against one hypervisor in a private directory.

The only module that imports ``ansible_runner``. Credentials exist on disk only during the run
(a 0600 key file in a private 0700 directory, removed afterwards); the host key is pinned through
a known_hosts file written for the run, with strict checking on.

A run may carry a batch (``Run.members``): several jobs on the same hypervisor in ONE ``ansible-playbook``
process, each an inventory alias of that hypervisor with its own variables as host variables, all in parallel
(one fork each) over the one shared SSH master connection. The outcome then says which members failed and
gives each member only its own output (its task lines and its recap line).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner

from dcops.provisioning.preflight import known_hosts_line

PYTHON = "/usr/bin/python3"  # the managed host's Python, which has the libvirt bindings
CONTROL_PERSIST_S = 60  # an SSH master connection outlives its run this long, for the next run to the host
PER_HOST = 8  # runs at once per hypervisor: a run mostly waits on SSH and virsh, little on the hypervisor
MAX_CONCURRENCY = 32


def concurrency(hosts: int) -> int:
    """Return how many runs the job runner starts at once: ``PER_HOST`` per hypervisor, 2 to ``MAX_CONCURRENCY``.

    Runs against different hypervisors do not compete with each other there, so the runner scales with the
    fleet; at least 2 so that a long run never blocks a short one.
    """
    return max(2, min(max(hosts, 0) * PER_HOST, MAX_CONCURRENCY))


def control_dir() -> Path:
    """Return the private directory of the SSH master sockets shared by the runs (0700, created if missing)."""
    path = Path(tempfile.gettempdir()) / f"dcops-ssh-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    if path.stat().st_uid != os.getuid() or path.stat().st_mode & 0o077:
        raise PermissionError(f"{path} must be a private directory of this user")
    return path


def _search_path() -> str:
    """Return PATH with this interpreter's own bin directory first: its ``ansible-playbook``, no shim between."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)])


def playbook_dir() -> Path:
    """Return the folder holding the playbooks (``DCOPS_PLAYBOOK_DIR`` or the repository's ``playbooks/``)."""
    configured = os.environ.get("DCOPS_PLAYBOOK_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "playbooks"


@dataclass(frozen=True)
class Event:
    """One Ansible event in dcops' terms."""

    seq: int
    event: str
    task: str
    host: str
    status: str
    changed: bool
    duration_s: float | None
    message: str


@dataclass(frozen=True)
class Outcome:
    """How a run ended: 'successful', 'failed', 'canceled' or 'timeout', with the exit code and output."""

    status: str
    rc: int | None
    stdout: str
    failed_hosts: frozenset[str] = frozenset()  # batch: the members that failed or were unreachable
    host_stdout: dict[str, str] = field(default_factory=dict)  # batch: each member's own output


@dataclass
class Run:
    """What to run, where, with which secret; callbacks report events and ask whether to stop."""

    playbook: str
    address: str
    port: int
    user: str
    host_key: str
    private_key: str
    passphrase: str | None
    extravars: dict[str, Any]
    timeout_s: int
    on_event: Callable[[Event], None]
    should_cancel: Callable[[], bool]
    host_alias: str = "hypervisor"
    #: a batch: inventory alias -> that member's variables (host variables; ``extravars`` then apply to all)
    members: dict[str, dict[str, Any]] | None = None


_STATUS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_skipped": "skipped",
    "runner_on_unreachable": "unreachable",
    "runner_item_on_failed": "failed",
    "playbook_on_task_start": "started",
    "playbook_on_stats": "recap",
}


def convert(raw: dict[str, Any]) -> Event | None:
    """Turn an ansible-runner event into an :class:`Event`, or None for noise (verbose lines, item events)."""
    kind = raw.get("event", "")
    if kind not in _STATUS and kind not in ("playbook_on_play_start", "playbook_on_start"):
        return None
    data = raw.get("event_data") or {}
    res = data.get("res") or {}
    status = _STATUS.get(kind, "started")
    if kind == "runner_on_ok" and res.get("changed"):
        status = "changed"
    if kind == "runner_on_failed" and data.get("ignore_errors"):
        status = "ignored"
    message = ""
    if status in ("failed", "unreachable", "ignored"):
        message = str(res.get("msg") or res.get("stderr") or "")[:1000]
    if kind == "playbook_on_stats":
        changed = sum((data.get("changed") or {}).values())
        failures = sum((data.get("failures") or {}).values()) + sum((data.get("dark") or {}).values())
        message = f"changed={changed} failed={failures}"
    duration = data.get("duration")
    return Event(
        seq=int(raw.get("counter") or 0),
        event=kind,
        task=str(data.get("task") or data.get("play") or "")[:300],
        host=str(data.get("host") or "")[:100],
        status=status,
        changed=bool(res.get("changed")) if kind.startswith("runner_on") else False,
        duration_s=float(duration) if isinstance(duration, int | float) else None,
        message=message,
    )


def _unlocked_key(text: str, passphrase: str | None) -> str:
    """Return the key without its passphrase (OpenSSH format), so ssh never prompts."""
    if not passphrase:
        return text.strip() + "\n"
    from cryptography.hazmat.primitives import serialization

    raw = text.strip().encode() + b"\n"
    try:
        key = serialization.load_ssh_private_key(raw, password=passphrase.encode())
    except ValueError:
        key = serialization.load_pem_private_key(raw, password=passphrase.encode())  # type: ignore[assignment]
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,  # type: ignore[union-attr]
                             serialization.NoEncryption()).decode()


def run_playbook(run: Run) -> Outcome:
    """Run ``run.playbook`` against one host and return how it ended (blocks until then)."""
    workdir = Path(tempfile.mkdtemp(prefix="dcops-job-"))
    warm: subprocess.Popen[bytes] | None = None
    os.chmod(workdir, 0o700)
    key_file = workdir / "id_key"
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(_unlocked_key(run.private_key, run.passphrase))
        known_hosts = workdir / "known_hosts"
        known_hosts.write_text(known_hosts_line(run.address, run.port, run.host_key))
        ssh_args = (f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes "
                    "-o IdentitiesOnly=yes -o GlobalKnownHostsFile=/dev/null")
        # one SSH connection per host and user, reused by every task and by the runs that follow within
        # CONTROL_PERSIST_S (the master keeps its authenticated session; its socket is in a 0700 directory)
        persist = f"-o ControlMaster=auto -o ControlPersist={CONTROL_PERSIST_S}s -o ServerAliveInterval=15"
        connection = {
            "ansible_host": run.address,
            "ansible_port": run.port,
            "ansible_user": run.user,
            "ansible_ssh_private_key_file": str(key_file),
            "ansible_ssh_common_args": ssh_args,
            "ansible_python_interpreter": PYTHON,
        }
        members = run.members or {run.host_alias: {}}
        hosts = {alias: {**values, **connection} for alias, values in members.items()}
        inventory = {"all": {"children": {"hypervisors": {"hosts": hosts}}}}
        envvars = {
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_PIPELINING": "True",
            "ANSIBLE_SSH_ARGS": persist,
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir()),
            "ANSIBLE_SSH_CONTROL_PATH": "%(directory)s/%%C",
            "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp"),
            "ANSIBLE_GATHERING": "explicit",
            "PATH": _search_path(),
        }

        own: dict[str, list[str]] = {alias: [] for alias in members}
        failed: set[str] = set()

        def handler(raw: dict[str, Any]) -> bool:
            event = convert(raw)
            if event is not None:
                run.on_event(event)
            if run.members:
                _split(raw, own, failed)
            return False  # ansible-runner need not keep the event on disk beyond the run

        warm = _warm_master(run, key_file, ssh_args, persist)
        thread, runner = ansible_runner.run_async(
            private_data_dir=str(workdir),
            project_dir=str(playbook_dir()),
            playbook=run.playbook,
            inventory=inventory,
            extravars=run.extravars,
            envvars=envvars,
            event_handler=handler,
            cancel_callback=run.should_cancel,
            timeout=run.timeout_s,
            forks=max(5, len(members)),
            quiet=True,
            suppress_env_files=True,
        )
        thread.join()
        stdout = ""
        stdout_path = Path(runner.config.artifact_dir) / "stdout"
        if stdout_path.exists():
            stdout = stdout_path.read_text(errors="replace")
        if not run.members:
            return Outcome(status=str(runner.status), rc=runner.rc, stdout=stdout)
        if runner.status != "successful" and not own_recap(own):  # no recap: the run broke before the end
            failed = set(members)
        return Outcome(status=str(runner.status), rc=runner.rc, stdout=stdout, failed_hosts=frozenset(failed),
                       host_stdout={alias: "".join(lines) for alias, lines in own.items()})
    finally:
        if warm is not None:
            try:
                warm.wait(timeout=5)
            except subprocess.TimeoutExpired:
                warm.kill()
                warm.wait()
        if key_file.exists():
            key_file.unlink()
        shutil.rmtree(workdir, ignore_errors=True)


def _warm_master(run: Run, key_file: Path, ssh_args: str, persist: str) -> subprocess.Popen[bytes] | None:
    """Open the run's SSH master connection (or find the persisting one) while ansible-playbook starts up.

    The same options as Ansible's connections (the pinned host key strictly checked, the same control path),
    so the first task finds the master ready instead of paying the handshake; None if ssh cannot start.
    """
    command = ["ssh", "-p", str(run.port), "-i", str(key_file), *shlex.split(ssh_args), *shlex.split(persist),
               "-o", f"ControlPath={control_dir()}/%C", "-o", "BatchMode=yes",
               "-o", f"ConnectTimeout={CONTROL_PERSIST_S}", f"{run.user}@{run.address}", "true"]
    try:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    except OSError:
        return None


def own_recap(own: dict[str, list[str]]) -> bool:
    """Return True when the members' output holds a play recap line (the run got to its end)."""
    return any(" ok=" in line and "changed=" in line for lines in own.values() for line in lines)


def _split(raw: dict[str, Any], own: dict[str, list[str]], failed: set[str]) -> None:
    """Hand a batch event's output to its member (banners to every member), and note the failed members."""
    text = str(raw.get("stdout") or "")
    data = raw.get("event_data") or {}
    if raw.get("event") == "playbook_on_stats":
        for kind in ("failures", "dark"):
            failed.update(alias for alias, count in (data.get(kind) or {}).items() if count and alias in own)
        for alias in own:  # the recap: its banner, then one line per host
            lines = [line for line in text.splitlines(keepends=True)
                     if "PLAY RECAP" in line or line.split(":", 1)[0].strip() == alias]
            own[alias].append("".join(lines) + "\n")
        return
    if not text:
        return
    host = data.get("host")
    if host in own:
        own[host].append(text + "\n")
    elif not host:  # a banner; one that names members (an include "for job-7") goes to those only
        named = [alias for alias in own if re.search(rf"\b{re.escape(alias)}\b", text)]
        for alias in named or own:
            own[alias].append(text + "\n")
