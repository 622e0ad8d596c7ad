"""The capacity → provisioning journey: approve (reserve) a request, then launch the jobs that build its VMs.

Capacity's service reserves and records; provisioning's service queues jobs. This adapter is the one place
that joins them, so neither feature's domain imports the other (see tests/architecture/test_layering.py).
Routers, CLI commands and pages call these functions for the journey.
"""

from __future__ import annotations

import logging

from sqlmodel import Session

from dcops.auth.actor import Actor
from dcops.capacity import service
from dcops.capacity.models import CapacityRequest
from dcops.config import get_settings
from dcops.exceptions import ConflictError, NotFoundError, ValidationError
from dcops.provisioning.service import launch

log = logging.getLogger(__name__)


def approve(session: Session, *, actor: Actor, id: int, note: str = "") -> tuple[CapacityRequest, list[str]]:
    """Approve request ``id`` (reserving its capacity, all or nothing), then launch its provisioning jobs."""
    request, warnings = service.approve(session, actor=actor, id=id, note=note)
    warnings += launch_provisioning(session, actor=actor, request=request)
    return request, warnings


def provision(session: Session, *, actor: Actor, id: int) -> tuple[CapacityRequest, list[str]]:
    """Launch the provisioning jobs of approved request ``id`` (when approval does not do it by itself)."""
    request = service.check_provisionable(session, actor=actor, id=id)
    problems = launch_provisioning(session, actor=actor, request=request, explicit=True)
    if problems:
        raise ConflictError("; ".join(problems))
    return service.get(session, actor=actor, id=id), []


def launch_provisioning(session: Session, *, actor: Actor, request: CapacityRequest,
                        explicit: bool = False) -> list[str]:
    """Start the provisioning jobs of an approved request (when the setting asks for it); return warnings."""
    if not explicit and not get_settings().auto_provision:
        return [f"provisioning is manual (DCOPS_AUTO_PROVISION=false): launch it with 'dcops request provision "
                f"{request.id}' or POST /api/v1/capacity/requests/{request.id}/provision"]
    request_id = request.id or 0
    try:
        vm_ids = service.begin_provisioning(session, request_id)  # reserved -> provisioning, with the jobs
        launch(session, actor=actor, vm_ids=vm_ids, action="provision", request_id=request_id)
        service.mark_provisioning(session, actor=actor, request_id=request_id)
    except (ConflictError, ValidationError, NotFoundError) as exc:
        session.rollback()
        log.warning("provisioning of capacity request %s not launched: %s", request_id, exc.message)
        service.note_launch_problem(session, request_id, actor, exc.message)
        return [f"provisioning not launched: {exc.message}"]
    return []
