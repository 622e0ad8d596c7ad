"""What capacity learns from the features above it through its hooks: provisioning's jobs (a failed VM's reason, a
VM being built that a cancel must not delete), monitoring's measured host use, consolidation's planned arrivals."""

from __future__ import annotations

from typing import Any

import pytest

from dcops.capacity.hooks import MEASURED_USE, PLANNED_ARRIVALS, VM_BUSY, VM_FAILURE
from dcops.provisioning.choices import JobStatus
from dcops.provisioning.models import Job
from dcops.virtualization.models import VirtualMachine, VMState

REQ = "/api/v1/capacity/requests"


pytestmark = pytest.mark.usefixtures("no_auto_provision")


def test_every_collaborator_is_registered_by_its_feature() -> None:
    from dcops.consolidation.plan_demand import arrivals
    from dcops.provisioning.service import has_active_job, last_failure

    assert has_active_job in VM_BUSY.all() and last_failure in VM_FAILURE.all()
    assert arrivals in PLANNED_ARRIVALS.all()
    assert [f.__module__ for f in MEASURED_USE.all()] == ["dcops.monitoring.state"]


def _approved(client: Any, tokens: Any, factory: Any) -> dict[str, Any]:
    rack = factory.rack()
    dtype = factory.device_type(cpu_threads=64, ram_gib=512, storage_tb=8)
    cluster = factory.cluster(ha_reserve_hosts=0)
    factory.device(rack=rack, dtype=dtype, role="hypervisor", cluster_id=cluster.id, position=1)
    agency = factory.agency()
    factory.prefix(cidr="10.20.7.0/24", agency_id=agency.id, gateway="10.20.7.1")
    filed = client.post(REQ, headers=tokens.headers("operator"), json={
        "agency_id": agency.id, "justification": "two VMs to watch through their jobs",
        "items": [{"name_prefix": "hook", "count": 2, "vcpus": 2, "ram_gib": 4, "disk_gib": 40}]})
    assert filed.status_code == 201, filed.text
    approved = client.post(f"{REQ}/{filed.json()['id']}/approve", headers=tokens.headers("admin"))
    assert approved.status_code == 200, approved.text
    return approved.json()


def _job(session: Any, vm_id: int, state: VMState, **job: Any) -> int:
    vm = session.get(VirtualMachine, vm_id)
    vm.state = state
    row = Job(action="provision", vm_id=vm.id, vm_name=vm.name, agency_id=vm.agency_id, host_id=vm.host_id,
              created_by="test", **job)
    session.add(row)
    session.commit()
    return int(row.id)


def test_a_failed_vm_shows_its_jobs_reason_and_a_vm_being_built_blocks_cancel(client, tokens, factory, session):
    request = _approved(client, tokens, factory)
    building, failed = (vm["id"] for vm in request["vms"])
    building_job = _job(session, building, VMState.PROVISIONING)
    job_id = _job(session, failed, VMState.FAILED, status=JobStatus.FAILED, failed_task="Define the domain",
                  error="virsh: no space left")

    shown = client.get(f"{REQ}/{request['id']}", headers=tokens.headers("auditor")).json()
    failure = {vm["id"]: vm["failure"] for vm in shown["vms"]}
    assert failure == {building: None,
                       failed: f"job {job_id} (provision) failed at task 'Define the domain': virsh: no space left"}

    refused = client.post(f"{REQ}/{request['id']}/cancel", headers=tokens.headers("admin"))
    assert refused.status_code == 409, refused.text
    assert "is being provisioned; cancel its job first" in refused.json()["detail"]
    session.expire_all()
    assert session.get(VirtualMachine, building) is not None  # nothing was deleted under the job
    session.commit()

    session.get(Job, building_job).status = JobStatus.CANCELLED  # the job of the VM being built ends
    session.commit()
    cancelled = client.post(f"{REQ}/{request['id']}/cancel", headers=tokens.headers("admin"))
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
