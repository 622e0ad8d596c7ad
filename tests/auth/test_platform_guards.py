"""The platform's writes and routes rely on guards auth registers; without them they refuse (default deny)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from sqlmodel import Session

from dcops.actor import ADMIN, Actor, Role
from dcops.auth.deps import Allow
from dcops.auth.scopes import require_serves
from dcops.crud import AGENCY_GUARD, ListQuery
from dcops.routing import ROLE_GUARD, crud_router, role_guard


def test_auth_provides_both_guards() -> None:
    assert require_serves in AGENCY_GUARD.all()
    assert isinstance(role_guard(ADMIN), Allow)
    assert role_guard(ADMIN).roles == ADMIN


def test_a_scoped_write_without_a_guard_is_refused(
    session: Session, factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dcops.virtualization.service import virtual_machines

    agency, cluster = factory.agency(), factory.cluster()
    AGENCY_GUARD.all()  # providers loaded, then taken away
    monkeypatch.setattr(AGENCY_GUARD, "_implementations", [])
    admin = Actor(user_id=None, username="root", role=Role.ADMIN)

    with pytest.raises(RuntimeError, match="no agency write guard"):
        virtual_machines.create(session, actor=admin, data={"name": "vm-a", "agency_id": agency.id,
                                                            "cluster_id": cluster.id, "vcpus": 1, "ram_gib": 1,
                                                            "disk_gib": 1})
    session.rollback()
    rows, count = virtual_machines.get_all(session, actor=admin, query=ListQuery())
    assert (rows, count) == ([], 0), "nothing was written"


def test_routes_are_not_built_without_a_role_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    from dcops.tenancy.service import agencies

    ROLE_GUARD.all()
    monkeypatch.setattr(ROLE_GUARD, "_implementations", [])

    class Schema(BaseModel):
        id: int

    with pytest.raises(RuntimeError, match="no API role guard"):
        crud_router(agencies, path="/x", public=Schema, create=Schema, update=Schema, read=ADMIN, write=ADMIN,
                    tags=["x"])


def test_an_operator_scope_is_enforced_through_the_guard(session: Session, factory: Any) -> None:
    from dcops.auth.scopes import set_scopes
    from dcops.auth.service import create_user
    from dcops.exceptions import PermissionDeniedError
    from dcops.tenancy.service import agencies

    served, other = factory.agency(), factory.agency()
    user = create_user(session, actor=Actor(user_id=None, username="root", role=Role.ADMIN),
                       data={"username": "op", "role": "operator"})
    assert user.id is not None
    set_scopes(session, actor=Actor(user_id=None, username="root", role=Role.ADMIN), user_id=user.id,
               agency_ids=[served.id])
    operator = Actor(user_id=user.id, username="op", role=Role.OPERATOR)

    agencies.update(session, actor=operator, id=served.id, data={"contact_name": "Budi"})
    with pytest.raises(PermissionDeniedError, match=f"does not serve agency {other.id}"):
        agencies.update(session, actor=operator, id=other.id, data={"contact_name": "Budi"})
