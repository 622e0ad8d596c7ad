"""The ansible-runner adapter's own rules, without a hypervisor: events, tags, the clean recap, output, the gate."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from dcops.provisioning import runner


def _run(**changes: Any) -> runner.Run:
    values: dict[str, Any] = {
        "playbook": "provision_vm.yml", "address": "127.0.0.1", "port": 22, "user": "root", "host_key": "",
        "private_key": "", "passphrase": None, "extravars": {}, "timeout_s": 60, "on_event": lambda _e: None,
        "should_cancel": lambda: False}
    return runner.Run(**(values | changes))


def test_task_starts_are_recorded_per_host() -> None:
    start = runner.convert({"event": "runner_on_start", "counter": 7,
                            "event_data": {"task": "Create the volume", "host": "job-3"}})
    assert start is not None
    assert (start.event, start.status, start.host, start.task, start.seq) == (
        "playbook_on_task_start", "started", "job-3", "Create the volume", 7)
    # Ansible's own task start names no host (once per host under the free strategy): not recorded
    assert runner.convert({"event": "playbook_on_task_start", "event_data": {"task": "Create the volume"}}) is None
    ok = runner.convert({"event": "runner_on_ok", "event_data": {"task": "Start the domain", "host": "job-3",
                                                                 "res": {"changed": True}}})
    assert ok is not None and (ok.event, ok.status, ok.changed) == ("runner_on_ok", "changed", True)


def test_test_only_tasks_run_only_when_a_run_asks() -> None:
    assert runner._tags(_run()) is None
    assert runner._tags(_run(extravars={"fail_after_volume": False})) is None
    assert runner._tags(_run(extravars={"fail_after_volume": True})) == "all,fail_after_volume"
    batch = _run(members={"job-1": {"vm_name": "a"}, "job-2": {"vm_name": "b", "fail_after_volume": True}})
    assert runner._tags(batch) == "all,fail_after_volume"


def test_only_a_recap_without_failures_is_clean() -> None:
    def recap(**counts: dict[str, int]) -> dict[str, Any]:
        return {"event": "playbook_on_stats", "event_data": {"ok": {"job-1": 2, "job-2": 1}, **counts}}

    assert runner._clean_recap(recap(failures={}, dark={}))
    assert runner._clean_recap(recap(failures={"job-1": 0}))
    assert not runner._clean_recap(recap(failures={"job-2": 1}))
    assert not runner._clean_recap(recap(dark={"job-1": 1}))
    assert not runner._clean_recap({"event": "runner_on_ok", "event_data": {}})


def test_batch_output_shows_each_task_banner_once_per_member() -> None:
    own: dict[str, list[str]] = {"job-1": [], "job-2": []}
    failed: set[str] = set()
    banner = {"event": "playbook_on_task_start", "stdout": "TASK [Create the volume] ***", "event_data": {}}
    for _ in own:  # the free strategy announces the task once per host
        runner._split(banner, own, failed)
    runner._split({"event": "runner_on_ok", "stdout": "changed: [job-2]", "event_data": {"host": "job-2"}},
                  own, failed)
    runner._split({"event": "playbook_on_include", "stdout": "included: remove_vm.yml for job-1",
                   "event_data": {}}, own, failed)
    assert own["job-1"] == ["TASK [Create the volume] ***\n", "included: remove_vm.yml for job-1\n"]
    assert own["job-2"] == ["TASK [Create the volume] ***\n", "changed: [job-2]\n"]
    runner._split({"event": "playbook_on_stats", "stdout": "PLAY RECAP ***\njob-1 : ok=1 changed=0 failed=1\n"
                   "job-2 : ok=2 changed=1 failed=0", "event_data": {"failures": {"job-1": 1}}}, own, failed)
    assert failed == {"job-1"} and runner.own_recap(own)
    assert "job-1" not in own["job-2"][-1] and "job-2 : ok=2" in own["job-2"][-1]


def _connect(ssh: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ssh), "-V"], capture_output=True, text=True, timeout=30)


def test_gate_passes_connections_to_ssh_itself_once_the_preflight_passed(tmp_path: Path) -> None:
    delivered: list[dict[str, Any]] = []
    gate = runner._Gate(tmp_path, delivered.append)
    gate.handle({"event": "playbook_on_start"})  # held until the verdict
    assert delivered == []
    gate.open(True)
    assert delivered == [{"event": "playbook_on_start"}]
    assert gate.ssh.is_symlink() and os.path.samefile(gate.ssh, shutil.which("ssh") or "")
    assert "OpenSSH" in _connect(gate.ssh).stderr


def test_gate_refuses_every_connection_when_the_preflight_failed(tmp_path: Path) -> None:
    delivered: list[dict[str, Any]] = []
    gate = runner._Gate(tmp_path, delivered.append)
    gate.handle({"event": "playbook_on_start"})
    gate.open(False)
    assert delivered == [] and not gate.ssh.is_symlink()
    refused = _connect(gate.ssh)
    assert refused.returncode == 255 and "did not pass" in refused.stderr
