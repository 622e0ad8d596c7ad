"""The capacity journey on the demo data, as its users walk it through the API with the demo accounts."""

from __future__ import annotations

import pytest

from dcops.demo.build import build_demo

REQ = "/api/v1/capacity/requests"


@pytest.fixture
def demo(session, monkeypatch):
    from dcops.config import get_settings

    monkeypatch.setenv("DCOPS_AUTO_PROVISION", "false")
    get_settings.cache_clear()
    summary = build_demo(session)
    session.commit()
    yield {u.username: {"Authorization": f"Bearer {u.token}"} for u in summary.users}
    get_settings.cache_clear()


def _dinkes(client, headers):
    agencies = client.get("/api/v1/tenancy/agencies", params={"code": "DINKES"}, headers=headers).json()["data"]
    return agencies[0]


def _cluster(client, headers, name="KLASTER-UTAMA"):
    return next(c for c in client.get("/api/v1/capacity/headroom", headers=headers).json()["clusters"]
                if c["name"] == name)


def test_operator_files_for_dinkes_admin_approves_headroom_follows(client, demo):
    operator, admin, viewer = demo["demo-operator"], demo["demo-admin"], demo["demo-dinkes"]
    dinkes = _dinkes(client, operator)
    before = _cluster(client, operator)
    request = {"agency_id": dinkes["id"], "justification": "SIMPUS untuk 40 puskesmas",
               "items": [{"name_prefix": "dinkes-simpus-app", "count": 2, "vcpus": 4, "ram_gib": 8, "disk_gib": 100,
                          "anti_affinity_group": "simpus"}]}

    preview = client.post(f"{REQ}/preview", json=request, headers=operator).json()
    assert preview["fits"], preview
    assert len({p["host"] for p in preview["placements"]}) == 2
    filed = client.post(REQ, json=request, headers=operator)
    assert filed.status_code == 201, filed.text
    rid = filed.json()["id"]
    assert client.get(f"{REQ}/{rid}/preview", headers=operator).json()["placements"] == preview["placements"]

    approved = client.post(f"{REQ}/{rid}/approve", headers=admin)
    assert approved.status_code == 200, approved.text
    vms = approved.json()["vms"]
    assert [v["host"] for v in vms] == [p["host"] for p in preview["placements"]]

    after = _cluster(client, operator)
    assert after["resources"]["vcpus"]["allocated"] == before["resources"]["vcpus"]["allocated"] + 8
    assert after["resources"]["ram_gib"]["allocated"] == before["resources"]["ram_gib"]["allocated"] + 16
    for vm in vms:
        host_before = next(h for h in before["hosts"] if h["name"] == vm["host"])
        host_after = next(h for h in after["hosts"] if h["name"] == vm["host"])
        assert host_after["vcpus"]["allocated"] == host_before["vcpus"]["allocated"] + 4
    # the agency's own viewer follows its request, and sees nobody else's
    assert client.get(f"{REQ}/{rid}", headers=viewer).json()["status"] == "approved"


def test_over_quota_and_too_large_are_refused_naming_the_resource(client, demo):
    operator, admin = demo["demo-operator"], demo["demo-admin"]
    dinkes = _dinkes(client, operator)
    big = {"agency_id": dinkes["id"], "justification": "data warehouse kesehatan",
           "items": [{"name_prefix": "dinkes-dwh", "count": 10, "vcpus": 8, "ram_gib": 16, "disk_gib": 100}]}
    r = client.post(REQ, json=big, headers=operator)
    assert r.status_code == 409
    assert "quota" in r.json()["detail"] and "vCPU" in r.json()["detail"]

    # with the quota lifted by an admin, a VM larger than any host still cannot be placed
    assert client.patch(f"/api/v1/tenancy/agencies/{dinkes['id']}", json={"quota_vcpus": None, "quota_ram_gib": None},
                        headers=admin).status_code == 200
    huge = big | {"items": [{"name_prefix": "dinkes-hpc", "count": 1, "vcpus": 16, "ram_gib": 8000, "disk_gib": 100}]}
    r = client.post(REQ, json=huge, headers=operator)
    assert r.status_code == 409
    assert "does not fit" in r.json()["detail"] and "RAM" in r.json()["detail"]
