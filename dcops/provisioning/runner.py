"""The ansible-runner adapter: run one playbook against one hypervisor in a private directory.

The only module that imports ``ansible_runner``. Credentials exist on disk only during the run
(a 0600 key file in a private 0700 directory, removed afterwards); the host key is pinned through
a known_hosts file written for the run, with strict checking on.

A run may carry a batch (``Run.members``): several jobs on the same hypervisor in ONE ``ansible-playbook``
process, each an inventory alias of that hypervisor with its own variables as host variables, all in parallel
(one fork each) over the one shared SSH master connection. The outcome then says which members failed and
gives each member only its own output (its task lines and its recap line).

A run's outcome is known at its play recap: when the recap shows no failed or unreachable host, the run returns
then, and ansible-playbook's own exit (its interpreter teardown, the pty closed) is waited for in the background
before the run's private directory (and key) is removed.
"""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner

from dcops.provisioning.preflight import (
    PERSIST,
    SSHTarget,
    control_dir,
    control_path,
    master_options,
    ssh_options,
    write_login,
)

PYTHON = "/usr/bin/python3"  # the managed host's Python, which has the libvirt bindings
PER_HOST = 8  # runs at once per hypervisor: a run mostly waits on SSH and virsh, little on the hypervisor
MAX_CONCURRENCY = 32


def concurrency(hosts: int) -> int:
    """Return how many runs the job runner starts at once: ``PER_HOST`` per hypervisor, 2 to ``MAX_CONCURRENCY``.

    Runs against different hypervisors do not compete with each other there, so the runner scales with the
    fleet; at least 2 so that a long run never blocks a short one.
    """
    return max(2, min(max(hosts, 0) * PER_HOST, MAX_CONCURRENCY))


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
    #: a pre-flight still to pass (raises when it does not): run while ansible-playbook starts up, and no SSH
    #: connection of the run opens before it passed (:class:`_Gate`); it opens the master the tasks then reuse
    preflight: Callable[[], Any] | None = None


#: the run's ssh while a pre-flight is pending: wait until the runner releases its lock, then connect only if the
#: verdict is "ok" (exit 255 otherwise, which Ansible reports as unreachable)
_WRAPPER = """#!/bin/sh
exec 9<%s && flock -s 9 && read -r verdict <&9 && exec 9<&- && [ "$verdict" = ok ] && exec ssh "$@"
echo "dcops: the pre-flight of this run did not pass; no connection made" >&2
exit 255
"""


class _Gate:
    """Hold every SSH connection of a run, and its events, until the run's pre-flight has passed.

    The runner holds an exclusive lock on a verdict file; the ssh wrapper Ansible uses takes a shared lock on it
    first, so it waits for the verdict. Events that come meanwhile (the play starting) are held back: delivered
    if the pre-flight passed, dropped if not (the job then shows the pre-flight's failure, not a broken play).
    """

    def __init__(self, workdir: Path, deliver: Callable[[dict[str, Any]], None]) -> None:
        verdict = workdir / "verdict"
        self._fd = os.open(verdict, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self.ssh = workdir / "ssh"
        self.ssh.write_text(_WRAPPER % shlex.quote(str(verdict)))
        self.ssh.chmod(0o700)
        self.passed: bool | None = None
        self._deliver, self._lock = deliver, threading.Lock()
        self._held: list[dict[str, Any]] = []

    def handle(self, raw: dict[str, Any]) -> bool:
        with self._lock:
            if self.passed is None:
                self._held.append(raw)
            elif self.passed:
                self._deliver(raw)
        return False  # ansible-runner need not keep the event on disk beyond the run

    def open(self, passed: bool) -> None:
        """Give the verdict: let the connections through (and the held events) or refuse them all."""
        if self._fd < 0:
            return
        os.write(self._fd, b"ok\n" if passed else b"failed\n")
        if passed:  # the connections from now on run ssh itself (no shell and flock each); waiting ones pass too
            real = shutil.which("ssh", path=_search_path())
            if real is not None:
                link = self.ssh.with_name("ssh.direct")
                link.symlink_to(real)
                link.replace(self.ssh)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = -1
        with self._lock:
            self.passed = passed
            for raw in self._held if passed else []:
                self._deliver(raw)
            self._held.clear()


_STATUS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_skipped": "skipped",
    "runner_on_unreachable": "unreachable",
    "runner_item_on_failed": "failed",
    "runner_on_start": "started",
    "playbook_on_stats": "recap",
}
#: a task's start is recorded per host, from runner_on_start, under the name consumers know it by: under the free
#: strategy each host starts each task on its own, and Ansible's task-start event names no host
_NAMES = {"runner_on_start": "playbook_on_task_start"}


