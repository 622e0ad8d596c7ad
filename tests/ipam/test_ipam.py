"""IPAM through the API: allocation order, network/broadcast refusal, exhaustion, and concurrent allocation."""

from __future__ import annotations

import threading
from ipaddress import ip_address, ip_network
from typing import Any

import httpx
import pytest

from tests.server import running_server

API = "/api/v1/ipam"


def _prefix(client: Any, admin: dict[str, str], cidr: str, **extra: Any) -> dict[str, Any]:
    r = client.post(f"{API}/prefixes", json={"cidr": cidr} | extra, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()


def _allocate(client: Any, headers: dict[str, str], prefix_id: int, **body: Any) -> Any:
    return client.post(f"{API}/prefixes/{prefix_id}/available-ips", json=body, headers=headers)


def test_allocation_skips_network_gateway_and_taken_addresses(client: Any, admin: dict[str, str]) -> None:
    prefix = _prefix(client, admin, "192.0.2.0/29", gateway="192.0.2.1")
    taken = client.post(f"{API}/ip-addresses", json={"address": "192.0.2.3"}, headers=admin)
    assert taken.status_code == 201, taken.text
    assert taken.json()["prefix_id"] == prefix["id"], "an address is filed under the prefix that contains it"

    got = [_allocate(client, admin, prefix["id"]).json()["address"] for _ in range(4)]

    # .0 network, .1 gateway, .3 taken, .7 broadcast: .2 .4 .5 .6 in that order
    assert got == ["192.0.2.2", "192.0.2.4", "192.0.2.5", "192.0.2.6"]


def test_exhausted_prefix_answers_409_and_writes_nothing(client: Any, admin: dict[str, str]) -> None:
    prefix = _prefix(client, admin, "198.51.100.0/30")
    assert [_allocate(client, admin, prefix["id"]).status_code for _ in range(2)] == [201, 201]

    refused = _allocate(client, admin, prefix["id"])

    assert refused.status_code == 409
    assert "no free address" in refused.json()["detail"]
    listed = client.get(f"{API}/ip-addresses", params={"prefix_id": prefix["id"]}, headers=admin).json()
    assert listed["count"] == 2


@pytest.mark.parametrize("address, reason", [
    ("203.0.113.0", "network or broadcast"),
    ("203.0.113.255", "network or broadcast"),
    ("203.0.114.9", "no prefix contains"),
])
def test_unassignable_addresses_are_refused(client: Any, admin: dict[str, str], address: str, reason: str) -> None:
    _prefix(client, admin, "203.0.113.0/24")

    r = client.post(f"{API}/ip-addresses", json={"address": address}, headers=admin)

    assert r.status_code == 422, r.text
    assert reason in r.json()["detail"]
    assert client.get(f"{API}/ip-addresses", headers=admin).json()["count"] == 0


def test_point_to_point_prefixes_use_both_addresses(client: Any, admin: dict[str, str]) -> None:
    prefix = _prefix(client, admin, "192.0.2.8/31")

    got = [_allocate(client, admin, prefix["id"]).json().get("address") for _ in range(2)]

    assert got == ["192.0.2.8", "192.0.2.9"]
    assert _allocate(client, admin, prefix["id"]).status_code == 409


def test_gateway_outside_the_prefix_is_refused(client: Any, admin: dict[str, str]) -> None:
    r = client.post(f"{API}/prefixes", json={"cidr": "192.0.2.0/28", "gateway": "192.0.2.17"}, headers=admin)

    assert r.status_code == 422
    assert "outside" in r.json()["detail"]


def test_agency_viewer_cannot_allocate_and_sees_only_its_prefixes(
    client: Any, admin: dict[str, str], tokens: Any, factory: Any
) -> None:
    own, other = factory.agency(), factory.agency()
    mine = _prefix(client, admin, "192.0.2.0/28", agency_id=own.id)
    _prefix(client, admin, "192.0.2.16/28", agency_id=other.id)
    viewer = tokens.headers("agency-viewer", agency_id=own.id)

    assert _allocate(client, viewer, mine["id"]).status_code == 403
    listed = client.get(f"{API}/prefixes", headers=viewer).json()
    assert [p["cidr"] for p in listed["data"]] == ["192.0.2.0/28"]


@pytest.mark.postgresql_only
def test_concurrent_allocations_never_hand_out_an_address_twice(
    app: Any, admin: dict[str, str], client: Any
) -> None:
    prefix = _prefix(client, admin, "192.0.2.0/26")  # 62 usable addresses
    clients, per_client = 8, 5
    answers: list[httpx.Response] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    with running_server(app) as base:
        def work() -> None:
            with httpx.Client(base_url=base, headers=admin, timeout=60) as http:
                barrier.wait()
                for _ in range(per_client):
                    r = http.post(f"{API}/prefixes/{prefix['id']}/available-ips", json={})
                    with lock:
                        answers.append(r)

        threads = [threading.Thread(target=work) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    assert len(answers) == clients * per_client, "every request came back"
    codes = sorted({r.status_code for r in answers})
    assert set(codes) <= {201, 409}, codes
    granted = [r.json()["address"] for r in answers if r.status_code == 201]
    assert len(granted) == len(set(granted)), "an address was handed out twice"
    assert all(ip_address(a) in ip_network("192.0.2.0/26") for a in granted)
    stored = client.get(f"{API}/ip-addresses", params={"prefix_id": prefix["id"], "limit": 100}, headers=admin)
    assert stored.json()["count"] == len(granted)
    assert len(granted) >= clients, "most concurrent allocations succeed after retries"
