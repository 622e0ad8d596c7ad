"""Server-side console sessions: the cookie holds a random id, the database its SHA-256 digest.

A session is valid while its row exists and has not expired; logging out deletes the row, and a password
change deletes every row of the user, so a cookie copied before either stops working.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete
from sqlmodel import Session, col, select

from dcops.auth.models import ConsoleSession
from dcops.database import utcnow


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def start(session: Session, *, user_id: int, max_age: int) -> str:
    """Open a session for ``user_id``; return the id the cookie carries (stored only hashed)."""
    sid = secrets.token_urlsafe(32)
    now = utcnow()
    session.execute(delete(ConsoleSession).where(col(ConsoleSession.expires_at) < now))
    session.add(ConsoleSession(user_id=user_id, digest=_digest(sid), created_at=now,
                               expires_at=now + timedelta(seconds=max_age)))
    session.commit()
    return sid


def is_valid(session: Session, *, user_id: int, sid: str | None) -> bool:
    """Tell whether ``sid`` is an open, unexpired session of ``user_id``."""
    if not sid or not isinstance(sid, str):
        return False
    row = session.exec(select(ConsoleSession).where(ConsoleSession.digest == _digest(sid))).first()
    return row is not None and row.user_id == user_id and row.expires_at > utcnow()


def end(session: Session, *, sid: str | None) -> None:
    """Close one session (logout)."""
    if sid and isinstance(sid, str):
        session.execute(delete(ConsoleSession).where(col(ConsoleSession.digest) == _digest(sid)))
        session.commit()


def end_all(session: Session, *, user_id: int, keep: str | None = None, commit: bool = True) -> int:
    """Close every session of ``user_id`` (except ``keep``); return how many ended."""
    stmt = delete(ConsoleSession).where(col(ConsoleSession.user_id) == user_id)
    if keep:
        stmt = stmt.where(col(ConsoleSession.digest) != _digest(keep))
    result = cast(CursorResult[Any], session.execute(stmt))  # a DELETE answers a CursorResult
    n = result.rowcount or 0
    if commit:
        session.commit()
    return n
