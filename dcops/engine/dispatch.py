"""Hand a unit of work to the broker's queue, or run it in this process when no broker is configured."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from dcops.config import get_settings
from dcops.engine.hooks import task_named

log = logging.getLogger("dcops.engine")

QUEUES = ("poll", "jobs", "notify")


def distributed() -> bool:
    """Tell whether background work goes through a broker (``DCOPS_BROKER_URL`` set)."""
    return bool(get_settings().broker_url)


def queue_name(queue: str) -> str:
    """Return the broker's name of one of :data:`QUEUES` (prefixed, so that installations can share a broker)."""
    return f"{get_settings().queue_prefix}.{queue}"


def submit(queue: str, task: str, *args: Any, local: Callable[..., Any] | None = None,
           expires: float | None = None) -> None:
    """Send ``task(*args)`` to ``queue``; without a broker, call ``local(*args)`` (or the task body) here."""
    if not distributed():
        (local or task_named(task).body)(*args)
        return
    from dcops.engine.app import get_app

    get_app().send_task(task, args=list(args), queue=queue_name(queue), expires=expires)