def convert(raw: dict[str, Any]) -> Event | None:
    """Turn an ansible-runner event into an :class:`Event`, or None for noise (verbose lines, item events)."""
    kind = raw.get("event", "")  # playbook_on_task_start: recorded per host from runner_on_start
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
        event=_NAMES.get(kind, kind),
        task=str(data.get("task") or data.get("play") or "")[:300],
        host=str(data.get("host") or "")[:100],
        status=status,
        changed=bool(res.get("changed")) if kind.startswith("runner_on") else False,
        duration_s=float(duration) if isinstance(duration, int | float) else None,
        message=message,
    )


#: variables that switch on tasks tagged ``never`` plus the variable's name (tests only: fail on purpose); a run
#: whose variables (or one member's) set one also runs those tasks, the others never even evaluate them
TEST_SWITCHES = ("fail_after_volume",)


def _tags(run: Run) -> str | None:
    """Return the ``--tags`` of the run: everything, plus the test-only tasks its variables switch on."""
    values = [run.extravars, *(run.members or {}).values()]
    on = [name for name in TEST_SWITCHES if any(v.get(name) for v in values)]
    return ",".join(["all", *on]) if on else None


def _clean_recap(raw: dict[str, Any]) -> bool:
    """Return True for a play recap event that shows no failed and no unreachable host."""
    data = raw.get("event_data") or {}
    return raw.get("event") == "playbook_on_stats" and not any(
        count for kind in ("failures", "dark") for count in (data.get(kind) or {}).values())


