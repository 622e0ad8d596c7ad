"""Who this process is, as a worker: the name a lease or a claim records."""

from __future__ import annotations

import os
import socket


def worker_id() -> str:
    """Name this process as a worker: host:pid (``DCOPS_WORKER_HOST`` overrides the host name)."""
    return f"{os.environ.get('DCOPS_WORKER_HOST') or socket.gethostname()}:{os.getpid()}"
