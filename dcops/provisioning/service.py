"""Provisioning rules: register hypervisors, queue jobs for VM actions, cancel and retry them, read them.

Jobs are queued here and run by the job runner (:mod:`dcops.provisioning.jobs`), which applies their
outcome to the VM. A VM has at most one unfinished job at a time. Extravars never hold secrets: the
SSH key is read from its encrypted credential by the runner at run time only.
"""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlmodel import Session, col

from dcops.auth.actor import Actor
from dcops.auth.scopes import require_serves
from dcops.capacity.hosts import host_fits
from dcops.crud import ListQuery, Resource
from dcops.database import utcnow
from dcops.dcim.choices import CredentialKind, DeviceRole
from dcops.dcim.models import Cluster, Credential, Device, DeviceType, Manufacturer, Site
from dcops.dcim.service import clusters, device_types, devices, manufacturers, save_credential
from dcops.exceptions import CapacityError, ConflictError, NotFoundError, ValidationError
from dcops.ipam.models import Prefix, PrefixPurpose
from dcops.ipam.service import containing_prefix, next_free_address
from dcops.provisioning import preflight as ssh
from dcops.provisioning.choices import FINISHED, JobAction, JobStatus
from dcops.provisioning.models import (
    AgencySSHKeys,
    HypervisorAccess,
    HypervisorPublic,
    HypervisorRegister,
    Job,
    JobEvent,
)
from dcops.security import decrypt_secrets
from dcops.tenancy.models import Agency
from dcops.virtualization.models import VirtualMachine, VMState
from dcops.virtualization.service import virtual_machines

GENERIC_TYPE = "generic-hypervisor"
DEFAULT_TIMEOUT_S = 1800

jobs = Resource(
    Job, label="job", plural="jobs", repr_field="id", search=("vm_name", "action", "failed_task"),
    filters=("status", "action", "vm_id", "host_id", "request_id", "agency_id"),
    orderings=("id", "created_at", "status"), default_ordering="-id", scope="agency_id", unique=(),
)

# --- hypervisors -------------------------------------------------------------------------------



class _Stored(Protocol):
    id: int | None


def _pk(row: _Stored) -> int:
    """Return the id of a row already flushed (the database set it)."""
    assert row.id is not None, "row not flushed yet"
    return row.id

def access_for(session: Session, device_id: int) -> HypervisorAccess:
    """Return how to reach hypervisor ``device_id``, or explain that it is not registered."""
    access = session.execute(select(HypervisorAccess)
                             .where(col(HypervisorAccess.device_id) == device_id)).scalars().first()
    if access is None:
        device = session.get(Device, device_id)
        name = device.name if device else str(device_id)
        raise ConflictError(f"hypervisor '{name}' has no SSH access registered; run 'dcops hypervisor register'")
    return access


def target_for(session: Session, access: HypervisorAccess) -> ssh.SSHTarget:
    """Return the SSH target of a hypervisor, with its private key decrypted (keep it in memory only)."""
    device = session.get(Device, access.device_id)
    cred = session.get(Credential, access.credential_id)
    assert device is not None and cred is not None
    if not device.mgmt_address:
        raise ConflictError(f"hypervisor '{device.name}' has no management address")
    secrets = decrypt_secrets(cred.secret_blob)
    return ssh.SSHTarget(address=device.mgmt_address, port=access.ssh_port, user=access.ssh_user,
                         private_key=secrets.get("private_key", ""), passphrase=secrets.get("passphrase"),
                         host_key=access.host_key)


def _generic_type(session: Session, actor: Actor) -> int:
    found = session.execute(select(DeviceType).where(col(DeviceType.slug) == GENERIC_TYPE)).scalars().first()
    if found is not None:
        return found.id
    maker = session.execute(select(Manufacturer).where(col(Manufacturer.name) == "Generic")).scalars().first()
    if maker is None:
        maker, _ = manufacturers.create(session, actor=actor, data={"name": "Generic"}, commit=False)
    dtype, _ = device_types.create(session, actor=actor, commit=False, data={
        "manufacturer_id": maker.id, "model": "Generic hypervisor", "slug": GENERIC_TYPE, "u_height": 0,
        "cpu_sockets": 1, "cpu_cores": 4, "cpu_threads": 8, "ram_gib": 32, "storage_tb": 1.0,
        "comments": "created by 'dcops hypervisor register'; set the real model when known"})
    return _pk(dtype)


