"""Provisioning API: jobs, VM actions, hypervisors and the reconcile report, under /provisioning."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Query
from sqlmodel import Session

from dcops.auth.actor import Actor
from dcops.auth.choices import ADMIN_OPERATOR, EVERYONE, STAFF
from dcops.auth.deps import Allow
from dcops.crud import ListQuery
from dcops.database import SessionDep
from dcops.listing import MAX_LIMIT
from dcops.provisioning import service
from dcops.provisioning.models import (
    AgencySSHKeysUpdate,
    HypervisorPublic,
    HypervisorRegister,
    JobDetail,
    JobEventPublic,
    JobPublic,
    ResizeBody,
)
from dcops.routing import ApiRouter
from dcops.schemas import Page

router = ApiRouter(prefix="/provisioning", tags=["provisioning"])
reader, actor_ops, staff = Allow(EVERYONE), Allow(ADMIN_OPERATOR), Allow(STAFF)


def _detail(session: Session, job: Any) -> JobDetail:
    events = [JobEventPublic.model_validate(e, from_attributes=True) for e in service.job_events(session, job.id)]
    return JobDetail(**JobPublic.model_validate(job, from_attributes=True).model_dump(), events=events,
                     stdout=job.stdout)


@router.get("/jobs", response_model=Page[JobPublic])
def list_jobs(session: SessionDep, actor: Actor = Depends(reader),
              limit: int = Query(50, ge=1, le=MAX_LIMIT), offset: int = Query(0, ge=0),
              status: str | None = None, action: str | None = None, vm_id: int | None = None,
              request_id: int | None = None) -> Any:
    """List jobs, newest first (agency viewers: their agency's only)."""
    query = ListQuery(limit=limit, offset=offset, filters={"status": status, "action": action, "vm_id": vm_id,
                                                           "request_id": request_id})
    rows, count = service.get_all(session, actor=actor, query=query)
    return Page[JobPublic](data=[JobPublic.model_validate(r, from_attributes=True) for r in rows], count=count,
                           limit=limit, offset=offset)


@router.get("/jobs/{job_id}", response_model=JobDetail)
def show_job(session: SessionDep, job_id: int, actor: Actor = Depends(reader)) -> Any:
    """Show a job with its events and full output."""
    return _detail(session, service.get(session, actor=actor, id=job_id))


@router.get("/jobs/{job_id}/events", response_model=list[JobEventPublic])
def job_events(session: SessionDep, job_id: int, after: int = Query(0, ge=0), actor: Actor = Depends(reader)) -> Any:
    """Return a job's events after sequence number ``after`` (for live progress)."""
    service.get(session, actor=actor, id=job_id)
    return [JobEventPublic.model_validate(e, from_attributes=True) for e in service.job_events(session, job_id, after)]


@router.post("/jobs/{job_id}/cancel", response_model=JobPublic)
def cancel_job(session: SessionDep, job_id: int, actor: Actor = Depends(actor_ops)) -> Any:
    """Cancel a queued job, or stop a running one."""
    return JobPublic.model_validate(service.cancel(session, actor=actor, job_id=job_id), from_attributes=True)


@router.post("/jobs/{job_id}/retry", response_model=JobPublic, status_code=201)
def retry_job(session: SessionDep, job_id: int, actor: Actor = Depends(actor_ops)) -> Any:
    """Queue a failed or cancelled job again."""
    return JobPublic.model_validate(service.retry(session, actor=actor, job_id=job_id), from_attributes=True)


def _vm_action(action: str) -> Any:
    def handler(session: SessionDep, vm_id: int, actor: Actor = Depends(actor_ops)) -> Any:
        job = service.vm_action(session, actor=actor, vm_id=vm_id, action=action)
        return JobPublic.model_validate(job, from_attributes=True)

    handler.__doc__ = f"Queue a job to {action} the VM."
    handler.__name__ = f"vm_{action}"
    return handler


for _action in ("start", "stop", "decommission"):
    router.add_api_route(f"/vms/{{vm_id}}/{_action}", _vm_action(_action), methods=["POST"],
                         response_model=JobPublic, status_code=202, name=f"vm_{_action}")


@router.post("/vms/{vm_id}/resize", response_model=JobPublic, status_code=202)
def vm_resize(session: SessionDep, vm_id: int, body: ResizeBody, actor: Actor = Depends(actor_ops)) -> Any:
    """Queue a job to resize the VM (vCPU and RAM; it is stopped and started again)."""
    job = service.vm_action(session, actor=actor, vm_id=vm_id, action="resize", vcpus=body.vcpus,
                            ram_gib=body.ram_gib)
    return JobPublic.model_validate(job, from_attributes=True)


@router.get("/hypervisors", response_model=list[HypervisorPublic])
def list_hypervisors(session: SessionDep, actor: Actor = Depends(staff)) -> Any:
    """List registered hypervisors with their pinned host keys and last pre-flight."""
    return [service.hypervisor_public(session, a) for a in service.list_hypervisors(session)]


@router.post("/hypervisors", response_model=HypervisorPublic, status_code=201)
def register_hypervisor(session: SessionDep, body: HypervisorRegister, actor: Actor = Depends(actor_ops)) -> Any:
    """Register (or update) a hypervisor: pin its host key, store its SSH key encrypted, run the pre-flight."""
    return service.hypervisor_public(session, service.register_hypervisor(session, actor=actor, data=body))


@router.post("/hypervisors/{name}/preflight", response_model=HypervisorPublic)
def preflight(session: SessionDep, name: str, actor: Actor = Depends(actor_ops)) -> Any:
    """Run the pre-flight checks of a hypervisor again."""
    access = service.hypervisor_by_name(session, name)
    service.run_preflight(session, access=access)
    return service.hypervisor_public(session, access)


@router.put("/agencies/{agency_id}/ssh-keys", status_code=204)
def set_agency_keys(session: SessionDep, agency_id: int, body: AgencySSHKeysUpdate,
                    actor: Actor = Depends(actor_ops)) -> None:
    """Set the public SSH keys installed in the agency's new VMs."""
    service.set_agency_keys(session, actor=actor, agency_id=agency_id, authorized_keys=body.authorized_keys)


@router.get("/reconcile")
def reconcile_report(session: SessionDep, actor: Actor = Depends(staff)) -> dict[str, Any]:
    """Compare every hypervisor's domains with dcops: orphans, ghosts, drift (reports only)."""
    from dcops.provisioning.reconcile import reconcile

    return reconcile(session).as_dict()