def run_playbook(run: Run) -> Outcome:
    """Run ``run.playbook`` against one host and return how it ended (blocks until then, or its clean recap)."""
    workdir = Path(tempfile.mkdtemp(prefix="dcops-job-"))
    warm: subprocess.Popen[bytes] | None = None
    gate: _Gate | None = None
    thread: threading.Thread | None = None
    os.chmod(workdir, 0o700)
    key_file = workdir / "id_key"
    try:
        target = SSHTarget(address=run.address, port=run.port, user=run.user, private_key=run.private_key,
                           passphrase=run.passphrase, host_key=run.host_key)
        key_file, known_hosts = write_login(workdir, target)
        ssh_args = " ".join(ssh_options(known_hosts))
        # one SSH connection per host, user, pin and key, reused by every task, by the pre-flight and by the runs
        # that follow within CONTROL_PERSIST_S (the master keeps its authenticated session; its socket is in a
        # 0700 directory); Ansible adds the control path to these options itself
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
            "ANSIBLE_SSH_ARGS": " ".join(PERSIST),
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir()),
            "ANSIBLE_SSH_CONTROL_PATH": control_path(target).replace("%", "%%"),
            "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp"),
            "ANSIBLE_GATHERING": "explicit",
            "PATH": _search_path(),
        }

        own: dict[str, list[str]] = {alias: [] for alias in members}
        failed: set[str] = set()
        output: list[str] = []  # the run's output as its events carry it (what ansible-runner's stdout file holds)
        clean = threading.Event()  # the play recap came and showed no failed or unreachable host
        ended = threading.Event()  # that, or ansible-runner finished
        returned = threading.Event()

        def deliver(raw: dict[str, Any]) -> None:
            if returned.is_set():
                return  # nothing comes after the recap; should anything, the job is recorded already
            event = convert(raw)
            if event is not None:
                run.on_event(event)
            if raw.get("stdout"):
                output.append(f"{raw['stdout']}\n")
            if run.members:
                _split(raw, own, failed)
            if _clean_recap(raw):
                clean.set()
                ended.set()

        def handler(raw: dict[str, Any]) -> bool:
            deliver(raw)
            return False  # ansible-runner need not keep the event on disk beyond the run

        def cancel() -> bool:
            return (gate is not None and gate.passed is False) or run.should_cancel()

        gate = _Gate(workdir, deliver) if run.preflight is not None else None
        if gate is not None:
            envvars["ANSIBLE_SSH_EXECUTABLE"] = str(gate.ssh)
        else:  # no pre-flight to open the master: open it while ansible-playbook starts up
            warm = _warm_master(run, key_file, ssh_options(known_hosts) + master_options(target))
        thread, runner = ansible_runner.run_async(
            private_data_dir=str(workdir),
            project_dir=str(playbook_dir()),
            playbook=run.playbook,
            inventory=inventory,
            extravars=run.extravars,
            envvars=envvars,
            event_handler=handler if gate is None else gate.handle,
            cancel_callback=cancel,
            timeout=run.timeout_s,
            forks=max(5, len(members)),
            tags=_tags(run),
            quiet=True,
            suppress_env_files=True,
            finished_callback=lambda _runner: ended.set(),
        )
        if gate is not None and run.preflight is not None:
            try:
                run.preflight()
            except BaseException:
                gate.open(False)
                thread.join()  # the play ends at its first connection, which the wrapper refuses
                raise
            gate.open(True)
        while not ended.wait(0.5) and thread.is_alive():
            pass
        if clean.is_set() and runner.status == "running":  # the run succeeded; ansible-playbook is exiting
            returned.set()
            if not run.members:
                return Outcome(status="successful", rc=0, stdout="".join(output))
            return Outcome(status="successful", rc=0, stdout="".join(output),
                           host_stdout={alias: "".join(lines) for alias, lines in own.items()})
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
        if gate is not None:
            gate.open(False)  # whatever broke: no connection of this run goes through any more
        if thread is not None and thread.is_alive():  # returned at the recap: clean up once ansible-playbook is gone
            threading.Thread(target=_clean_up, args=(thread, warm, key_file, workdir), name="dcops-run-exit").start()
        else:
            _clean_up(None, warm, key_file, workdir)


def _clean_up(thread: threading.Thread | None, warm: subprocess.Popen[bytes] | None, key_file: Path,
              workdir: Path) -> None:
    """Wait for the run's ansible-runner thread and warm-up ssh, then remove the key and the private directory."""
    if thread is not None:
        thread.join()
    if warm is not None:
        try:
            warm.wait(timeout=5)
        except subprocess.TimeoutExpired:
            warm.kill()
            warm.wait()
    if key_file.exists():
        key_file.unlink()
    shutil.rmtree(workdir, ignore_errors=True)


def _warm_master(run: Run, key_file: Path, options: list[str]) -> subprocess.Popen[bytes] | None:
    """Open the run's SSH master connection (or find the persisting one) while ansible-playbook starts up.

    The same options as Ansible's connections (the pinned host key strictly checked, the same control path),
    so the first task finds the master ready instead of paying the handshake; None if ssh cannot start.
    """
    command = ["ssh", "-p", str(run.port), "-i", str(key_file), *options, "-o", "BatchMode=yes",
               "-o", "ConnectTimeout=60", f"{run.user}@{run.address}", "true"]
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
            # the free strategy announces a task once per host: each member shows it once
            if raw.get("event") != "playbook_on_task_start" or text + "\n" not in own[alias]:
                own[alias].append(text + "\n")