def _cluster_and_site(session: Session, actor: Actor, data: HypervisorRegister) -> tuple[int, int]:
    site_id: int | None = None
    if data.site:
        site = session.execute(select(Site).where(col(Site.name) == data.site)).scalars().first()
        if site is None:
            raise ValidationError(f"site '{data.site}' does not exist", field="site")
        site_id = site.id
    cluster = session.execute(select(Cluster).where(col(Cluster.name) == data.cluster)).scalars().first()
    if cluster is None:
        if site_id is None:
            raise ValidationError(f"cluster '{data.cluster}' does not exist; give --site to create it", field="site")
        cluster, _ = clusters.create(session, actor=actor, data={"name": data.cluster, "site_id": site_id},
                                     commit=False)
    site_id = site_id or cluster.site_id
    if site_id is None:
        raise ValidationError(f"cluster '{data.cluster}' has no site; give --site", field="site")
    return _pk(cluster), site_id


def register_hypervisor(session: Session, *, actor: Actor, data: HypervisorRegister) -> HypervisorAccess:
    """Create or update a hypervisor's device, SSH key and access; pin its host key and run the pre-flight."""
    host_key = ssh.fetch_host_key(data.address, data.ssh_port)  # trust on first use, pinned from now on
    cluster_id, site_id = _cluster_and_site(session, actor, data)
    device = session.execute(select(Device).where(col(Device.name) == data.name)).scalars().first()
    if device is None:
        device, _ = devices.create(session, actor=actor, commit=False, data={
            "name": data.name, "device_type_id": _generic_type(session, actor), "role": DeviceRole.HYPERVISOR,
            "site_id": site_id, "mgmt_address": data.address, "cluster_id": cluster_id})
    else:
        if device.role != DeviceRole.HYPERVISOR:
            raise ConflictError(f"device '{data.name}' is a {device.role}, not a hypervisor", field="name")
        devices.update(session, actor=actor, id=device.id, commit=False,
                       data={"mgmt_address": data.address, "cluster_id": cluster_id})
    access = session.execute(select(HypervisorAccess)
                             .where(col(HypervisorAccess.device_id) == device.id)).scalars().first()
    cred_data = {"name": f"ssh-{data.name}", "kind": CredentialKind.SSH_KEY, "username": data.ssh_user,
                 "private_key": data.private_key, "passphrase": data.passphrase,
                 "description": f"SSH login of hypervisor {data.name}"}
    existing_cred = session.execute(select(Credential)
                                    .where(col(Credential.name) == cred_data["name"])).scalars().first()
    cred = save_credential(session, actor=actor, data=cred_data,
                           id=existing_cred.id if existing_cred else None)
    values = data.model_dump(include=set(HypervisorAccessFields))
    if access is None:
        access = HypervisorAccess(device_id=_pk(device), credential_id=_pk(cred), **values)
        session.add(access)
    else:
        for key, value in values.items():
            setattr(access, key, value)
        access.credential_id = cred.id
    access.host_key, access.host_key_fingerprint = host_key, ssh.fingerprint(host_key)
    session.flush()
    session.commit()
    run_preflight(session, access=access)
    return access


HypervisorAccessFields = ("ssh_port", "ssh_user", "libvirt_uri", "storage_pool", "pool_path", "base_image",
                          "network", "domain_type", "ram_mib_per_gib", "disk_mib_per_gib")


def run_preflight(session: Session, *, access: HypervisorAccess, raise_on_error: bool = False) -> str:
    """Check the hypervisor over SSH, record the result on its access row, and return the message."""
    try:
        message = ssh.preflight(target_for(session, access), access.libvirt_uri)
        ok = True
    except ssh.PreflightError as exc:
        message, ok = exc.message, False
    access.preflight_ok, access.preflight_message, access.preflight_at = ok, message[:1000], utcnow()
    session.add(access)
    session.commit()
    if not ok and raise_on_error:
        raise ssh.PreflightError(message)
    return message


