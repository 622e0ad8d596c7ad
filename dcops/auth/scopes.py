"""Operator scopes: the agencies an operator serves.

An operator with no ``operator_scope`` row serves every agency (how dcops behaved before scopes existed,
so upgrading locks nobody out); one with rows may act only on those agencies' VMs, capacity requests and
jobs. Other roles are unaffected: admins serve all, and agency viewers are confined by their own agency.
The check sits in the service layer (:class:`dcops.crud.Resource` writes and the VM, job and request
actions), so the API, the import, the console and the CLI all obey the same rule.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import Session, col, select

from dcops.actor import Actor, Role
from dcops.auth.models import OperatorScope, User
from dcops.changelog import ChangeAction, record_change
from dcops.exceptions import NotFoundError, PermissionDeniedError, ValidationError

_CACHE_KEY = "dcops_operator_scopes"


def served_agencies(session: Session, user_id: int | None) -> frozenset[int]:
    """Return the agency ids an operator is limited to (empty: every agency)."""
    if user_id is None:
        return frozenset()
    cache = session.info.setdefault(_CACHE_KEY, {})
    if user_id not in cache:
        rows = session.exec(select(OperatorScope.agency_id).where(OperatorScope.user_id == user_id)).all()
        cache[user_id] = frozenset(rows)
    found: frozenset[int] = cache[user_id]
    return found


def require_serves(session: Session, actor: Actor, agency_id: int | None) -> None:
    """Raise PermissionDeniedError when ``actor`` is an operator who does not serve ``agency_id``."""
    if actor.role is not Role.OPERATOR or agency_id is None:
        return
    scope = served_agencies(session, actor.user_id)
    if scope and agency_id not in scope:
        raise PermissionDeniedError(
            f"operator '{actor.username}' does not serve agency {agency_id}; an admin can add it to their agencies"
        )


def get_scopes(session: Session, *, user_id: int) -> list[int]:
    """Return the agencies user ``user_id`` serves (empty: all)."""
    if session.get(User, user_id) is None:
        raise NotFoundError(f"user {user_id} not found")
    rows = session.exec(select(OperatorScope.agency_id).where(OperatorScope.user_id == user_id)
                        .order_by(col(OperatorScope.agency_id))).all()
    return list(rows)


def set_scopes(session: Session, *, actor: Actor, user_id: int, agency_ids: list[int]) -> list[int]:
    """Replace the agencies operator ``user_id`` serves (an empty list: every agency)."""
    from dcops.tenancy.models import Agency

    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id} not found")
    if agency_ids and user.role != Role.OPERATOR:
        raise ValidationError(f"only operators have agency scopes; '{user.username}' is {user.role}",
                              field="agency_ids")
    wanted = sorted(set(agency_ids))
    if wanted:
        found = set(session.exec(select(Agency.id).where(col(Agency.id).in_(wanted))).all())
        missing = [a for a in wanted if a not in found]
        if missing:
            raise ValidationError(f"agency_ids: agency {', '.join(map(str, missing))} does not exist",
                                  field="agency_ids")
    before = get_scopes(session, user_id=user_id)
    session.execute(delete(OperatorScope).where(col(OperatorScope.user_id) == user_id))
    for agency_id in wanted:
        session.add(OperatorScope(user_id=user_id, agency_id=agency_id))
    record_change(session, actor=actor, action=ChangeAction.UPDATE, object_type="operator scope",
                  object_id=user_id, object_repr=user.username, before={"agency_ids": before},
                  after={"agency_ids": wanted})
    session.commit()
    session.info.pop(_CACHE_KEY, None)
    return wanted
