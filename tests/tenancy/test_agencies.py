"""Agencies through the API: the kecamatan/kelurahan hierarchy, quotas against live VMs, and delete protection."""

from __future__ import annotations

from typing import Any

import pytest

API = "/api/v1/tenancy/agencies"
VMS = "/api/v1/virtualization/virtual-machines"


def _agency(client: Any, admin: dict[str, str], code: str, **extra: Any) -> Any:
    return client.post(API, json={"code": code, "name": f"Agency {code}"} | extra, headers=admin)


def test_kelurahan_needs_a_kecamatan_parent(client: Any, admin: dict[str, str]) -> None:
    orphan = _agency(client, admin, "KEL-A", kind="kelurahan")
    dinas = _agency(client, admin, "DINKES", kind="dinas").json()
    under_dinas = _agency(client, admin, "KEL-B", kind="kelurahan", parent_id=dinas["id"])
    kec = _agency(client, admin, "KEC-UTARA", kind="kecamatan").json()
    ok = _agency(client, admin, "KEL-C", kind="kelurahan", parent_id=kec["id"])

    assert orphan.status_code == 422 and "kecamatan as parent_id" in orphan.json()["detail"]
    assert under_dinas.status_code == 422 and "'DINKES' is a dinas" in under_dinas.json()["detail"]
    assert ok.status_code == 201, ok.text
    assert ok.json()["parent_id"] == kec["id"]
    codes = {a["code"] for a in client.get(API, params={"limit": 50}, headers=admin).json()["data"]}
    assert codes == {"DINKES", "KEC-UTARA", "KEL-C"}, "refused agencies were not written"


def test_parent_cycles_are_refused(client: Any, admin: dict[str, str]) -> None:
    a = _agency(client, admin, "BAPPEDA", kind="badan").json()
    b = _agency(client, admin, "BKD", kind="badan", parent_id=a["id"]).json()
    c = _agency(client, admin, "BPKAD", kind="badan", parent_id=b["id"]).json()

    self_parent = client.patch(f"{API}/{a['id']}", json={"parent_id": a["id"]}, headers=admin)
    cycle = client.patch(f"{API}/{a['id']}", json={"parent_id": c["id"]}, headers=admin)

    assert self_parent.status_code == 422 and "its own parent" in self_parent.json()["detail"]
    assert cycle.status_code == 422 and "cycle" in cycle.json()["detail"]
    assert client.get(f"{API}/{a['id']}", headers=admin).json()["parent_id"] is None


def test_codes_are_upper_cased_and_unique(client: Any, admin: dict[str, str]) -> None:
    first = _agency(client, admin, "diskominfo")
    again = client.post(API, json={"code": "DISKOMINFO", "name": "Another name"}, headers=admin)

    assert first.status_code == 201 and first.json()["code"] == "DISKOMINFO"
    assert again.status_code == 409 and "DISKOMINFO" in again.json()["detail"]


@pytest.mark.parametrize("field, limit, vm, word", [
    ("quota_vcpus", 6, {"vcpus": 4, "ram_gib": 4, "disk_gib": 40}, "vCPU"),
    ("quota_ram_gib", 10, {"vcpus": 1, "ram_gib": 8, "disk_gib": 40}, "RAM"),
    ("quota_disk_gib", 100, {"vcpus": 1, "ram_gib": 1, "disk_gib": 80}, "disk"),
    ("quota_vms", 1, {"vcpus": 1, "ram_gib": 1, "disk_gib": 10}, "VM count"),
])
def test_quota_counts_live_vms_and_frees_on_decommission(
    client: Any, admin: dict[str, str], factory: Any, field: str, limit: int, vm: dict[str, int], word: str
) -> None:
    agency = _agency(client, admin, "DISDIK", **{field: limit}).json()
    cluster = factory.cluster()
    body = {"agency_id": agency["id"], "cluster_id": cluster.id} | vm

    first = client.post(VMS, json=body | {"name": "simdik-01"}, headers=admin)
    second = client.post(VMS, json=body | {"name": "simdik-02"}, headers=admin)

    assert first.status_code == 201, first.text
    assert second.status_code == 409, second.text
    assert word in second.json()["detail"] and "over" in second.json()["detail"]

    gone = client.patch(f"{VMS}/{first.json()['id']}", json={"state": "decommissioned"}, headers=admin)
    assert gone.status_code == 200, gone.text
    third = client.post(VMS, json=body | {"name": "simdik-03"}, headers=admin)
    assert third.status_code == 201, "a decommissioned VM no longer counts against the quota"


def test_agency_with_vms_cannot_be_deleted(client: Any, admin: dict[str, str], factory: Any) -> None:
    agency = _agency(client, admin, "DISHUB").json()
    client.post(VMS, json={"agency_id": agency["id"], "cluster_id": factory.cluster().id, "name": "sipp-01",
                           "vcpus": 1, "ram_gib": 1, "disk_gib": 10}, headers=admin)

    r = client.delete(f"{API}/{agency['id']}", headers=admin)

    assert r.status_code == 409, r.text
    assert client.get(f"{API}/{agency['id']}", headers=admin).status_code == 200


def test_agency_viewer_sees_its_own_agency_only(client: Any, admin: dict[str, str], tokens: Any) -> None:
    own = _agency(client, admin, "DINSOS").json()
    other = _agency(client, admin, "DPMPTSP").json()
    viewer = tokens.headers("agency-viewer", agency_id=own["id"])

    listed = client.get(API, headers=viewer).json()

    assert [a["code"] for a in listed["data"]] == ["DINSOS"]
    assert client.get(f"{API}/{other['id']}", headers=viewer).status_code == 404
    assert client.post(API, json={"code": "NEW", "name": "New agency"}, headers=viewer).status_code == 403
