"""Flash messages kept server-side: a page says "approved; provisioning not launched: ..." after a redirect.

The message is stored in the database under a random key held in the browser's session, and shown
once by the next page that session renders. Nothing travels in the URL, so no link can put text
in the banner; and the store is shared by every process serving the console.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from fastapi import Request
from sqlalchemy import delete
from sqlmodel import Session, col, select

from dcops.database import utcnow
from dcops.web.models import WebFlash
from dcops.web.session import session_of

KEY = "flash_key"
MAX_AGE = timedelta(hours=1)
LEVELS = ("info", "warn", "error")


def _key(request: Request) -> str | None:
    key = session_of(request.scope).get(KEY)
    return str(key) if key else None


def _new_or_existing_key(request: Request) -> str:
    key = _key(request)
    if key is None:
        key = secrets.token_urlsafe(24)
        session_of(request.scope)[KEY] = key
    return key


def flash(request: Request, session: Session, message: str, level: str = "info") -> None:
    """Keep ``message`` for the next page this browser session renders (commits)."""
    key = _new_or_existing_key(request)
    session.add(WebFlash(session_key=key, level=level if level in LEVELS else "info", message=message[:2000]))
    session.commit()


def take_flashes(request: Request, session: Session) -> list[WebFlash]:
    """The messages waiting for this browser session, oldest first; they are deleted as they are read."""
    key = _key(request)
    if key is None:
        return []
    rows = list(session.exec(select(WebFlash).where(WebFlash.session_key == key).order_by(col(WebFlash.id))))
    if rows:
        session.execute(delete(WebFlash).where(col(WebFlash.id).in_([r.id for r in rows])))
        session.execute(delete(WebFlash).where(col(WebFlash.created_at) < utcnow() - MAX_AGE))
        session.commit()
    return [r for r in rows if r.created_at >= utcnow() - MAX_AGE]
