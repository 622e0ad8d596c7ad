"""IPAM rules: addresses belong to a prefix, are unique, and are never network or broadcast."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dcops.actor import Actor
from dcops.crud import Resource
from dcops.exceptions import CapacityError, ConflictError, ValidationError
from dcops.ipam.models import IPAddress, NextAddressRequest, Prefix


def usable_hosts(network: IPv4Network | IPv6Network) -> tuple[int, int]:
    """Return the first and last address (as ints) that may be handed out in ``network``."""
    first, last = int(network.network_address), int(network.broadcast_address)
    if network.version == 4 and network.prefixlen < 31:
        return first + 1, last - 1
    if network.version == 6 and network.prefixlen < 127:
        return first + 1, last  # skip the subnet-router anycast address
    return first, last


def containing_prefix(session: Session, address: str) -> Prefix | None:
    """Return the most specific prefix that contains ``address``."""
    addr = ip_address(address)
    best: Prefix | None = None
    best_len = -1
    for prefix in session.exec(select(Prefix)).all():
        net = ip_network(prefix.cidr)
        if addr.version == net.version and addr in net and net.prefixlen > best_len:
            best, best_len = prefix, net.prefixlen
    return best


def _check_prefix(
    session: Session, prefix: Prefix, before: dict[str, Any] | None, options: dict[str, Any]
) -> list[str]:
    net = ip_network(prefix.cidr)
    if prefix.gateway and ip_address(prefix.gateway) not in net:
        raise ValidationError(f"gateway {prefix.gateway} is outside {prefix.cidr}", field="gateway")
    if before is not None and before.get("cidr") != prefix.cidr:
        outside = [
            a.address
            for a in session.exec(select(IPAddress).where(IPAddress.prefix_id == prefix.id)).all()
            if ip_address(a.address) not in net
        ]
        if outside:
            raise ConflictError(
                f"addresses {', '.join(outside[:3])} would fall outside {prefix.cidr}; release them first",
                field="cidr",
            )
    return []


def _check_address(
    session: Session, ip: IPAddress, before: dict[str, Any] | None, options: dict[str, Any]
) -> list[str]:
    addr = ip_address(ip.address)
    if ip.prefix_id is None:
        found = containing_prefix(session, ip.address)
        if found is None:
            raise ValidationError(f"no prefix contains {ip.address}; add the prefix first", field="address")
        assert found.id is not None  # a stored prefix
        ip.prefix_id = found.id
    prefix = session.get(Prefix, ip.prefix_id)
    if prefix is None:
        raise ValidationError(f"prefix_id: prefix {ip.prefix_id} does not exist", field="prefix_id")
    net = ip_network(prefix.cidr)
    if addr not in net:
        raise ValidationError(f"{ip.address} is not inside prefix {prefix.cidr}", field="address")
    first, last = usable_hosts(net)
    if not first <= int(addr) <= last:
        raise ValidationError(
            f"{ip.address} is the network or broadcast address of {prefix.cidr}; it cannot be assigned",
            field="address",
        )
    if ip.agency_id is None:
        ip.agency_id = prefix.agency_id
    return []


prefixes = Resource(
    Prefix,
    label="prefix",
    plural="prefixes",
    repr_field="cidr",
    search=("cidr", "description"),
    filters=("agency_id", "vlan_id", "purpose"),
    orderings=("id", "cidr", "vlan_id"),
    scope="agency_id",
    unique=(("cidr",),),
    check=_check_prefix,
)
ip_addresses = Resource(
    IPAddress,
    label="IP address",
    plural="IP addresses",
    repr_field="address",
    search=("address", "dns_name", "description"),
    filters=("prefix_id", "agency_id", "vm_id", "device_id", "status"),
    orderings=("id", "address"),
    scope="agency_id",
    unique=(("address",),),
    check=_check_address,
)


def next_free_address(session: Session, prefix: Prefix) -> str:
    """Return the lowest address of ``prefix`` not yet allocated."""
    net = ip_network(prefix.cidr)
    used = {
        int(ip_address(a))
        for a in session.exec(select(IPAddress.address).where(IPAddress.prefix_id == prefix.id)).all()
    }
    if prefix.gateway:
        used.add(int(ip_address(prefix.gateway)))
    first, last = usable_hosts(net)
    candidate = first
    while candidate <= last:
        if candidate not in used:
            return str(ip_address(candidate))
        candidate += 1
    raise CapacityError(f"prefix {prefix.cidr} has no free address left ({last - first + 1} in use)")


def allocate_next(session: Session, *, actor: Actor, prefix_id: int, request: NextAddressRequest,
                  attempts: int = 5) -> IPAddress:
    """Allocate the next free address of a prefix, retrying if a concurrent caller took it."""
    for _ in range(attempts):
        prefix = prefixes.get(session, actor=actor, id=prefix_id)
        data = request.model_dump() | {
            "address": next_free_address(session, prefix),
            "prefix_id": prefix.id,
            "agency_id": prefix.agency_id,
        }
        try:
            obj, _ = ip_addresses.create(session, actor=actor, data=data)
            return obj
        except ConflictError:
            session.rollback()
        except IntegrityError:
            session.rollback()
    raise ConflictError(f"could not allocate an address in prefix {prefix_id}: too many concurrent allocations; retry")


def agency_prefixes(session: Session, *, agency_id: int) -> list[Prefix]:
    """Return an agency's prefixes, by CIDR."""
    return list(session.exec(select(Prefix).where(Prefix.agency_id == agency_id).order_by(col(Prefix.cidr))).all())


def prefix_addresses(session: Session, *, prefix_id: int, limit: int = 500) -> list[IPAddress]:
    """Return the first ``limit`` addresses recorded in a prefix, in the order they were allocated."""
    return list(session.exec(select(IPAddress).where(IPAddress.prefix_id == prefix_id)
                             .order_by(col(IPAddress.id)).limit(limit)).all())
