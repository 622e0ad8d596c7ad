"""What capacity asks of the features above it, without importing them (see :mod:`dcops.hooks`).

- ``MEASURED_USE`` (monitoring): the latest measured use of hosts, for headroom's right-sizing hints.
- ``PLANNED_ARRIVALS`` (consolidation): demand that is not VMs yet (planned migrations), for the budget plan.
- ``VM_BUSY`` (provisioning): whether a VM has a queued or running job, so a cancel does not delete it under one.
- ``VM_FAILURE`` (provisioning): why a VM's provisioning failed, shown beside the request's VMs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlmodel import Session

from dcops.hooks import Hook

if TYPE_CHECKING:
    from dcops.capacity.forecast import Vector
    from dcops.capacity.planning import PlanRequest

MeasuredUse = Callable[[Session, list[int]], dict[int, dict[str, float]]]
"""``(session, host_ids) -> {host_id: {"cpu_load_percent": x, "memory_used_percent": y}}``; hosts never
measured are absent, and so is a metric the host does not report."""

PlannedArrivals = Callable[[Session, "PlanRequest", int], dict[str, list[tuple[int, "Vector"]]]]
"""``(session, plan request, baseline fiscal year) -> {agency code: [(fiscal year, demand), ...]}``."""

VMBusy = Callable[[Session, int], bool]
"""``(session, vm_id) -> True`` when something is working on the VM now (a queued or running job)."""

VMFailure = Callable[[Session, int], str | None]
"""``(session, vm_id) -> "job 7 (provision) failed at task '...': ..."`` for a failed VM, else None."""

MEASURED_USE: Hook[MeasuredUse] = Hook("measured host use")
PLANNED_ARRIVALS: Hook[PlannedArrivals] = Hook("planned arrivals")
VM_BUSY: Hook[VMBusy] = Hook("VM busy")
VM_FAILURE: Hook[VMFailure] = Hook("VM failure")
