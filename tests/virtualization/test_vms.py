"""Tenant VMs through the API: hosts of the right cluster, addresses IPAM knows, and the address life cycle."""

from __future__ import annotations

from typing import Any

VMS = "/api/v1/virtualization/virtual-machines"
IPS = "/api/v1/ipam/ip-addresses"


def _vm(agency: Any, cluster: Any, name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "agency_id": agency.id, "cluster_id": cluster.id, "vcpus": 2, "ram_gib": 4,
            "disk_gib": 40} | extra


def test_host_must_be_a_hypervisor_of_the_vms_cluster(client: Any, admin: dict[str, str], factory: Any) -> None:
    agency, main, dr = factory.agency(), factory.cluster(), factory.cluster()
    switch = factory.device(role="switch")
    other_cluster_host = factory.device(role="hypervisor", cluster_id=dr.id)
    host = factory.device(role="hypervisor", cluster_id=main.id)

    not_hv = client.post(VMS, json=_vm(agency, main, "a-01", host_id=switch.id), headers=admin)
    wrong = client.post(VMS, json=_vm(agency, main, "a-02", host_id=other_cluster_host.id), headers=admin)
    ok = client.post(VMS, json=_vm(agency, main, "a-03", host_id=host.id), headers=admin)

    assert not_hv.status_code == 422 and "not a hypervisor" in not_hv.json()["detail"]
    assert wrong.status_code == 422 and "not in the VM's cluster" in wrong.json()["detail"]
    assert ok.status_code == 201, ok.text
    assert client.get(VMS, headers=admin).json()["count"] == 1


def test_address_is_allocated_moved_and_released_with_the_vm(
    client: Any, admin: dict[str, str], factory: Any
) -> None:
    agency, cluster = factory.agency(), factory.cluster()
    prefix = factory.prefix(cidr="192.0.2.0/24", agency_id=agency.id)

    vm = client.post(VMS, json=_vm(agency, cluster, "simpus-01", ip_address="192.0.2.10"), headers=admin).json()
    held = client.get(IPS, params={"vm_id": vm["id"]}, headers=admin).json()["data"]
    assert [(a["address"], a["prefix_id"], a["dns_name"]) for a in held] == [("192.0.2.10", prefix.id, "simpus-01")]

    moved = client.patch(f"{VMS}/{vm['id']}", json={"ip_address": "192.0.2.11"}, headers=admin)
    assert moved.status_code == 200, moved.text
    assert [a["address"] for a in client.get(IPS, headers=admin).json()["data"]] == ["192.0.2.11"]

    gone = client.patch(f"{VMS}/{vm['id']}", json={"state": "decommissioned"}, headers=admin)
    assert gone.status_code == 200 and gone.json()["ip_address"] is None
    assert client.get(IPS, headers=admin).json()["count"] == 0


def test_addresses_are_unique_and_must_be_in_a_prefix(client: Any, admin: dict[str, str], factory: Any) -> None:
    agency, cluster = factory.agency(), factory.cluster()
    factory.prefix(cidr="192.0.2.0/24")
    client.post(VMS, json=_vm(agency, cluster, "b-01", ip_address="192.0.2.20"), headers=admin)

    taken = client.post(VMS, json=_vm(agency, cluster, "b-02", ip_address="192.0.2.20"), headers=admin)
    outside = client.post(VMS, json=_vm(agency, cluster, "b-03", ip_address="198.51.100.5"), headers=admin)
    bad = client.post(VMS, json=_vm(agency, cluster, "b-04", ip_address="192.0.2.300"), headers=admin)

    assert taken.status_code == 409 and "already allocated" in taken.json()["detail"]
    assert outside.status_code == 422 and "no prefix contains" in outside.json()["detail"]
    assert bad.status_code == 422
    assert [v["name"] for v in client.get(VMS, headers=admin).json()["data"]] == ["b-01"]


def test_names_are_dns_labels(client: Any, admin: dict[str, str], factory: Any) -> None:
    agency, cluster = factory.agency(), factory.cluster()

    upper = client.post(VMS, json=_vm(agency, cluster, "E-Planning"), headers=admin)
    bad = client.post(VMS, json=_vm(agency, cluster, "e_planning"), headers=admin)

    assert upper.status_code == 201 and upper.json()["name"] == "e-planning"
    assert bad.status_code == 422


def test_agency_viewer_sees_only_its_vms(client: Any, admin: dict[str, str], factory: Any, tokens: Any) -> None:
    own, other, cluster = factory.agency(), factory.agency(), factory.cluster()
    mine = factory.vm(own, cluster)
    theirs = factory.vm(other, cluster)
    viewer = tokens.headers("agency-viewer", agency_id=own.id)

    assert [v["name"] for v in client.get(VMS, headers=viewer).json()["data"]] == [mine.name]
    assert client.get(f"{VMS}/{theirs.id}", headers=viewer).status_code == 404
    assert client.patch(f"{VMS}/{mine.id}", json={"vcpus": 4}, headers=viewer).status_code == 403
