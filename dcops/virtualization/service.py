"""VM rules: a VM runs on a hypervisor of its cluster, within its agency's quota, at an address IPAM knows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from dcops.crud import Resource
from dcops.dcim.choices import DeviceRole
from dcops.dcim.models import Device
from dcops.exceptions import CapacityError, ConflictError, ValidationError
from dcops.ipam.models import IPAddress
from dcops.ipam.service import containing_prefix
from dcops.tenancy.models import Agency
from dcops.tenancy.quota import QuotaUse
from dcops.tenancy.service import quota_shortfalls, quota_use
from dcops.virtualization.models import VirtualMachine, VMState


def vm_quota_use(session: Session, agency_id: int, exclude_vm: int | None = None) -> QuotaUse:
    """Sum what an agency's live (not decommissioned) VMs allocate, leaving out VM ``exclude_vm``."""
    stmt = select(
        func.coalesce(func.sum(VirtualMachine.vcpus), 0),
        func.coalesce(func.sum(VirtualMachine.ram_gib), 0),
        func.coalesce(func.sum(VirtualMachine.disk_gib), 0),
        func.count(col(VirtualMachine.id)),
    ).where(VirtualMachine.agency_id == agency_id, VirtualMachine.state != VMState.DECOMMISSIONED)
    if exclude_vm is not None:
        stmt = stmt.where(VirtualMachine.id != exclude_vm)
    v, r, d, n = session.exec(stmt).one()
    return QuotaUse(int(v), int(r), int(d), int(n))


def _check_vm(
    session: Session, vm: VirtualMachine, before: dict[str, Any] | None, options: dict[str, Any]
) -> list[str]:
    if vm.host_id is not None:
        host = session.get(Device, vm.host_id)
        assert host is not None
        if host.role != DeviceRole.HYPERVISOR:
            raise ValidationError(f"host '{host.name}' is a {host.role}, not a hypervisor", field="host_id")
        if host.cluster_id != vm.cluster_id:
            raise ValidationError(f"host '{host.name}' is not in the VM's cluster", field="host_id")
    if vm.state != VMState.DECOMMISSIONED:
        agency = session.get(Agency, vm.agency_id)
        assert agency is not None
        use = quota_use(session, vm.agency_id, exclude_vm=vm.id)
        problems = quota_shortfalls(agency, use, vcpus=vm.vcpus, ram_gib=vm.ram_gib, disk_gib=vm.disk_gib, vms=1)
        if problems:
            raise CapacityError(
                f"agency {agency.code} quota exceeded: " + "; ".join(problems) + ". Raise the quota or shrink the VM"
            )
    if vm.ip_address and vm.state != VMState.DECOMMISSIONED:
        holder = session.exec(select(IPAddress).where(IPAddress.address == vm.ip_address)).first()
        if holder is not None and holder.vm_id != vm.id:
            raise ConflictError(f"{vm.ip_address} is already allocated (IP address {holder.id})", field="ip_address")
        if holder is None and containing_prefix(session, vm.ip_address) is None:
            raise ValidationError(
                f"no prefix contains {vm.ip_address}; add the prefix in IPAM first", field="ip_address"
            )
    return []


def _sync_address(session: Session, vm: VirtualMachine, before: dict[str, Any] | None) -> None:
    if vm.state == VMState.DECOMMISSIONED:
        vm.ip_address = None  # a decommissioned VM gives its address back
    if before is not None and before.get("ip_address") == vm.ip_address:
        return
    session.execute(delete(IPAddress).where(col(IPAddress.vm_id) == vm.id))
    if vm.ip_address:
        prefix = containing_prefix(session, vm.ip_address)
        assert prefix is not None and prefix.id is not None  # checked by _check_vm
        session.add(IPAddress(address=vm.ip_address, prefix_id=prefix.id, agency_id=vm.agency_id, vm_id=vm.id,
                              dns_name=vm.name))
    session.flush()


virtual_machines = Resource(
    VirtualMachine,
    label="virtual machine",
    plural="virtual machines",
    search=("name", "ip_address", "description"),
    filters=("agency_id", "cluster_id", "host_id", "state", "name"),
    orderings=("id", "name", "vcpus", "ram_gib", "disk_gib", "state", "created_at"),
    scope="agency_id",
    check=_check_vm,
    after_write=_sync_address,
)


def agency_vms(session: Session, *, agency_id: int) -> list[VirtualMachine]:
    """Return every VM of an agency (decommissioned ones too), by name."""
    return list(session.exec(select(VirtualMachine).where(VirtualMachine.agency_id == agency_id)
                             .order_by(col(VirtualMachine.name))).all())
