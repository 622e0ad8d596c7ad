"""Create the demo data center, idempotently.

Every object is looked up by its natural key first, so running the demo twice changes
nothing; objects go through the same services as the API, so the demo obeys every
invariant (no rack overlap, power budgets, quotas, IP uniqueness). Every object the demo creates
is marked (:class:`dcops.demo.models.DemoObject`); the demo changes marked objects only (user
passwords, the simulator's wiring), never one created by anyone else.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from dcops.auth.actor import Actor
from dcops.auth.choices import Role
from dcops.auth.models import User
from dcops.auth.service import create_user, issue_token, update_user
from dcops.consolidation import demo as consolidation_demo
from dcops.crud import Resource
from dcops.dcim.models import Credential, Device, DeviceType
from dcops.dcim.service import (
    clusters,
    device_types,
    devices,
    manufacturers,
    racks,
    rooms,
    save_credential,
    sites,
)
from dcops.demo import data
from dcops.demo.models import DemoObject
from dcops.ipam.service import prefixes
from dcops.tenancy.models import Agency
from dcops.tenancy.service import agencies
from dcops.virtualization.models import VirtualMachine
from dcops.virtualization.service import virtual_machines

DEMO_ACTOR = Actor(user_id=None, username="demo", role=Role.ADMIN)


@dataclass
class DemoUser:
    username: str
    role: str
    agency: str | None
    password: str
    token: str


@dataclass
class DemoSummary:
    created: dict[str, int] = field(default_factory=dict)
    users: list[DemoUser] = field(default_factory=list)


def mark(session: Session, obj: Any) -> None:
    """Record that the demo created ``obj`` (flushed, so it has its id)."""
    session.flush()
    session.add(DemoObject(kind=obj.__tablename__, object_id=obj.id))


def is_demo(session: Session, obj: Any) -> bool:
    """Tell whether the demo created ``obj``."""
    return session.get(DemoObject, (obj.__tablename__, obj.id)) is not None


def demo_ids(session: Session, model: Any) -> set[int]:
    """Ids of the objects of ``model`` the demo created."""
    rows = session.exec(select(DemoObject.object_id).where(DemoObject.kind == model.__tablename__))
    return {int(i) for i in rows}


class _Builder:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.summary = DemoSummary()

    def ensure(self, resource: Resource[Any], key: dict[str, Any], values: dict[str, Any] | None = None) -> Any:
        """Return the object with natural ``key``, creating it from ``key | values`` if missing."""
        found = resource.get_by(self.session, actor=DEMO_ACTOR, **key)
        if found is not None:
            return found
        obj, _ = resource.create(self.session, actor=DEMO_ACTOR, data=key | (values or {}), commit=False)
        mark(self.session, obj)
        self.summary.created[resource.plural] = self.summary.created.get(resource.plural, 0) + 1
        return obj


def build_demo(session: Session, *, users: bool = True) -> DemoSummary:
    """Create whatever of the demo is missing and (with ``users``) give each demo user a fresh password and token."""
    b = _Builder(session)
    site_ids = {s["name"]: b.ensure(sites, {"name": s["name"]}, {"description": s["description"]}).id
                for s in data.SITES}
    room_ids = {(site, name): b.ensure(rooms, {"site_id": site_ids[site], "name": name}).id
                for site, name in data.ROOMS}
    rack_ids = {}
    for site, room, name, budget in data.RACKS:
        rack = b.ensure(racks, {"site_id": site_ids[site], "name": name},
                        {"room_id": room_ids[(site, room)], "u_height": 42, "power_budget_w": budget})
        rack_ids[(site, name)] = rack.id
    vendor_ids = {name: b.ensure(manufacturers, {"name": name}).id for name in data.MANUFACTURERS}
    type_ids = {}
    for slug, spec in data.DEVICE_TYPES.items():
        spec = dict(spec)
        vendor = spec.pop("manufacturer")
        type_ids[slug] = b.ensure(device_types, {"slug": slug}, spec | {"manufacturer_id": vendor_ids[vendor]}).id
    cluster_ids = {}
    for spec in data.CLUSTERS:
        spec = dict(spec)
        site, name = spec.pop("site"), spec.pop("name")
        cluster_ids[name] = b.ensure(clusters, {"name": name}, spec | {"site_id": site_ids[site]}).id
    creds = _credentials(b)
    for name, slug, role, site, rack, position, cluster, mgmt in data.DEVICES:
        cred = creds["snmp-v2c-dc" if role in ("ups", "pdu") else "snmp-v3-dc"]
        b.ensure(devices, {"name": name}, {
            "device_type_id": type_ids[slug], "role": role, "site_id": site_ids[site],
            "rack_id": rack_ids[(site, rack)], "position": position, "face": "front" if position else None,
            "cluster_id": cluster_ids[cluster] if cluster else None, "mgmt_address": mgmt,
            "serial": f"DEMO-{name.upper()}",
            "asset_tag": f"BMD-{name.upper()}", "snmp_credential_id": cred,
        })
    for cidr, vlan, purpose, _site in data.MGMT_PREFIXES:
        b.ensure(prefixes, {"cidr": cidr}, {"vlan_id": vlan, "purpose": purpose, "description": "management"})
    _agencies_and_vms(b, cluster_ids["KLASTER-UTAMA"])
    consolidation_demo.build(session, DEMO_ACTOR)  # agency applications
    if users:
        _users(b)
    return b.summary


def _credentials(b: _Builder) -> dict[str, int]:
    """SNMP and SSH credentials with random secrets (never printed)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    wanted = {
        "snmp-v2c-dc": {"kind": "snmp_v2c", "community": secrets.token_urlsafe(12),
                        "description": "UPS and PDU management cards"},
        "snmp-v3-dc": {"kind": "snmp_v3", "username": "dcops-mon", "auth_protocol": "sha256",
                       "auth_key": secrets.token_urlsafe(16), "priv_protocol": "aes128",
                       "priv_key": secrets.token_urlsafe(16), "description": "servers, switches, firewalls"},
        "ssh-hypervisor": {"kind": "ssh_key", "username": "dcops",
                           "private_key": Ed25519PrivateKey.generate().private_bytes(
                               serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                               serialization.NoEncryption()).decode(),
                           "description": "Ansible login on the hypervisors"},
    }
    ids = {}
    for name, values in wanted.items():
        found = b.session.exec(select(Credential).where(Credential.name == name)).first()
        if found is None:
            found = save_credential(b.session, actor=DEMO_ACTOR, data={"name": name} | values)
            mark(b.session, found)
            b.summary.created["credentials"] = b.summary.created.get("credentials", 0) + 1
        assert found.id is not None  # flushed by save_credential or loaded: ids are set
        ids[name] = found.id
    return ids


