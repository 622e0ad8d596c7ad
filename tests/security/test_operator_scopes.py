"""Operator scopes: an operator with agencies serves only those; one without serves all (as before)."""

from __future__ import annotations

from typing import Any

import pytest

VMS = "/api/v1/virtualization/virtual-machines"


@pytest.fixture
def world(factory: Any, tokens: Any, client: Any, admin: dict[str, str]) -> dict[str, Any]:
    a, b = factory.agency(code="AGA"), factory.agency(code="AGB")
    cluster = factory.cluster(name="c1")
    vm_a = factory.vm(a, cluster, state="stopped")
    vm_b = factory.vm(b, cluster, state="stopped")
    scoped_user, scoped_token = tokens.user("operator")
    r = client.put(f"/api/v1/auth/users/{scoped_user.id}/agencies", json={"agency_ids": [a.id]}, headers=admin)
    assert r.status_code == 200 and r.json()["agency_ids"] == [a.id], r.text
    return {"a": a, "b": b, "cluster": cluster, "vm_a": vm_a, "vm_b": vm_b,
            "scoped": {"Authorization": f"Bearer {scoped_token}"}, "free": tokens.headers("operator")}


def test_scopes_are_listed_and_only_admins_set_them(client, admin, world, tokens):
    uid = client.get("/api/v1/auth/me", headers=world["scoped"]).json()["id"]
    assert client.get(f"/api/v1/auth/users/{uid}/agencies", headers=admin).json()["agency_ids"] == [world["a"].id]
    r = client.put(f"/api/v1/auth/users/{uid}/agencies", json={"agency_ids": [world["b"].id]},
                   headers=world["scoped"])
    assert r.status_code == 403
    r = client.put(f"/api/v1/auth/users/{uid}/agencies", json={"agency_ids": [424242]}, headers=admin)
    assert r.status_code == 422 and "424242" in r.json()["detail"]
    planner, _ = tokens.user("planner")
    r = client.put(f"/api/v1/auth/users/{planner.id}/agencies", json={"agency_ids": [world["a"].id]}, headers=admin)
    assert r.status_code == 422 and "only operators" in r.json()["detail"]


@pytest.mark.parametrize("action", ["start", "stop", "decommission"])
def test_vm_actions_obey_the_scope(client, world, action):
    other = client.post(f"/api/v1/provisioning/vms/{world['vm_b'].id}/{action}", headers=world["scoped"])
    assert other.status_code == 403 and "does not serve" in other.json()["detail"]
    own = client.post(f"/api/v1/provisioning/vms/{world['vm_a'].id}/{action}", headers=world["scoped"])
    assert own.status_code != 403, own.text
    unscoped = client.post(f"/api/v1/provisioning/vms/{world['vm_b'].id}/{action}", headers=world["free"])
    assert unscoped.status_code != 403, unscoped.text


def test_vm_writes_obey_the_scope_through_the_api_and_the_import(client, world):
    r = client.patch(f"{VMS}/{world['vm_b'].id}", json={"description": "x"}, headers=world["scoped"])
    assert r.status_code == 403
    assert client.patch(f"{VMS}/{world['vm_a'].id}", json={"description": "x"},
                        headers=world["scoped"]).status_code == 200
    r = client.patch(f"{VMS}/{world['vm_a'].id}", json={"agency_id": world["b"].id}, headers=world["scoped"])
    assert r.status_code == 403  # cannot hand a VM to an agency it does not serve
    body = b"name,agency,cluster,vcpus,ram_gib,disk_gib\nvm-new,AGB,c1,1,1,10\n"
    r = client.post("/api/v1/import/vms?dry_run=true", content=body,
                    headers=world["scoped"] | {"Content-Type": "text/csv"})
    assert r.status_code == 422 and "does not serve" in r.text
    r = client.post("/api/v1/import/vms?dry_run=true", content=body.replace(b"AGB", b"AGA"),
                    headers=world["scoped"] | {"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert client.delete(f"{VMS}/{world['vm_b'].id}", headers=world["scoped"]).status_code == 403


def test_jobs_obey_the_scope(client, world, session):
    from dcops.provisioning.models import Job

    job = Job(action="start", vm_id=world["vm_b"].id, vm_name=world["vm_b"].name, agency_id=world["b"].id)
    session.add(job)
    session.commit()
    job_id = job.id
    assert client.post(f"/api/v1/provisioning/jobs/{job_id}/retry", headers=world["scoped"]).status_code == 403
    assert client.post(f"/api/v1/provisioning/jobs/{job_id}/cancel", headers=world["scoped"]).status_code == 403
    assert client.post(f"/api/v1/provisioning/jobs/{job_id}/cancel", headers=world["free"]).status_code == 200


def test_capacity_requests_obey_the_scope(client, world):
    body = {"agency_id": world["b"].id, "justification": "growth", "items": [
        {"name_prefix": "app", "count": 1, "vcpus": 1, "ram_gib": 1, "disk_gib": 10}]}
    r = client.post("/api/v1/capacity/requests", json=body, headers=world["scoped"])
    assert r.status_code == 403 and "does not serve" in r.json()["detail"], r.text
    r = client.post("/api/v1/capacity/requests", json=body, headers=world["free"])
    assert r.status_code != 403, r.text
