"""Capacity requests through the API: file, preview, approve, reject, cancel; quota, fit, HA reserve, RBAC."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from dcops.capacity.models import CapacityRequestEvent
from dcops.ipam.models import IPAddress
from dcops.virtualization.models import VirtualMachine

REQ = "/api/v1/capacity/requests"


pytestmark = pytest.mark.usefixtures("no_auto_provision")


def city(factory: Any, *, hosts: int = 3, reserve: int = 1, quota: dict[str, int] | None = None) -> dict[str, Any]:
    """A cluster of identical hosts (64 threads × 4 = 256 vCPU, 512 GiB, 8 TB) and one agency with a /24."""
    rack = factory.rack()
    dtype = factory.device_type(cpu_threads=64, ram_gib=512, storage_tb=8)
    cluster = factory.cluster(ha_reserve_hosts=reserve, vcpu_ratio=4.0)
    hvs = [factory.device(rack=rack, dtype=dtype, role="hypervisor", cluster_id=cluster.id, position=1 + 2 * i)
           for i in range(hosts)]
    agency = factory.agency(code="DINKES", name="Dinas Kesehatan", **(quota or {}))
    factory.prefix(cidr="10.20.3.0/24", agency_id=agency.id, gateway="10.20.3.1")
    return {"cluster": cluster, "hosts": hvs, "agency": agency}


def body(agency_id: int, *lines: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"agency_id": agency_id, "justification": "SIMPUS expansion for 2027", "items": list(lines)} | kw


def line(prefix: str = "simpus", count: int = 1, vcpus: int = 4, ram: int = 8, disk: int = 100, **kw: Any) -> dict:
    return {"name_prefix": prefix, "count": count, "vcpus": vcpus, "ram_gib": ram, "disk_gib": disk} | kw


def test_operator_files_admin_approves_and_headroom_moves(client, tokens, factory, session):
    env = city(factory)
    operator, admin = tokens.headers("operator"), tokens.headers("admin")
    before = client.get("/api/v1/capacity/headroom", headers=operator).json()["clusters"][0]["resources"]

    preview = client.post(f"{REQ}/preview", json=body(env["agency"].id, line(count=3, anti_affinity_group="web")),
                          headers=operator)
    assert preview.status_code == 200, preview.text
    p = preview.json()
    assert p["fits"] and len(p["placements"]) == 3
    assert len({x["host"] for x in p["placements"]}) == 3  # anti-affinity: three different hosts

    r = client.post(REQ, json=body(env["agency"].id, line(count=3, anti_affinity_group="web")), headers=operator)
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["status"] == "requested" and req["total_vcpus"] == 12 and req["vms"] == []
    assert client.get(f"{REQ}/{req['id']}/preview", headers=operator).json()["fits"]

    assert client.post(f"{REQ}/{req['id']}/approve", headers=operator).status_code == 403
    r = client.post(f"{REQ}/{req['id']}/approve", json={"reason": "ok for 2027"}, headers=admin)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "approved" and done["decided_by"].startswith("admin")
    assert [v["name"] for v in done["vms"]] == ["simpus-01", "simpus-02", "simpus-03"]
    assert len({v["host_id"] for v in done["vms"]}) == 3
    assert all(v["ip_address"].startswith("10.20.3.") for v in done["vms"])
    assert [e["to_status"] for e in done["events"]] == ["requested", "approved"]

    after = client.get("/api/v1/capacity/headroom", headers=operator).json()["clusters"][0]["resources"]
    assert after["vcpus"]["allocated"] == before["vcpus"]["allocated"] + 12
    assert after["ram_gib"]["allocated"] == before["ram_gib"]["allocated"] + 24
    assert after["disk_gib"]["allocated"] == before["disk_gib"]["allocated"] + 300
    # the addresses are allocated in IPAM to the VMs
    addresses = session.execute(select(IPAddress.address).where(IPAddress.vm_id.is_not(None))).scalars().all()
    session.rollback()
    assert sorted(addresses) == sorted(v["ip_address"] for v in done["vms"])
    # approving twice is refused, naming what is allowed
    again = client.post(f"{REQ}/{req['id']}/approve", headers=admin)
    assert again.status_code == 409 and "approved" in again.json()["detail"]


def test_over_quota_is_refused_naming_the_resource(client, tokens, factory, session):
    env = city(factory, quota={"quota_vcpus": 16, "quota_ram_gib": 64})
    r = client.post(REQ, json=body(env["agency"].id, line(count=3, vcpus=8, ram=16)),
                    headers=tokens.headers("operator"))
    assert r.status_code == 409
    detail = r.json()["detail"]
    assert "quota" in detail and "vCPU" in detail and "24" in detail and "8 over" in detail
    assert session.execute(select(VirtualMachine)).first() is None


def test_a_request_that_cannot_fit_is_refused_naming_what_is_missing(client, tokens, factory):
    env = city(factory, hosts=2, reserve=0)
    r = client.post(REQ, json=body(env["agency"].id, line(vcpus=300, ram=8)), headers=tokens.headers("operator"))
    assert r.status_code == 409
    assert "vCPU" in r.json()["detail"] and "simpus-01" in r.json()["detail"]
    r = client.post(REQ, json=body(env["agency"].id, line(vcpus=8, ram=600)), headers=tokens.headers("operator"))
    assert r.status_code == 409 and "RAM" in r.json()["detail"]


def test_ha_reserve_keeps_the_largest_host_free(client, tokens, factory):
    env = city(factory, hosts=2, reserve=1)
    operator, admin = tokens.headers("operator"), tokens.headers("admin")
    # one host's worth (256 vCPU) is usable; 200 fits, another 100 would eat into the reserve
    r = client.post(REQ, json=body(env["agency"].id, line("big", vcpus=200, ram=100)), headers=operator)
    assert r.status_code == 201, r.text
    assert client.post(f"{REQ}/{r.json()['id']}/approve", headers=admin).status_code == 200
    r = client.post(REQ, json=body(env["agency"].id, line("more", vcpus=100, ram=100)), headers=operator)
    assert r.status_code == 409 and "HA reserve" in r.json()["detail"]


def test_approval_rechecks_capacity_taken_since_filing(client, tokens, factory):
    env = city(factory, hosts=2, reserve=1)
    operator, admin = tokens.headers("operator"), tokens.headers("admin")
    first = client.post(REQ, json=body(env["agency"].id, line("one", vcpus=200)), headers=operator).json()
    second = client.post(REQ, json=body(env["agency"].id, line("two", vcpus=200)), headers=operator).json()
    assert client.post(f"{REQ}/{first['id']}/approve", headers=admin).status_code == 200
    r = client.post(f"{REQ}/{second['id']}/approve", headers=admin)
    assert r.status_code == 409 and "vCPU" in r.json()["detail"]
    assert client.get(f"{REQ}/{second['id']}", headers=admin).json()["status"] == "requested"


def test_reject_needs_a_reason_and_is_final(client, tokens, factory, session):
    env = city(factory)
    admin = tokens.headers("admin")
    req = client.post(REQ, json=body(env["agency"].id, line()), headers=tokens.headers("operator")).json()
    assert client.post(f"{REQ}/{req['id']}/reject", json={}, headers=admin).status_code == 422
    r = client.post(f"{REQ}/{req['id']}/reject", json={"reason": "use the existing SIMPUS VM"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    r = client.post(f"{REQ}/{req['id']}/approve", headers=admin)
    assert r.status_code == 409 and "rejected" in r.json()["detail"]
    steps = session.execute(select(CapacityRequestEvent.to_status).order_by(CapacityRequestEvent.id)).scalars().all()
    assert steps == ["requested", "rejected"]


def test_cancel_after_approval_releases_vms_and_addresses(client, tokens, factory, session):
    env = city(factory)
    operator_user, operator_token = tokens.user("operator")
    operator = {"Authorization": f"Bearer {operator_token}"}
    admin = tokens.headers("admin")
    req = client.post(REQ, json=body(env["agency"].id, line(count=2)), headers=operator).json()
    assert client.post(f"{REQ}/{req['id']}/approve", headers=admin).status_code == 200
    other_operator = tokens.headers("operator")
    assert client.post(f"{REQ}/{req['id']}/cancel", headers=other_operator).status_code == 403
    r = client.post(f"{REQ}/{req['id']}/cancel", json={"reason": "moved to 2028"}, headers=operator)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert session.execute(select(VirtualMachine)).first() is None
    assert session.execute(select(IPAddress)).first() is None


@pytest.mark.parametrize("payload,fragment", [
    ({"items": []}, "items"),
    ({"items": [line(prefix="Bad Name")]}, "name_prefix"),
    ({"items": [line(vcpus=0)]}, "vcpus"),
    ({"items": [line(), line()]}, "more than once"),
    ({"justification": ""}, "justification"),
    ({"cluster_id": 999}, "cluster"),
])
def test_bad_requests_answer_422_naming_the_field(client, tokens, factory, payload, fragment):
    env = city(factory)
    r = client.post(REQ, json=body(env["agency"].id, line()) | payload, headers=tokens.headers("operator"))
    assert r.status_code == 422, r.text
    assert fragment in r.text


def test_roles_and_agency_scoping(client, tokens, factory):
    env = city(factory)
    other = factory.agency(code="DISDIK", name="Dinas Pendidikan")
    operator = tokens.headers("operator")
    mine = client.post(REQ, json=body(env["agency"].id, line()), headers=operator).json()
    theirs = client.post(REQ, json=body(other.id, line("dapodik")), headers=operator).json()
    for role in ("planner", "oncall", "auditor", "agency-viewer"):
        agency_id = env["agency"].id if role == "agency-viewer" else None
        r = client.post(REQ, json=body(env["agency"].id, line("x")), headers=tokens.headers(role, agency_id))
        assert r.status_code == 403, role
    viewer = tokens.headers("agency-viewer", env["agency"].id)
    listed = client.get(REQ, headers=viewer).json()
    assert [r["id"] for r in listed["data"]] == [mine["id"]]
    assert client.get(f"{REQ}/{theirs['id']}", headers=viewer).status_code == 404
    assert client.get(f"{REQ}/{mine['id']}", headers=viewer).status_code == 200
    assert client.get("/api/v1/capacity/headroom", headers=viewer).status_code == 403
    planner = tokens.headers("planner")
    assert client.get(REQ, headers=planner).json()["count"] == 2
    assert client.get("/api/v1/capacity/headroom", headers=planner).status_code == 200


def test_hosts_in_maintenance_receive_nothing(client, tokens, factory, session):
    from dcops.auth.actor import SYSTEM
    from dcops.dcim.service import devices

    env = city(factory, hosts=3, reserve=0)
    for host in env["hosts"][:2]:
        devices.update(session, actor=SYSTEM, id=host.id, data={"status": "maintenance"})
    r = client.post(f"{REQ}/preview", json=body(env["agency"].id, line(count=2)), headers=tokens.headers("operator"))
    assert {p["host"] for p in r.json()["placements"]} == {env["hosts"][2].name}
    r = client.post(f"{REQ}/preview", json=body(env["agency"].id, line(count=2, anti_affinity_group="ha")),
                    headers=tokens.headers("operator"))
    assert not r.json()["fits"] and r.json()["problems"]


def test_rebalance_proposes_freeing_a_host(client, tokens, factory, session):
    env = city(factory, hosts=3, reserve=0)
    for i, host in enumerate(env["hosts"]):
        factory.vm(env["agency"], env["cluster"], name=f"app-{i}", host_id=host.id, vcpus=8, ram_gib=16,
                   state="running")
    plan = client.get("/api/v1/capacity/rebalance", headers=tokens.headers("planner")).json()
    assert plan["hosts_in_use_before"] == 3 and plan["hosts_in_use_after"] < 3
    assert plan["steps"] and all(s["from_host"] != s["to_host"] for s in plan["steps"])
    assert session.execute(select(VirtualMachine.host_id).distinct()).all().__len__() == 3  # nothing moved


def test_rebalance_fix_moves_vms_off_a_host_in_maintenance(client, tokens, factory, session):
    from dcops.auth.actor import SYSTEM
    from dcops.dcim.service import devices

    env = city(factory, hosts=2, reserve=0)
    factory.vm(env["agency"], env["cluster"], name="sik-01", host_id=env["hosts"][0].id, state="running")
    devices.update(session, actor=SYSTEM, id=env["hosts"][0].id, data={"status": "maintenance"})
    plan = client.get("/api/v1/capacity/rebalance", params={"goal": "fix"}, headers=tokens.headers("operator")).json()
    assert [(s["vm"], s["from_host"], s["to_host"]) for s in plan["steps"]] == [
        ("sik-01", env["hosts"][0].name, env["hosts"][1].name)]
    assert client.get("/api/v1/capacity/rebalance", params={"goal": "nonsense"},
                      headers=tokens.headers("operator")).status_code == 422
