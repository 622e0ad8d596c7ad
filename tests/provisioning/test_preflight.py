"""The pre-flight over OpenSSH (the master connection the runs share) says plainly what is wrong."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dcops.auth.actor import SYSTEM
from dcops.database import utcnow
from dcops.exceptions import ValidationError
from dcops.provisioning import jobs, preflight, service
from dcops.provisioning.choices import JobStatus
from dcops.provisioning.models import Job, JobEvent
from dcops.provisioning.preflight import PreflightError, SSHTarget
from tests.provisioning.conftest import SSHD, URI, Lab, dominfo, free_port, new_vm


def _target(sshd: SSHD, **changes: object) -> SSHTarget:
    values: dict[str, object] = {"address": "127.0.0.1", "port": sshd.port, "user": "root",
                                 "private_key": sshd.client_key, "passphrase": None, "host_key": sshd.host_key_pub}
    values.update(changes)
    return SSHTarget(**values)  # type: ignore[arg-type]


def _other_key(tmp_path: Path, name: str, passphrase: str = "") -> tuple[str, str]:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", str(tmp_path / name)], check=True)
    return (tmp_path / name).read_text(), " ".join((tmp_path / f"{name}.pub").read_text().split()[:2])


def _virsh_domains() -> set[str]:
    listed = subprocess.run(["virsh", "-c", URI, "list", "--all", "--name"], capture_output=True, text=True,
                            check=True)
    return {n.strip() for n in listed.stdout.splitlines() if n.strip()}


def test_preflight_passes_and_lists_domains(sshd: SSHD, libvirt_daemons: None, tmp_path: Path) -> None:
    assert preflight.preflight(_target(sshd), URI) == "ok: libvirt answers at qemu:///system"
    own = f"dcops-preflight-{os.getpid()}"  # a defined, shut-off domain of this test's own
    xml = tmp_path / "own.xml"
    xml.write_text(f"<domain type='qemu'><name>{own}</name><memory unit='MiB'>16</memory>"
                   "<os><type>hvm</type></os></domain>")
    subprocess.run(["virsh", "-q", "-c", URI, "define", str(xml)], check=True, capture_output=True)
    try:
        # tests on the other worker define and remove domains meanwhile: what was there before and after the
        # call must be listed, and nothing that was in neither
        before = _virsh_domains()
        domains = preflight.list_domains(_target(sshd), URI)
        after = _virsh_domains()
    finally:
        subprocess.run(["virsh", "-q", "-c", URI, "undefine", own], check=True, capture_output=True)
    assert before & after <= set(domains) <= before | after
    assert domains[own] == "shut off"
    assert set(domains.values()) <= {"running", "shut off"}


def test_preflight_errors_say_what_is_wrong(sshd: SSHD, libvirt_daemons: None, tmp_path: Path) -> None:
    stranger_key, stranger_pub = _other_key(tmp_path, "stranger")
    with pytest.raises(PreflightError, match="does not match the pinned key") as mismatch:
        preflight.preflight(_target(sshd, host_key=stranger_pub), URI)
    assert preflight.fingerprint(stranger_pub) in mismatch.value.message
    with pytest.raises(PreflightError, match=r"SSH to root@127\.0\.0\.1:\d+ failed: authentication failed"):
        preflight.preflight(_target(sshd, private_key=stranger_key), URI)
    closed = free_port()
    with pytest.raises(PreflightError, match=f"cannot reach 127.0.0.1:{closed}: .*refused"):
        preflight.preflight(_target(sshd, port=closed), URI)
    with pytest.raises(PreflightError, match="no host key is pinned"):
        preflight.preflight(_target(sshd, host_key=""), URI)
    with pytest.raises(PreflightError, match="libvirt does not answer on 127.0.0.1"):
        preflight.preflight(_target(sshd), "qemu:///nowhere")
    with pytest.raises(ValidationError, match="cannot be read"):
        preflight.preflight(_target(sshd, private_key="not a key"), URI)
    locked, _ = _other_key(tmp_path, "locked", passphrase="right horse")
    with pytest.raises(ValidationError, match="cannot be read"):
        preflight.preflight(_target(sshd, private_key=locked, passphrase="wrong"), URI)


def test_a_job_whose_preflight_fails_makes_no_connection(session: Any, lab: Lab, tmp_path: Path) -> None:
    """The runner pre-flights while ansible-playbook starts; a failure refuses every connection of the run."""
    from dcops.provisioning.models import HypervisorAccess

    _, stranger_pub = _other_key(tmp_path, "stranger")
    access = session.get(HypervisorAccess, lab.access.id)
    access.host_key = stranger_pub  # the pin no longer matches: the pre-flight (due again) must refuse the host
    access.preflight_at = utcnow() - timedelta(seconds=jobs.PREFLIGHT_FRESH_S + 1)
    session.commit()
    alone, one, two = (new_vm(session, lab, tag) for tag in ("pfa", "pfb", "pfc"))
    launched = service.launch(session, actor=SYSTEM, vm_ids=[alone.id, one.id, two.id])
    ids = [job.id for job in launched]
    assert jobs.run_now(ids[0]) == JobStatus.FAILED
    for job_id in ids[1:]:
        assert jobs.claim_job(session, job_id)
    assert jobs.execute_batch(ids[1:]) == dict.fromkeys(ids[1:], JobStatus.FAILED)
    session.expire_all()
    for job_id, vm in zip(ids, (alone, one, two), strict=True):
        job = session.get(Job, job_id)
        assert job.failed_task == "pre-flight" and job.error.startswith("pre-flight failed: the host key of")
        assert session.execute(select(JobEvent).where(JobEvent.job_id == job_id)).first() is None  # no play shown
        assert session.get(type(vm), vm.id).state == "failed"
        assert dominfo(vm.name) == {}
    assert session.get(HypervisorAccess, lab.access.id).preflight_ok is False
    session.commit()

    access = session.get(HypervisorAccess, lab.access.id)  # the right pin again, the pre-flight due again
    access.host_key, access.preflight_at = lab.sshd.host_key_pub, utcnow() - timedelta(seconds=60)
    session.commit()
    vm = new_vm(session, lab, "pfok")
    [job] = service.launch(session, actor=SYSTEM, vm_ids=[vm.id])
    assert jobs.run_now(job.id) == JobStatus.SUCCEEDED, session.get(Job, job.id).stdout[-2000:]
    session.expire_all()
    checked = session.get(HypervisorAccess, lab.access.id)
    assert checked.preflight_ok and utcnow() - checked.preflight_at.replace(tzinfo=UTC) < timedelta(seconds=60)
    kinds = [e.event for e in session.execute(select(JobEvent).where(JobEvent.job_id == job.id)
                                              .order_by(JobEvent.seq)).scalars()]
    assert kinds[0] == "playbook_on_start" and "runner_on_ok" in kinds  # the held events came through
    assert dominfo(vm.name)["State"] == "running"
    session.commit()
