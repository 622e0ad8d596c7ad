"""Users, tokens, the caller's identity and the change log: /api/v1/auth/..., /api/v1/changelog"""

from typing import Any

from fastapi import Depends, Query, Request, Response, status

from dcops import changelog as change_log
from dcops.auth import models as m
from dcops.auth import scopes, service
from dcops.auth.actor import Actor
from dcops.auth.choices import ADMIN, AUDIT, EVERYONE
from dcops.auth.deps import Allow
from dcops.crud import ListQuery
from dcops.database import SessionDep
from dcops.exceptions import NotFoundError
from dcops.proxy import client_address
from dcops.routing import ApiRouter, crud_router
from dcops.schemas import Page

router = ApiRouter()
router.include_router(
    crud_router(
        service.users, path="/auth/users", public=m.UserPublic, create=m.UserCreate, update=m.UserUpdate,
        read=ADMIN, write=ADMIN, tags=["auth"],
        create_fn=lambda s, a, d: service.create_user(s, actor=a, data=d),
        update_fn=lambda s, a, i, d: service.update_user(s, actor=a, id=i, data=d),
    )
)


@router.get("/auth/me", response_model=m.UserPublic, tags=["auth"], summary="Who am I")
def me(session: SessionDep, actor: Actor = Depends(Allow(EVERYONE))) -> Any:
    """Return the calling user."""
    return m.UserPublic.model_validate(service.get_user(session, id=actor.user_id), from_attributes=True)


@router.get("/auth/users/{id}/tokens", response_model=list[m.TokenPublic], tags=["auth"], summary="List tokens")
def list_tokens(id: int, session: SessionDep, actor: Actor = Depends(Allow(ADMIN))) -> Any:
    """List a user's API tokens (never the tokens themselves)."""
    return [m.TokenPublic.model_validate(r, from_attributes=True) for r in service.list_tokens(session, user_id=id)]


@router.post("/auth/users/{id}/tokens", response_model=m.TokenCreated, status_code=status.HTTP_201_CREATED,
             tags=["auth"], summary="Create a token")
def create_token(id: int, body: m.TokenCreate, session: SessionDep, actor: Actor = Depends(Allow(ADMIN))) -> Any:
    """Create an API token; the response is the only time it is shown."""
    token, record = service.issue_token(session, actor=actor, user_id=id, name=body.name,
                                        expires_in_days=body.expires_in_days)
    return m.TokenCreated(token=token, **m.TokenPublic.model_validate(record, from_attributes=True).model_dump())


@router.post("/auth/tokens/{token_id}/revoke", response_model=m.TokenPublic, tags=["auth"], summary="Revoke a token")
def revoke_token(token_id: int, session: SessionDep, actor: Actor = Depends(Allow(ADMIN))) -> Any:
    """Revoke an API token at once."""
    return m.TokenPublic.model_validate(service.revoke_token(session, actor=actor, token_id=token_id),
                                        from_attributes=True)


@router.get("/changelog", response_model=Page[m.ChangeLogPublic], tags=["auth"], summary="List changes")
def list_changes(
    session: SessionDep,
    actor: Actor = Depends(Allow(AUDIT)),
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    object_type: str | None = None,
    object_id: int | None = None,
    user_id: int | None = None,
    q: str | None = Query(None, max_length=200),
) -> Any:
    """List change-log entries, newest first."""
    filters = {"object_type": object_type, "object_id": object_id, "user_id": user_id}
    rows, count = service.changes.get_all(session, actor=actor,
                                    query=ListQuery(limit=limit, offset=offset, q=q, filters=filters))
    return Page[m.ChangeLogPublic](data=[m.ChangeLogPublic.model_validate(r, from_attributes=True) for r in rows],
                                   count=count, limit=limit, offset=offset)


@router.get("/changelog/{id}", response_model=m.ChangeLogPublic, tags=["auth"], summary="Get a change")
def get_change(id: int, session: SessionDep, actor: Actor = Depends(Allow(AUDIT))) -> Any:
    """Return one change-log entry."""
    row = change_log.get(session, id=id)
    if row is None:
        raise NotFoundError(f"change {id} not found")
    return m.ChangeLogPublic.model_validate(row, from_attributes=True)


@router.post("/auth/login", response_model=m.TokenCreated, tags=["auth"], summary="Log in with a password")
def login(body: m.LoginRequest, request: Request, session: SessionDep) -> Any:
    """Exchange a username and password for an API token valid one day (public: the credentials are the check).

    Failed logins are throttled per username and per source address: 429 with ``Retry-After``."""
    user = service.authenticate_password(session, body.username, body.password, address=client_address(request.scope))
    assert user.id is not None  # a stored row
    token, record = service.issue_token(session, actor=service.actor_of(user), user_id=user.id, name="login",
                                        expires_in_days=1)
    return m.TokenCreated(token=token, **m.TokenPublic.model_validate(record, from_attributes=True).model_dump())


@router.post("/auth/password", status_code=status.HTTP_204_NO_CONTENT, response_class=Response, tags=["auth"],
             summary="Change my password")
def change_my_password(body: m.PasswordChange, session: SessionDep,
                       actor: Actor = Depends(Allow(EVERYONE))) -> Response:
    """Change the caller's password (the current one is required); ends every console session of the caller."""
    user = service.get_user(session, id=actor.user_id)
    service.change_password(session, user=user, current_password=body.current_password,
                            new_password=body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/auth/users/{id}/agencies", response_model=m.OperatorScopes, tags=["auth"],
            summary="Agencies an operator serves")
def get_operator_scopes(id: int, session: SessionDep, actor: Actor = Depends(Allow(ADMIN))) -> Any:
    """Return the agencies an operator serves; an empty list means every agency."""
    return m.OperatorScopes(user_id=id, agency_ids=scopes.get_scopes(session, user_id=id))


@router.put("/auth/users/{id}/agencies", response_model=m.OperatorScopes, tags=["auth"],
            summary="Set the agencies an operator serves")
def set_operator_scopes(id: int, body: m.OperatorScopesUpdate, session: SessionDep,
                        actor: Actor = Depends(Allow(ADMIN))) -> Any:
    """Replace the agencies an operator may act for (VM actions, capacity requests, jobs); [] means every agency."""
    ids = scopes.set_scopes(session, actor=actor, user_id=id, agency_ids=body.agency_ids)
    return m.OperatorScopes(user_id=id, agency_ids=ids)
