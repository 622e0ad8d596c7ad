"""What the features above the engine plug into it: the task bodies, the periodic work, the scheduler's rounds.

The engine runs units of work by name (in a Celery worker, or in this process without a broker) but knows no
feature: each feature registers its own work in its ``provides.py``::

    # dcops/monitoring/provides.py
    TASKS.register(Task("dcops.poll_slice", poll_slice, acks_late=True))
    PERIODIC.register(Periodic("compact_history", compact_history, queue="poll", period_s=300.0))
    SCHEDULE.register(schedule_polls)
    WORKER_START.register(warm_up)   # profiles loaded before the first slice
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dcops.hooks import Hook


@dataclass(frozen=True)
class Task:
    """A unit of work the broker carries by ``name``: ``body`` takes ids (JSON values) and is idempotent.

    ``acks_late``: acknowledged once done (a killed worker's message is delivered again), else when received.
    """

    name: str
    body: Callable[..., Any]
    acks_late: bool = True


@dataclass(frozen=True)
class Periodic:
    """Work the scheduler's leader sends every ``period_s`` seconds (``DCOPS_EVERY_<NAME>`` overrides; 0: off)."""

    name: str
    body: Callable[[], Any]
    queue: str
    period_s: float

    def period(self) -> float:
        """Return the period in seconds, with the environment's override applied."""
        override = os.environ.get(f"DCOPS_EVERY_{self.name.upper()}")
        return float(override) if override else self.period_s


@dataclass
class Plan:
    """The scheduler leader's memory of what it sent (rebuilt from the database by a new leader)."""

    started: float = field(default_factory=time.time)
    #: per unit (a device id…): when it was last sent; a schedule step keeps it current
    sent_at: dict[int, float] = field(default_factory=dict)
    periodic_at: dict[str, float] = field(default_factory=dict)
    slices_sent: int = 0
    devices_sent: int = 0


#: a scheduler round of one feature: (plan, now as epoch seconds, tick seconds, slice size) -> units sent
ScheduleStep = Callable[[Plan, float, float, int], int]

#: what a worker process does once before it takes its first task (the queues it serves are passed): load what
#: the feature's tasks need, so that no task pays a process's start-up (and no first poll is late)
WorkerStart = Callable[[Sequence[str]], Any]

TASKS: Hook[Task] = Hook("task bodies")
PERIODIC: Hook[Periodic] = Hook("periodic work")
SCHEDULE: Hook[ScheduleStep] = Hook("scheduler rounds")
WORKER_START: Hook[WorkerStart] = Hook("worker start-up")


def task_named(name: str) -> Task:
    """Return the registered task ``name``; raise KeyError when no feature provides it."""
    for task in TASKS.all():
        if task.name == name:
            return task
    raise KeyError(f"no feature provides the task {name!r}")


def periodic_named(name: str) -> Periodic:
    """Return the registered periodic work ``name``; raise KeyError when no feature provides it."""
    for work in PERIODIC.all():
        if work.name == name:
            return work
    raise KeyError(f"no feature provides the periodic work {name!r}")


def run_periodic(name: str) -> Any:
    """Run one periodic work by name (the body of the ``dcops.periodic`` task)."""
    return periodic_named(name).body()


TASKS.register(Task("dcops.periodic", run_periodic, acks_late=True))
