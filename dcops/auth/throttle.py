"""Failed-login throttling per username and per source address, with exponential backoff.

State lives in the database (``login_throttle``), so every dcops process behind a proxy counts the same
failures. After ``login_max_failures`` failures for a username (or ``login_address_max_failures`` from one
address) within :data:`WINDOW`, further attempts are refused with 429 for ``login_backoff_seconds``, doubling
with each further failure up to :data:`MAX_LOCK`. A success clears the username's count only: an attacker
cannot reset the count of their address by logging into an account of their own.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from dcops.auth.models import LoginThrottle
from dcops.config import get_settings
from dcops.database import utcnow
from dcops.exceptions import TooManyRequestsError

WINDOW = timedelta(minutes=15)
MAX_LOCK = timedelta(minutes=15)


def keys(username: str, address: str | None) -> list[tuple[str, int]]:
    """Return the throttle keys of one attempt and the failure threshold of each."""
    settings = get_settings()
    out = [(f"user:{username.strip().lower()[:64]}", settings.login_max_failures)]
    if address:
        out.append((f"addr:{address[:64]}", settings.login_address_max_failures))
    return out


def check(session: Session, username: str, address: str | None) -> None:
    """Raise TooManyRequestsError while the username or the address is locked."""
    now = utcnow()
    wait = 0.0
    for key, _ in keys(username, address):
        row = session.get(LoginThrottle, key)
        if row is not None and row.locked_until is not None and row.locked_until > now:
            wait = max(wait, (row.locked_until - now).total_seconds())
    session.rollback()
    if wait > 0:
        raise TooManyRequestsError(
            f"too many failed logins; try again in {int(wait) + 1} s", retry_after=int(wait) + 1
        )


def record_failure(session: Session, username: str, address: str | None) -> None:
    """Count one failed login against the username and the address (committed at once)."""
    base = get_settings().login_backoff_seconds
    for attempt in range(3):
        try:
            now = utcnow()
            for key, threshold in keys(username, address):
                row = session.get(LoginThrottle, key, with_for_update=True)
                if row is None:
                    row = LoginThrottle(key=key, failures=0, last_failure_at=now)
                    session.add(row)
                elif now - row.last_failure_at > WINDOW:
                    row.failures = 0
                row.failures += 1
                row.last_failure_at = now
                if row.failures >= threshold:
                    lock = timedelta(seconds=base * 2 ** min(row.failures - threshold, 16))
                    row.locked_until = now + min(lock, MAX_LOCK)
            session.commit()
            return
        except IntegrityError:  # two processes counted the first failure of a key at once
            session.rollback()
            if attempt == 2:
                raise


def record_success(session: Session, username: str) -> None:
    """Forget the username's failures after a successful login."""
    key, _ = keys(username, None)[0]
    row = session.get(LoginThrottle, key)
    if row is not None:
        session.delete(row)
        session.commit()
