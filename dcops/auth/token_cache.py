"""A short per-process cache of bearer token → actor, so a busy API does not look every token up per request.

An entry lives :data:`TTL` seconds (monotonic clock) and is keyed by the token's digest (never the token).
What the cache may hide, and for how long:

- in this process, nothing: any ORM write to a user or an API token (revoke, disable, role or agency change,
  delete, a new password) empties the cache at once (mapper events below);
- a change made by another process (``dcops user ...`` from a shell, a second server worker) is seen within
  :data:`TTL` seconds, when the entry expires;
- a token's own expiry time is checked on every hit, so an expired token is refused at once.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from sqlalchemy import event

from dcops.auth.actor import Actor
from dcops.auth.models import ApiToken, User

#: seconds an entry is trusted before the database is asked again
TTL = 5.0
MAX_ENTRIES = 1024

_entries: dict[str, tuple[float, Actor, datetime | None]] = {}
_lock = threading.Lock()
_generation = 0  # bumped by every clear, so a lookup that raced a revoke is not stored


def generation() -> int:
    """Return the current generation; pass it to :func:`store` (taken before reading the database)."""
    return _generation


def lookup(digest: str) -> tuple[Actor, datetime | None] | None:
    """Return the cached (actor, token expiry) for ``digest``, or None when absent or older than TTL."""
    entry = _entries.get(digest)
    if entry is None:
        return None
    if entry[0] <= time.monotonic():
        _entries.pop(digest, None)
        return None
    return entry[1], entry[2]


def store(digest: str, actor: Actor, expires_at: datetime | None, read_at: int) -> None:
    """Remember a successful lookup for :data:`TTL` seconds, unless a clear happened since ``read_at``."""
    with _lock:
        if read_at != _generation:
            return
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[digest] = (time.monotonic() + TTL, actor, expires_at)


def clear(*_: Any) -> None:
    """Forget every entry (called on any write to users or tokens)."""
    global _generation
    with _lock:
        _generation += 1
        _entries.clear()


for _model in (User, ApiToken):
    for _name in ("after_insert", "after_update", "after_delete"):
        event.listen(_model, _name, clear)
