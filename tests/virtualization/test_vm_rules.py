"""VM rules on update and the agency quota: through the API, as operators change running VMs."""

from __future__ import annotations

from typing import Any

VMS = "/api/v1/virtualization/virtual-machines"


def _vm(agency: Any, cluster: Any, name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "agency_id": agency.id, "cluster_id": cluster.id, "vcpus": 2, "ram_gib": 4,
            "disk_gib": 40} | extra


def test_a_vm_at_its_quota_can_still_be_edited(client: Any, admin: dict[str, str], factory: Any) -> None:
    agency, cluster = factory.agency(quota_vcpus=4, quota_ram_gib=8), factory.cluster()
    vm = client.post(VMS, json=_vm(agency, cluster, "sikd-01", vcpus=4, ram_gib=8), headers=admin).json()

    described = client.patch(f"{VMS}/{vm['id']}", json={"description": "keuangan daerah"}, headers=admin)
    smaller = client.patch(f"{VMS}/{vm['id']}", json={"ram_gib": 6}, headers=admin)

    assert described.status_code == 200, "the VM is not counted twice against its own quota"
    assert smaller.status_code == 200 and smaller.json()["ram_gib"] == 6


def test_growing_past_the_quota_is_refused_and_changes_nothing(
    client: Any, admin: dict[str, str], factory: Any
) -> None:
    agency, cluster = factory.agency(quota_vcpus=6), factory.cluster()
    client.post(VMS, json=_vm(agency, cluster, "siap-01", vcpus=2), headers=admin)
    vm = client.post(VMS, json=_vm(agency, cluster, "siap-02", vcpus=2), headers=admin).json()

    grown = client.patch(f"{VMS}/{vm['id']}", json={"vcpus": 5}, headers=admin)

    assert grown.status_code == 409, grown.text
    assert "quota exceeded" in grown.json()["detail"] and "vCPU: 2 of 6 used, 5 more asked (1 over)" in \
        grown.json()["detail"]
    assert client.get(f"{VMS}/{vm['id']}", headers=admin).json()["vcpus"] == 2
    assert client.patch(f"{VMS}/{vm['id']}", json={"vcpus": 4}, headers=admin).status_code == 200


def test_reviving_a_decommissioned_vm_counts_against_the_quota_again(
    client: Any, admin: dict[str, str], factory: Any
) -> None:
    agency, cluster = factory.agency(quota_vms=1), factory.cluster()
    old = client.post(VMS, json=_vm(agency, cluster, "simral-01"), headers=admin).json()
    client.patch(f"{VMS}/{old['id']}", json={"state": "decommissioned"}, headers=admin)
    new = client.post(VMS, json=_vm(agency, cluster, "simral-02"), headers=admin)
    assert new.status_code == 201, new.text

    revived = client.patch(f"{VMS}/{old['id']}", json={"state": "stopped"}, headers=admin)

    assert revived.status_code == 409 and "VM count" in revived.json()["detail"]
    assert client.get(f"{VMS}/{old['id']}", headers=admin).json()["state"] == "decommissioned"


def test_a_vm_moves_only_to_a_hypervisor_of_its_cluster(client: Any, admin: dict[str, str], factory: Any) -> None:
    agency, main, dr = factory.agency(), factory.cluster(), factory.cluster()
    host = factory.device(role="hypervisor", cluster_id=main.id)
    spare = factory.device(role="hypervisor", cluster_id=main.id)
    far = factory.device(role="hypervisor", cluster_id=dr.id)
    vm = client.post(VMS, json=_vm(agency, main, "sipd-01", host_id=host.id), headers=admin).json()

    to_far = client.patch(f"{VMS}/{vm['id']}", json={"host_id": far.id}, headers=admin)
    cluster_only = client.patch(f"{VMS}/{vm['id']}", json={"cluster_id": dr.id}, headers=admin)
    to_spare = client.patch(f"{VMS}/{vm['id']}", json={"host_id": spare.id}, headers=admin)
    both = client.patch(f"{VMS}/{vm['id']}", json={"cluster_id": dr.id, "host_id": far.id}, headers=admin)

    assert to_far.status_code == 422 and "not in the VM's cluster" in to_far.json()["detail"]
    assert cluster_only.status_code == 422, "the host stays behind in the old cluster"
    assert to_spare.status_code == 200 and to_spare.json()["host_id"] == spare.id
    assert both.status_code == 200 and (both.json()["cluster_id"], both.json()["host_id"]) == (dr.id, far.id)


def test_quota_is_per_agency(client: Any, admin: dict[str, str], factory: Any) -> None:
    tight, roomy, cluster = factory.agency(quota_vms=1), factory.agency(), factory.cluster()
    client.post(VMS, json=_vm(tight, cluster, "a-01"), headers=admin)

    other = client.post(VMS, json=_vm(roomy, cluster, "b-01"), headers=admin)
    second = client.post(VMS, json=_vm(tight, cluster, "a-02"), headers=admin)

    assert other.status_code == 201, "another agency's VMs do not count"
    assert second.status_code == 409 and "VM count: 1 of 1 used" in second.json()["detail"]
