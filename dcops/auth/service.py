"""Users and API tokens: create, authenticate, revoke."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from dcops.auth import sessions as console_sessions
from dcops.auth import throttle, token_cache
from dcops.auth.actor import Actor
from dcops.auth.choices import ChangeAction, Role
from dcops.auth.models import ApiToken, User
from dcops.changelog import ChangeLogEntry
from dcops.config import get_settings
from dcops.crud import Resource, record_change
from dcops.database import utcnow
from dcops.exceptions import AuthenticationError, NotFoundError, ValidationError
from dcops.security import hash_password, hash_token, new_token, verify_password


def _check_user(session: Session, user: User, before: dict[str, Any] | None, options: dict[str, Any]) -> list[str]:
    if user.role == Role.AGENCY_VIEWER and user.agency_id is None:
        raise ValidationError("an agency-viewer must be bound to an agency (agency_id)", field="agency_id")
    if user.role != Role.AGENCY_VIEWER and user.agency_id is not None:
        raise ValidationError(f"only agency-viewers are bound to an agency, not {user.role}", field="agency_id")
    return []


users = Resource(
    User,
    label="user",
    plural="users",
    repr_field="username",
    search=("username", "full_name", "email"),
    filters=("role", "agency_id", "is_active"),
    orderings=("id", "username", "role"),
    unique=(("username",),),
    secret_fields=("password_hash",),
    check=_check_user,
)


changes = Resource(
    ChangeLogEntry, label="change", plural="changes", repr_field="object_repr", search=("object_repr", "username"),
    filters=("object_type", "object_id", "user_id", "action"), orderings=("id", "time"), default_ordering="-id",
    unique=(),
)
"""The change log (:mod:`dcops.changelog`) listed, searched and filtered like any resource."""


def create_user(session: Session, *, actor: Actor, data: dict[str, Any]) -> User:
    """Create a user, hashing the password if one is given."""
    password = data.pop("password", None)
    if password:
        data["password_hash"] = hash_password(password)
    obj, _ = users.create(session, actor=actor, data=data)
    return obj


def update_user(session: Session, *, actor: Actor, id: int, data: dict[str, Any]) -> User:
    """Update a user; a new password replaces the old hash."""
    password = data.pop("password", None)
    if password:
        data["password_hash"] = hash_password(password)
    obj, _ = users.update(session, actor=actor, id=id, data=data)
    return obj


def issue_token(
    session: Session, *, actor: Actor, user_id: int, name: str = "default", expires_in_days: int | None = None
) -> tuple[str, ApiToken]:
    """Create an API token for a user; return the token (shown once) and its record."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id} not found")
    token = new_token()
    days = expires_in_days or get_settings().token_ttl_days
    record = ApiToken(
        user_id=user_id,
        name=name,
        token_hash=hash_token(token),
        prefix=token[:12],
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(record)
    session.flush()
    assert record.id is not None and record.expires_at is not None  # flushed, and set above
    record_change(
        session, actor=actor, action=ChangeAction.CREATE, object_type="api token", object_id=record.id,
        object_repr=f"{user.username}/{name}", before=None,
        after={"user_id": user_id, "name": name, "prefix": record.prefix, "expires_at": record.expires_at.isoformat()},
    )
    session.commit()
    return token, record


def revoke_token(session: Session, *, actor: Actor, token_id: int) -> ApiToken:
    """Revoke a token at once."""
    record = session.get(ApiToken, token_id)
    if record is None:
        raise NotFoundError(f"token {token_id} not found")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        record_change(
            session, actor=actor, action=ChangeAction.UPDATE, object_type="api token", object_id=token_id,
            object_repr=record.prefix, before={"revoked_at": None}, after={"revoked_at": record.revoked_at.isoformat()},
        )
        session.commit()
    return record


# --- reads for the API and the console -------------------------------------------------------------


def get_user(session: Session, *, id: int | None) -> User:
    """Return user ``id``, or raise NotFoundError."""
    user = session.get(User, id) if id is not None else None
    if user is None:
        raise NotFoundError(f"user {id} not found")
    return user


def users_by_name(session: Session) -> list[User]:
    """Return every user, by username."""
    return list(session.exec(select(User).order_by(col(User.username))).all())


def get_token(session: Session, *, id: int) -> ApiToken | None:
    """Return API token record ``id``, or None."""
    return session.get(ApiToken, id)


def list_tokens(session: Session, *, user_id: int, newest_first: bool = False) -> list[ApiToken]:
    """Return a user's API token records (never the tokens themselves), oldest first unless ``newest_first``."""
    order = col(ApiToken.id).desc() if newest_first else col(ApiToken.id)
    return list(session.exec(select(ApiToken).where(ApiToken.user_id == user_id).order_by(order)).all())


def live_token_counts(session: Session) -> dict[int, int]:
    """Return how many unrevoked, unexpired tokens each user has (users with none are absent)."""
    now = utcnow()
    rows = session.exec(
        select(ApiToken.user_id, func.count())
        .where(col(ApiToken.revoked_at).is_(None),
               or_(col(ApiToken.expires_at).is_(None), col(ApiToken.expires_at) > now))
        .group_by(col(ApiToken.user_id))).all()
    return {user_id: int(count) for user_id, count in rows}


def actor_of(user: User) -> Actor:
    """Return the actor a user acts as."""
    return Actor(user_id=user.id, username=user.username, role=Role(user.role), agency_id=user.agency_id)


def _cached(digest: str) -> Actor | None:
    cached = token_cache.lookup(digest)
    if cached is not None:
        actor, expires_at = cached
        if expires_at is None or expires_at > utcnow():
            return actor
    return None


def cached_actor(token: str) -> Actor | None:
    """Return the actor of a token seen (and accepted) within the last few seconds, or None: then call
    :func:`authenticate_token`. Never touches the database."""
    return _cached(hash_token(token))


def authenticate_token(session: Session, token: str) -> Actor:
    """Return the actor behind a bearer token, or raise AuthenticationError saying why not.

    A successful lookup is cached for a few seconds per process (:mod:`dcops.auth.token_cache`): a revoke,
    disable or role change made in this process takes effect at once, one made by another process within
    ``token_cache.TTL`` seconds; expiry is checked on every request.
    """
    digest = hash_token(token)
    actor = _cached(digest)
    if actor is not None:
        return actor
    read_at = token_cache.generation()
    row = session.exec(
        select(ApiToken, User).join(User, col(User.id) == ApiToken.user_id).where(ApiToken.token_hash == digest)
    ).first()
    if row is None:
        raise AuthenticationError("invalid API token")
    record, user = row
    now = utcnow()
    if record.revoked_at is not None:
        raise AuthenticationError("API token has been revoked; ask an admin for a new one")
    if record.expires_at is not None and record.expires_at <= now:
        raise AuthenticationError("API token has expired; create a new one with 'dcops user token'")
    if not user.is_active:
        raise AuthenticationError(f"user '{user.username}' is disabled")
    actor = actor_of(user)
    due = record.last_used_at is None or now - record.last_used_at > timedelta(minutes=5)
    record_id = record.id
    token_cache.store(digest, actor, record.expires_at, read_at)
    session.rollback()  # end the read at once (on SQLite a write transaction holds the lock)
    if due:
        # coarse, so reads do not turn into writes on every request; a fresh transaction whose first
        # statement writes, so a deferred (read) transaction never has to upgrade its lock
        session.execute(update(ApiToken).where(col(ApiToken.id) == record_id).values(last_used_at=now))
        session.commit()
    return actor


_dummy_hash: str | None = None


def _dummy_verify(password: str) -> None:
    """Spend the same argon2 work as a real check, so an unknown username cannot be told by timing."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_urlsafe(16))
    verify_password(_dummy_hash, password)


def authenticate_password(session: Session, username: str, password: str, *, address: str | None = None) -> User:
    """Return the user for a username and password, or raise AuthenticationError.

    Failures are throttled per username and per source ``address`` (429 with a backoff, see
    :mod:`dcops.auth.throttle`); unknown usernames cost the same argon2 verification as known ones.
    """
    throttle.check(session, username, address)
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.password_hash:
        _dummy_verify(password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password)
    if not ok:
        session.rollback()
        throttle.record_failure(session, username, address)
        raise AuthenticationError("wrong username or password")
    assert user is not None  # a password matched
    if not user.is_active:
        raise AuthenticationError(f"user '{username}' is disabled")
    throttle.record_success(session, username)
    return user


def change_password(session: Session, *, user: User, current_password: str, new_password: str,
                    keep_session: str | None = None) -> User:
    """Replace ``user``'s password after checking the current one; end every console session of the user.

    ``keep_session`` (a console session id) survives, so the page that changed the password stays logged in.
    Raises ValidationError naming ``current_password`` or ``new_password`` when either is unacceptable.
    """
    stored = session.get(User, user.id)
    if stored is None:
        raise NotFoundError(f"user {user.id} not found")
    if not stored.password_hash or not verify_password(stored.password_hash, current_password):
        raise ValidationError("the current password is wrong", field="current_password")
    if len(new_password) < 10 or len(new_password) > 200:
        raise ValidationError("the new password must be 10 to 200 characters long", field="new_password")
    if new_password == current_password:
        raise ValidationError("the new password must differ from the current one", field="new_password")
    stored.password_hash = hash_password(new_password)
    assert stored.id is not None  # a stored row
    record_change(session, actor=actor_of(stored), action=ChangeAction.UPDATE, object_type="user",
                  object_id=stored.id, object_repr=stored.username,
                  before={"password": "(changed)"}, after={"password": "(changed)"})
    console_sessions.end_all(session, user_id=stored.id, keep=keep_session, commit=False)
    users.commit(session)
    return stored