def _host_capacity(b: _Builder, cluster_id: int) -> list[tuple[Device, list[float]]]:
    hosts = b.session.exec(
        select(Device, DeviceType).join(DeviceType).where(Device.cluster_id == cluster_id).order_by(col(Device.name))
    ).all()
    out = []
    for host, dtype in hosts:
        used = b.session.exec(
            select(func.coalesce(func.sum(col(VirtualMachine.vcpus)), 0),
                   func.coalesce(func.sum(col(VirtualMachine.ram_gib)), 0))
            .where(VirtualMachine.host_id == host.id)
        ).one()
        out.append((host, [dtype.cpu_threads * 4.0 - used[0], dtype.ram_gib - used[1]]))
    return out


def _agencies_and_vms(b: _Builder, cluster_id: int) -> None:
    supernet = ipaddress.IPv4Network(data.AGENCY_SUPERNET)
    subnets = supernet.subnets(new_prefix=24)
    hosts = _host_capacity(b, cluster_id)[:-1]  # the last host stays empty: the cluster's HA reserve
    turn = 0
    for index, (code, name, kind, parent, size) in enumerate(data.AGENCIES, start=1):
        quota, vms = data.SIZES[size]
        parent_id = b.ensure(agencies, {"code": parent}).id if parent else None
        agency = b.ensure(agencies, {"code": code}, {
            "name": name, "kind": kind, "parent_id": parent_id, "contact_name": f"Admin TI {code}",
            "contact_email": f"ti.{code.lower().replace('-', '')}@example.go.id",
            "quota_vcpus": quota[0], "quota_ram_gib": quota[1], "quota_disk_gib": quota[2], "quota_vms": quota[3],
        })
        net = next(subnets)
        b.ensure(prefixes, {"cidr": str(net)}, {
            "vlan_id": 100 + index, "agency_id": agency.id, "purpose": "tenant", "gateway": str(net[1]),
            "description": f"jaringan {code}",
        })
        apps = data.APPS.get(code, [])
        for n, (suffix, vcpus, ram, disk) in enumerate(vms):
            app = apps[n] if n < len(apps) else suffix
            vm_name = f"{code.lower()}-{app}"
            if b.session.exec(select(VirtualMachine.id).where(VirtualMachine.name == vm_name)).first():
                continue
            for _ in range(len(hosts)):  # the next host (round robin) with room for it
                host, free = hosts[turn % len(hosts)]
                turn += 1
                if free[0] >= vcpus and free[1] >= ram:
                    free[0] -= vcpus
                    free[1] -= ram
                    break
            else:  # pragma: no cover - the demo data fits by construction
                raise RuntimeError(f"demo VM {vm_name} does not fit the cluster")
            b.ensure(virtual_machines, {"name": vm_name}, {
                "agency_id": agency.id, "cluster_id": cluster_id, "host_id": host.id, "vcpus": vcpus,
                "ram_gib": ram, "disk_gib": disk, "ip_address": str(net[10 + n]), "state": "running",
                "description": f"{app} {name}",
            })


def _users(b: _Builder) -> None:
    session = b.session
    for username, role, agency_code in data.DEMO_USERS:
        password = secrets.token_urlsafe(9)
        user = session.exec(select(User).where(User.username == username)).first()
        if user is not None and not is_demo(session, user):
            continue  # someone else's user of that name: not the demo's to change
        is_new = user is None
        if user is None:
            agency_id = None
            if agency_code:
                agency_id = session.exec(select(Agency.id).where(Agency.code == agency_code)).one()
            user = create_user(session, actor=DEMO_ACTOR, data={
                "username": username, "role": role, "agency_id": agency_id, "password": password,
                "full_name": f"Demo {role}"})
            mark(session, user)
        assert user.id is not None  # loaded, or flushed by mark(): ids are set
        if not is_new:
            update_user(session, actor=DEMO_ACTOR, id=user.id, data={"password": password})
        token, _ = issue_token(session, actor=DEMO_ACTOR, user_id=user.id, name="demo",
                               expires_in_days=30)
        b.summary.users.append(DemoUser(username, role, agency_code, password, token))
