"""The source-of-truth invariants through the API: each refusal is a clear 4xx and writes nothing."""

from __future__ import annotations

import pytest

API = "/api/v1/dcim"


@pytest.fixture
def rack(factory):
    return factory.rack(u_height=10, power_budget_w=2000)


@pytest.fixture
def types(factory):
    return {"1u": factory.device_type(u_height=1, max_power_w=300),
            "2u": factory.device_type(u_height=2, max_power_w=500),
            "4u": factory.device_type(u_height=4, max_power_w=400)}


def _device(rack, dtype, name, position, face="front", **extra):
    return {"name": name, "device_type_id": dtype.id, "role": "other", "site_id": rack.site_id, "rack_id": rack.id,
            "position": position, "face": face} | extra


def _count(client, headers, path="/devices"):
    return client.get(f"{API}{path}", headers=headers).json()["count"]


def test_overlapping_rack_position_is_refused_naming_the_occupant(client, admin, rack, types):
    assert client.post(f"{API}/devices", json=_device(rack, types["2u"], "hv-01", 3), headers=admin).status_code == 201
    r = client.post(f"{API}/devices", json=_device(rack, types["1u"], "sw-01", 4), headers=admin)
    assert r.status_code == 409
    detail = r.json()["detail"]
    assert "U4" in detail and "hv-01" in detail and "free positions" in detail
    assert _count(client, admin) == 1


def test_full_depth_device_blocks_the_rear_face(client, admin, rack, types):
    assert client.post(f"{API}/devices", json=_device(rack, types["1u"], "a", 5), headers=admin).status_code == 201
    r = client.post(f"{API}/devices", json=_device(rack, types["1u"], "b", 5, face="rear"), headers=admin)
    assert r.status_code == 409 and "'a'" in r.json()["detail"]


def test_device_taller_than_the_space_left_is_refused(client, admin, rack, types):
    r = client.post(f"{API}/devices", json=_device(rack, types["4u"], "stor-01", 8), headers=admin)
    assert r.status_code == 409
    assert "reach U11" in r.json()["detail"] and "10U" in r.json()["detail"]
    # and between two devices: U1-U2 and U5 taken leaves a 2U gap at U3
    client.post(f"{API}/devices", json=_device(rack, types["2u"], "low", 1), headers=admin)
    client.post(f"{API}/devices", json=_device(rack, types["1u"], "mid", 5), headers=admin)
    r = client.post(f"{API}/devices", json=_device(rack, types["4u"], "big", 3), headers=admin)
    assert r.status_code == 409 and "'mid'" in r.json()["detail"]
    assert _count(client, admin) == 2


def test_rack_power_budget_refused_or_accepted_with_a_warning(client, admin, rack, types):
    for i in range(4):  # 4 x 500 W = the 2000 W budget
        assert client.post(f"{API}/devices", json=_device(rack, types["2u"], f"hv-{i}", 1 + 2 * i),
                           headers=admin).status_code == 201
    r = client.post(f"{API}/devices", json=_device(rack, types["1u"], "one-more", 10), headers=admin)
    assert r.status_code == 409
    assert "2000 W" in r.json()["detail"] and "300 W over" in r.json()["detail"]
    assert _count(client, admin) == 4
    r = client.post(f"{API}/devices", json=_device(rack, types["1u"], "one-more", 10, allow_power_overcommit=True),
                    headers=admin)
    assert r.status_code == 201
    assert any("300 W over" in w for w in r.json()["warnings"])


@pytest.mark.parametrize("path,body_a,body_b", [
    ("/sites", {"name": "DC"}, {"name": "DC"}),
    ("/manufacturers", {"name": "Dell"}, {"name": "Dell"}),
])
def test_duplicate_names_are_refused(client, admin, path, body_a, body_b):
    assert client.post(f"{API}{path}", json=body_a, headers=admin).status_code == 201
    r = client.post(f"{API}{path}", json=body_b, headers=admin)
    assert r.status_code == 409
    assert "already exists" in r.json()["detail"]
    assert _count(client, admin, path) == 1


