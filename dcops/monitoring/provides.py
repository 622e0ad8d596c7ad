"""Register monitoring's work for the engine (polls, notifications, history, audit) and its host use for capacity."""

from __future__ import annotations

import os

from dcops.capacity.hooks import MEASURED_USE
from dcops.engine.hooks import PERIODIC, SCHEDULE, TASKS, WORKER_START, Periodic, Task
from dcops.monitoring.audit import audit_all
from dcops.monitoring.notify import deliver_outbox, drain_outbox
from dcops.monitoring.partitions import maintain_history
from dcops.monitoring.poll_schedule import schedule_polls
from dcops.monitoring.slices import poll_slice, warm_up
from dcops.monitoring.staleness import check as check_stale_polls
from dcops.monitoring.state import measured_use

# acknowledged once done: a poll slice and a notification last seconds, and a redelivered one is harmless
TASKS.register(Task("dcops.poll_slice", poll_slice, acks_late=True))
TASKS.register(Task("dcops.deliver_outbox", deliver_outbox, acks_late=True))

PERIODIC.register(Periodic("drain_outbox", drain_outbox, queue="notify", period_s=10.0))
PERIODIC.register(Periodic("check_stale_polls", check_stale_polls, queue="poll", period_s=30.0))
PERIODIC.register(Periodic("compact_history", maintain_history, queue="poll", period_s=300.0))
PERIODIC.register(Periodic("snmp_audit", audit_all, queue="poll",
                           period_s=float(os.environ.get("DCOPS_AUDIT_INTERVAL", "0") or 0)))

SCHEDULE.register(schedule_polls)
WORKER_START.register(warm_up)  # a poll worker loads its profiles before its first slice

MEASURED_USE.register(measured_use)