def hypervisor_public(session: Session, access: HypervisorAccess) -> HypervisorPublic:
    """Describe a registered hypervisor (never its key)."""
    device = session.get(Device, access.device_id)
    assert device is not None
    values = {name: getattr(access, name) for name in HypervisorAccess.model_fields}
    return HypervisorPublic(**values, name=device.name, address=device.mgmt_address,
                            cluster_id=device.cluster_id, site_id=device.site_id)


def list_hypervisors(session: Session) -> list[HypervisorAccess]:
    """Return every registered hypervisor."""
    return list(session.execute(select(HypervisorAccess).order_by(col(HypervisorAccess.id))).scalars())


def hypervisor_by_name(session: Session, name: str) -> HypervisorAccess:
    """Return the access row of the hypervisor named ``name``."""
    device = session.execute(select(Device).where(col(Device.name) == name)).scalars().first()
    if device is None:
        raise NotFoundError(f"hypervisor '{name}' not found")
    return access_for(session, device.id)


# --- agency SSH keys ----------------------------------------------------------------------------


def set_agency_keys(session: Session, *, actor: Actor, agency_id: int, authorized_keys: str) -> AgencySSHKeys:
    """Set the public SSH keys cloud-init installs in the agency's VMs."""
    lines = [line.strip() for line in authorized_keys.splitlines() if line.strip() and not line.startswith("#")]
    for line in lines:
        if not line.split()[0].startswith(("ssh-", "ecdsa-", "sk-")) or len(line.split()) < 2:
            raise ValidationError(f"not an OpenSSH public key: '{line[:40]}...'", field="authorized_keys")
        if "PRIVATE KEY" in line:
            raise ValidationError("that is a private key; give the public key", field="authorized_keys")
    if session.get(Agency, agency_id) is None:
        raise NotFoundError(f"agency {agency_id} not found")
    require_serves(session, actor, agency_id)
    row = session.execute(select(AgencySSHKeys).where(col(AgencySSHKeys.agency_id) == agency_id)).scalars().first()
    row = row or AgencySSHKeys(agency_id=agency_id)
    row.authorized_keys, row.updated_at = "\n".join(lines), utcnow()
    session.add(row)
    session.commit()
    return row


def agency_keys(session: Session, agency_id: int) -> list[str]:
    """Return the agency's public SSH keys."""
    row = session.execute(select(AgencySSHKeys).where(col(AgencySSHKeys.agency_id) == agency_id)).scalars().first()
    return [k for k in (row.authorized_keys.splitlines() if row else []) if k.strip()]


# --- extravars -------------------------------------------------------------------------------------


def vm_extravars(session: Session, vm: VirtualMachine, access: HypervisorAccess) -> dict[str, Any]:
    """Return the playbook variables for ``vm`` on its host (public data only)."""
    agency = session.get(Agency, vm.agency_id)
    assert agency is not None
    prefix = containing_prefix(session, vm.ip_address) if vm.ip_address else None
    return {
        "vm_id": vm.id, "vm_name": vm.name, "hostname": vm.name, "agency_code": agency.code,
        "vcpus": vm.vcpus, "memory_mib": vm.ram_gib * access.ram_mib_per_gib,
        "disk_mib": vm.disk_gib * access.disk_mib_per_gib,
        "ip_address": vm.ip_address or "", "prefix_length": ip_network(prefix.cidr).prefixlen if prefix else 24,
        "gateway": (prefix.gateway or "") if prefix else "", "vlan_id": prefix.vlan_id if prefix else None,
        "network": access.network, "libvirt_uri": access.libvirt_uri, "storage_pool": access.storage_pool,
        "pool_path": access.pool_path, "base_image": access.base_image, "domain_type": access.domain_type.value
        if hasattr(access.domain_type, "value") else str(access.domain_type),
        "ssh_authorized_keys": agency_keys(session, vm.agency_id),
    }


# --- queueing jobs -----------------------------------------------------------------------------------


def _unfinished(session: Session, vm_id: int) -> Job | None:
    return session.execute(select(Job).where(col(Job.vm_id) == vm_id, col(Job.status).in_(
        [JobStatus.QUEUED, JobStatus.RUNNING]))).scalars().first()


