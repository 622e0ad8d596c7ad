"""Access control and input errors of the provisioning API (jobs are queued, not run)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from dcops.auth.actor import SYSTEM
from dcops.dcim.service import save_credential
from dcops.provisioning.models import HypervisorAccess


def _setup(session: Any, factory: Any, tmp_path: Path) -> dict[str, Any]:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True)
    site = factory.site()
    cluster = factory.cluster(site_id=site.id, ha_reserve_hosts=0)
    host = factory.device(site=site, role="hypervisor", cluster_id=cluster.id, mgmt_address="127.0.0.1")
    cred = save_credential(session, actor=SYSTEM, data={"name": "ssh-x", "kind": "ssh_key", "username": "root",
                                                         "private_key": (tmp_path / "k").read_text()})
    session.add(HypervisorAccess(device_id=host.id, credential_id=cred.id, ssh_port=22,
                                 host_key=(tmp_path / "k.pub").read_text().split(" ", 2)[0] + " "
                                 + (tmp_path / "k.pub").read_text().split()[1]))
    session.commit()
    a, b = factory.agency(), factory.agency()
    vm_a = factory.vm(a, cluster, host_id=host.id, state="running")
    vm_b = factory.vm(b, cluster, host_id=host.id, state="running")
    return {"a": a, "b": b, "vm_a": vm_a, "vm_b": vm_b}


def test_roles_and_agency_scope(session: Any, factory: Any, client: Any, tokens: Any, tmp_path: Path) -> None:
    s = _setup(session, factory, tmp_path)
    operator = tokens.headers("operator")
    job_a = client.post(f"/api/v1/provisioning/vms/{s['vm_a'].id}/stop", headers=operator)
    assert job_a.status_code == 202, job_a.text
    assert job_a.json()["status"] == "queued" and job_a.json()["action"] == "stop"
    job_b = client.post(f"/api/v1/provisioning/vms/{s['vm_b'].id}/start", headers=operator)
    assert job_b.status_code == 202
    # one unfinished job per VM
    busy = client.post(f"/api/v1/provisioning/vms/{s['vm_a'].id}/start", headers=operator)
    assert busy.status_code == 409 and "already has job" in busy.json()["detail"]

    viewer = tokens.headers("agency-viewer", s["a"].id)
    listed = client.get("/api/v1/provisioning/jobs", headers=viewer).json()
    assert [j["id"] for j in listed["data"]] == [job_a.json()["id"]]
    assert client.get(f"/api/v1/provisioning/jobs/{job_a.json()['id']}", headers=viewer).status_code == 200
    assert client.get(f"/api/v1/provisioning/jobs/{job_b.json()['id']}", headers=viewer).status_code == 404
    assert client.post(f"/api/v1/provisioning/vms/{s['vm_a'].id}/start", headers=viewer).status_code == 403
    assert client.get("/api/v1/provisioning/hypervisors", headers=viewer).status_code == 403

    auditor = tokens.headers("auditor")
    assert client.get("/api/v1/provisioning/jobs", headers=auditor).json()["count"] == 2
    assert client.get("/api/v1/provisioning/hypervisors", headers=auditor).status_code == 200
    assert client.post(f"/api/v1/provisioning/jobs/{job_a.json()['id']}/cancel", headers=auditor).status_code == 403

    cancelled = client.post(f"/api/v1/provisioning/jobs/{job_a.json()['id']}/cancel", headers=operator)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post(f"/api/v1/provisioning/jobs/{job_a.json()['id']}/cancel", headers=operator)
    assert again.status_code == 409
    assert client.get("/api/v1/provisioning/jobs", headers=auditor, params={"status": "cancelled"}).json()["count"] == 1


def test_bad_input_answers_4xx(session: Any, factory: Any, client: Any, admin: dict[str, str],
                               tmp_path: Path) -> None:
    s = _setup(session, factory, tmp_path)
    vm = s["vm_a"]
    assert client.post("/api/v1/provisioning/vms/99999/start", headers=admin).status_code == 404
    assert client.post(f"/api/v1/provisioning/vms/{vm.id}/resize", headers=admin,
                       json={"vcpus": 0}).status_code == 422
    same = client.post(f"/api/v1/provisioning/vms/{vm.id}/resize", headers=admin, json={"vcpus": vm.vcpus})
    assert same.status_code == 422 and "new vcpus" in same.json()["detail"]
    assert client.post("/api/v1/provisioning/jobs/424242/retry", headers=admin).status_code == 404
    keys = client.put(f"/api/v1/provisioning/agencies/{s['a'].id}/ssh-keys", headers=admin,
                      json={"authorized_keys": "-----BEGIN OPENSSH PRIVATE KEY-----"})
    assert keys.status_code == 422
    ok = client.put(f"/api/v1/provisioning/agencies/{s['a'].id}/ssh-keys", headers=admin,
                    json={"authorized_keys": (tmp_path / "k.pub").read_text()})
    assert ok.status_code == 204
    unreachable = client.post("/api/v1/provisioning/hypervisors", headers=admin, json={
        "name": "hv-nowhere", "address": "127.0.0.1", "ssh_port": 1, "cluster": "nope", "site": None,
        "private_key": (tmp_path / "k").read_text()})
    assert unreachable.status_code == 409 and "cannot reach" in unreachable.json()["detail"]