def test_duplicate_device_name_and_rack_name_in_a_site(client, admin, rack, types):
    assert client.post(f"{API}/devices", json=_device(rack, types["1u"], "sw-01", 1), headers=admin).status_code == 201
    r = client.post(f"{API}/devices", json=_device(rack, types["1u"], "sw-01", 2), headers=admin)
    assert r.status_code == 409 and "sw-01" in r.json()["detail"]
    r = client.post(f"{API}/racks", json={"site_id": rack.site_id, "name": rack.name}, headers=admin)
    assert r.status_code == 409 and rack.name in r.json()["detail"]


def test_deleting_a_referenced_object_names_what_references_it(client, admin, rack, types):
    client.post(f"{API}/devices", json=_device(rack, types["1u"], "sw-01", 1), headers=admin)
    r = client.delete(f"{API}/racks/{rack.id}", headers=admin)
    assert r.status_code == 409
    assert "sw-01" in r.json()["detail"] and "devices" in r.json()["detail"]
    r = client.delete(f"{API}/sites/{rack.site_id}", headers=admin)
    assert r.status_code == 409 and rack.name in r.json()["detail"]
    r = client.delete(f"{API}/device-types/{types['1u'].id}", headers=admin)
    assert r.status_code == 409 and "sw-01" in r.json()["detail"]
    assert client.get(f"{API}/racks/{rack.id}", headers=admin).status_code == 200


def test_moving_a_device_frees_its_old_units(client, admin, rack, types):
    r = client.post(f"{API}/devices", json=_device(rack, types["2u"], "hv", 1), headers=admin)
    dev = r.json()["id"]
    assert client.patch(f"{API}/devices/{dev}", json={"position": 5}, headers=admin).status_code == 200
    assert client.post(f"{API}/devices", json=_device(rack, types["2u"], "hv2", 1), headers=admin).status_code == 201
    r = client.post(f"{API}/devices", json=_device(rack, types["1u"], "x", 6), headers=admin)
    assert r.status_code == 409 and "'hv'" in r.json()["detail"]
    elevation = client.get(f"{API}/racks/{rack.id}/elevation", headers=admin)
    assert elevation.status_code == 200


def test_device_in_a_rack_of_another_site_is_refused(client, admin, factory, rack, types):
    other = factory.site()
    body = _device(rack, types["1u"], "x", 1) | {"site_id": other.id}
    r = client.post(f"{API}/devices", json=body, headers=admin)
    assert r.status_code == 422 and "site" in r.json()["detail"]


@pytest.mark.parametrize("body,needle", [
    ({"name": ""}, "name"),
    ({"name": "x" * 500}, "name"),
    ({"name": 12}, "name"),
])
def test_bad_site_bodies_get_422_with_the_field(client, admin, body, needle):
    r = client.post(f"{API}/sites", json=body, headers=admin)
    assert r.status_code == 422 and needle in r.json()["detail"]


def test_garbage_json_and_unknown_filters_are_client_errors(client, admin):
    r = client.post(f"{API}/sites", content=b"{not json", headers=admin | {"Content-Type": "application/json"})
    assert r.status_code == 422
    r = client.get(f"{API}/devices?ordering=secret", headers=admin)
    assert r.status_code == 422 and "ordering" in r.json()["detail"] or "order" in r.json()["detail"]
    r = client.get(f"{API}/devices?limit=100000", headers=admin)
    assert r.status_code == 422


def test_list_pagination_filters_and_ordering(client, admin, rack, types):
    for i in range(5):
        client.post(f"{API}/devices", json=_device(rack, types["1u"], f"d{i}", i + 1,
                                                   role="switch" if i % 2 else "other"), headers=admin)
    page = client.get(f"{API}/devices?limit=2&offset=1&ordering=-name", headers=admin).json()
    assert page["count"] == 5 and [d["name"] for d in page["data"]] == ["d3", "d2"]
    switches = client.get(f"{API}/devices?role=switch", headers=admin).json()
    assert {d["name"] for d in switches["data"]} == {"d1", "d3"}
    found = client.get(f"{API}/devices?q=D4", headers=admin).json()
    assert [d["name"] for d in found["data"]] == ["d4"]
