"""IPAM's allocation service, called as the API, the console and capacity approval call it."""

from __future__ import annotations

import threading
from ipaddress import ip_address, ip_network
from typing import Any

import pytest
from sqlmodel import Session

from dcops.actor import SYSTEM
from dcops.exceptions import CapacityError
from dcops.ipam.models import NextAddressRequest
from dcops.ipam.service import allocate_next, next_free_address, prefix_addresses, usable_hosts


@pytest.mark.parametrize("cidr, first, last", [
    ("192.0.2.0/24", "192.0.2.1", "192.0.2.254"),
    ("192.0.2.0/30", "192.0.2.1", "192.0.2.2"),
    ("192.0.2.0/31", "192.0.2.0", "192.0.2.1"),  # point-to-point (RFC 3021): both ends
    ("192.0.2.7/32", "192.0.2.7", "192.0.2.7"),
    ("2001:db8::/64", "2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff"),  # subnet-router anycast skipped
])
def test_usable_hosts_leave_out_network_and_broadcast(cidr: str, first: str, last: str) -> None:
    low, high = usable_hosts(ip_network(cidr))

    assert (str(ip_address(low)), str(ip_address(high))) == (first, last)


def test_a_prefix_is_filled_in_order_and_never_with_its_network_or_broadcast_address(
    session: Session, factory: Any
) -> None:
    prefix = factory.prefix(cidr="198.51.100.0/29")

    got = [allocate_next(session, actor=SYSTEM, prefix_id=prefix.id, request=NextAddressRequest()).address
           for _ in range(6)]

    assert got == [f"198.51.100.{n}" for n in range(1, 7)]
    with pytest.raises(CapacityError, match=r"prefix 198\.51\.100\.0/29 has no free address left \(6 in use\)"):
        allocate_next(session, actor=SYSTEM, prefix_id=prefix.id, request=NextAddressRequest())
    stored = [a.address for a in prefix_addresses(session, prefix_id=prefix.id)]
    assert stored == got, "the refused allocation wrote nothing"
    assert "198.51.100.0" not in stored and "198.51.100.7" not in stored


def test_the_gateway_is_never_allocated(session: Session, factory: Any) -> None:
    prefix = factory.prefix(cidr="198.51.100.0/30", gateway="198.51.100.1")

    assert next_free_address(session, prefix) == "198.51.100.2"
    allocate_next(session, actor=SYSTEM, prefix_id=prefix.id, request=NextAddressRequest())
    with pytest.raises(CapacityError):
        next_free_address(session, prefix)


def test_a_released_address_is_handed_out_again(session: Session, factory: Any) -> None:
    from dcops.ipam.service import ip_addresses

    prefix = factory.prefix(cidr="198.51.100.0/29")
    first, second = (allocate_next(session, actor=SYSTEM, prefix_id=prefix.id, request=NextAddressRequest())
                     for _ in range(2))
    assert first.id is not None
    ip_addresses.delete(session, actor=SYSTEM, id=first.id)

    again = allocate_next(session, actor=SYSTEM, prefix_id=prefix.id, request=NextAddressRequest())

    assert (first.address, second.address, again.address) == ("198.51.100.1", "198.51.100.2", "198.51.100.1")


@pytest.mark.postgresql_only
def test_threads_with_their_own_sessions_get_distinct_addresses(session: Session, factory: Any) -> None:
    from dcops.database import get_engine

    prefix = factory.prefix(cidr="203.0.113.0/27")  # 30 usable addresses
    workers, each = 6, 4
    got: list[str] = []
    failed: list[Exception] = []
    lock = threading.Lock()
    barrier = threading.Barrier(workers)

    def work() -> None:
        with Session(get_engine(), expire_on_commit=False) as own:
            barrier.wait()
            for _ in range(each):
                try:
                    ip = allocate_next(own, actor=SYSTEM, prefix_id=prefix.id, request=NextAddressRequest())
                except Exception as exc:  # counted, and named in the assertion below
                    with lock:
                        failed.append(exc)
                    continue
                with lock:
                    got.append(ip.address)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(got) + len(failed) == workers * each, "every allocation answered"
    assert len(got) == len(set(got)), "an address was handed out twice"
    assert all(type(exc).__name__ == "ConflictError" for exc in failed), failed
    assert len(got) >= workers, "retries let most allocations through"
    session.expire_all()
    assert sorted(a.address for a in prefix_addresses(session, prefix_id=prefix.id)) == sorted(got)