def _queue(session: Session, *, actor: Actor, vm: VirtualMachine, action: JobAction, request_id: int | None,
           extra: dict[str, Any] | None = None, retry_of: int | None = None) -> Job:
    if vm.host_id is None:
        raise ConflictError(f"VM '{vm.name}' is not placed on a host", field="host_id")
    busy = _unfinished(session, _pk(vm))
    if busy is not None:
        raise ConflictError(f"VM '{vm.name}' already has job {busy.id} ({busy.action}, {busy.status}); "
                            "wait for it or cancel it")
    access = access_for(session, vm.host_id)
    job = Job(action=action, vm_id=vm.id, vm_name=vm.name, agency_id=vm.agency_id, host_id=vm.host_id,
              request_id=request_id, retry_of=retry_of, created_by=actor.username[:64], timeout_s=DEFAULT_TIMEOUT_S,
              extravars=vm_extravars(session, vm, access) | (extra or {}))
    session.add(job)
    session.flush()
    return job


def launch(session: Session, *, actor: Actor, vm_ids: list[int], action: str = "provision",
           request_id: int | None = None, extravars: dict[str, Any] | None = None) -> list[Job]:
    """Queue one job per VM (commits); the job runner picks them up."""
    kind = JobAction(action)
    out = []
    for vm_id in vm_ids:
        vm = virtual_machines.get(session, actor=actor, id=vm_id)
        out.append(_queue(session, actor=actor, vm=vm, action=kind, request_id=request_id, extra=extravars))
    session.commit()
    return out


def vm_action(session: Session, *, actor: Actor, vm_id: int, action: str, vcpus: int | None = None,
              ram_gib: int | None = None) -> Job:
    """Queue start, stop, resize or decommission of a VM (commits)."""
    kind = JobAction(action)
    vm = virtual_machines.get(session, actor=actor, id=vm_id)
    require_serves(session, actor, vm.agency_id)
    state = VMState(vm.state)
    allowed = {
        JobAction.START: {VMState.STOPPED, VMState.RUNNING},
        JobAction.STOP: {VMState.RUNNING, VMState.STOPPED},
        JobAction.RESIZE: {VMState.RUNNING, VMState.STOPPED},
        JobAction.DECOMMISSION: {VMState.RUNNING, VMState.STOPPED, VMState.FAILED},
    }
    if kind not in allowed:
        raise ValidationError(f"'{action}' is not a VM action; use start, stop, resize or decommission")
    if state not in allowed[kind]:
        raise ConflictError(f"VM '{vm.name}' is {state.value}; {action} needs it "
                            + " or ".join(sorted(s.value for s in allowed[kind])))
    extra: dict[str, Any] = {}
    if kind == JobAction.STOP:
        extra["shutdown_timeout"] = 60
    if kind == JobAction.RESIZE:
        new_vcpus, new_ram = vcpus or vm.vcpus, ram_gib or vm.ram_gib
        if (new_vcpus, new_ram) == (vm.vcpus, vm.ram_gib):
            raise ValidationError("give a new vcpus or ram_gib for the resize")
        _check_host_fits(session, vm, vcpus=new_vcpus, ram_gib=new_ram)
        extra["previous"] = {"vcpus": vm.vcpus, "ram_gib": vm.ram_gib}
        virtual_machines.update(session, actor=actor, id=_pk(vm), data={"vcpus": new_vcpus, "ram_gib": new_ram},
                                commit=False)
    job = _queue(session, actor=actor, vm=vm, action=kind, request_id=None, extra=extra)
    session.commit()
    return job


def _check_host_fits(session: Session, vm: VirtualMachine, *, vcpus: int, ram_gib: int) -> None:
    problems = host_fits(session, host_id=vm.host_id or 0, vcpus=vcpus, ram_gib=ram_gib,
                         disk_gib=vm.disk_gib, exclude_vm_id=vm.id)
    if problems:
        raise CapacityError(f"host cannot take VM '{vm.name}' at that size: " + "; ".join(problems))


def cancel(session: Session, *, actor: Actor, job_id: int) -> Job:
    """Cancel a queued job at once, or ask the runner to stop a running one."""
    job = jobs.get(session, actor=actor, id=job_id, for_update=True)
    if job.status in FINISHED:
        raise ConflictError(f"job {job.id} already {job.status}")
    if job.status == JobStatus.QUEUED:
        job.status, job.finished_at, job.error = JobStatus.CANCELLED, utcnow(), f"cancelled by {actor.username}"
        if job.action == JobAction.PROVISION and job.vm_id is not None:
            vm = session.get(VirtualMachine, job.vm_id)
            if vm is not None and vm.state == VMState.PROVISIONING:
                virtual_machines.update(session, actor=actor, id=_pk(vm), commit=False,
                                        data={"state": VMState.FAILED, "ip_address": None})
    else:
        job.cancel_requested = True
    session.add(job)
    session.commit()
    return job


def _agency_prefix(session: Session, agency_id: int) -> Prefix:
    prefix = session.execute(select(Prefix).where(col(Prefix.agency_id) == agency_id,
                                                  col(Prefix.purpose) == PrefixPurpose.TENANT)
                             .order_by(col(Prefix.id))).scalars().first()
    if prefix is None:
        raise ConflictError("the agency has no tenant prefix in IPAM to take an address from")
    return prefix


def retry(session: Session, *, actor: Actor, job_id: int) -> Job:
    """Queue the same action again; a failed provision gets its capacity re-checked and a fresh address."""
    old = jobs.get(session, actor=actor, id=job_id)
    require_serves(session, actor, old.agency_id)
    if old.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise ConflictError(f"job {old.id} is {old.status}; only failed or cancelled jobs can be retried")
    if old.vm_id is None:
        raise ConflictError(f"job {old.id} has no VM any more")
    vm = virtual_machines.get(session, actor=actor, id=old.vm_id, for_update=True)
    action = JobAction(old.action)
    if action in (JobAction.PROVISION, JobAction.CLEANUP):
        if vm.state != VMState.FAILED:
            raise ConflictError(f"VM '{vm.name}' is {vm.state}; only a failed VM can be provisioned again")
        _check_host_fits(session, vm, vcpus=vm.vcpus, ram_gib=vm.ram_gib)
        address = next_free_address(session, _agency_prefix(session, vm.agency_id))
        virtual_machines.update(session, actor=actor, id=_pk(vm), commit=False,
                                data={"state": VMState.PROVISIONING, "ip_address": address})
        action = JobAction.PROVISION
    extra = {k: v for k, v in old.extravars.items() if k in ("previous", "shutdown_timeout")}
    job = _queue(session, actor=actor, vm=vm, action=action, request_id=old.request_id, extra=extra,
                 retry_of=old.id)
    session.commit()
    return job


# --- reading jobs ------------------------------------------------------------------------------------------


def get(session: Session, *, actor: Actor, id: int) -> Job:
    """Return job ``id`` (agency viewers: only their agency's)."""
    return jobs.get(session, actor=actor, id=id)


def get_all(session: Session, *, actor: Actor, query: ListQuery) -> tuple[list[Job], int]:
    """Return one page of jobs, newest first."""
    return jobs.get_all(session, actor=actor, query=query)


def job_events(session: Session, job_id: int, after_seq: int = 0) -> list[JobEvent]:
    """Return a job's events after ``after_seq``, in order."""
    return list(session.execute(select(JobEvent).where(col(JobEvent.job_id) == job_id, col(JobEvent.seq) > after_seq)
                                .order_by(col(JobEvent.seq))).scalars())


def last_seq(session: Session, job_id: int) -> int:
    """Return the highest event number of a job (0 without events)."""
    return int(session.execute(select(func.max(col(JobEvent.seq))).where(col(JobEvent.job_id) == job_id)).scalar() or 0)


def vm_by_name(session: Session, *, actor: Actor, name: str) -> VirtualMachine:
    """Return the VM named ``name``."""
    vm = virtual_machines.get_by(session, actor=actor, name=name.strip().lower())
    if vm is None:
        raise NotFoundError(f"VM '{name}' not found")
    return vm


def has_active_job(session: Session, vm_id: int) -> bool:
    """Tell whether the VM has a queued or running job."""
    return _unfinished(session, vm_id) is not None


def last_failure(session: Session, vm_id: int) -> str | None:
    """Describe the VM's latest job if it failed (with the Ansible task that failed), else None."""
    job = session.execute(select(Job).where(col(Job.vm_id) == vm_id).order_by(col(Job.id).desc())
                          .limit(1)).scalars().first()
    if job is None or job.status != JobStatus.FAILED:
        return None
    task = f" at task '{job.failed_task}'" if job.failed_task else ""
    return f"job {job.id} ({job.action}) failed{task}: {job.error}"
