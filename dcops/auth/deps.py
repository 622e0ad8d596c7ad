"""Who may call an endpoint: every API route declares an :class:`Allow`; anything else is denied.

``create_app`` refuses to start if a route under ``/api`` lacks one (see
:func:`assert_every_route_guarded`), so a forgotten declaration fails loudly rather
than leaving an endpoint open.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dcops.auth.actor import Actor
from dcops.auth.choices import Role
from dcops.auth.service import authenticate_token, cached_actor
from dcops.database import SessionDep
from dcops.exceptions import AuthenticationError, PermissionDeniedError

_bearer = HTTPBearer(auto_error=False, description="API token from 'dcops user create' or 'dcops user token'")


class Allow:
    """A dependency that authenticates the caller and admits only ``roles``."""

    def __init__(self, roles: Iterable[Role]) -> None:
        self.roles = frozenset(roles)

    async def __call__(
        self,
        request: Request,
        session: SessionDep,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> Actor:
        # async, so a token found in the per-process cache costs no trip to a worker thread; the database
        # lookup itself runs in one (it would block the event loop)
        actor: Actor | None = getattr(request.state, "actor", None)
        if actor is None:
            if credentials is None or not credentials.credentials:
                raise AuthenticationError("missing API token: send 'Authorization: Bearer <token>'")
            actor = cached_actor(credentials.credentials)
            if actor is None:
                actor = await run_in_threadpool(authenticate_token, session, credentials.credentials)
            request.state.actor = actor
        if actor.role not in self.roles:
            allowed = ", ".join(sorted(r.value for r in self.roles))
            raise PermissionDeniedError(f"role '{actor.role}' may not do this (allowed: {allowed})")
        return actor


def _guarded(dependant: object) -> bool:
    call = getattr(dependant, "call", None)
    if isinstance(call, Allow):
        return True
    return any(_guarded(d) for d in getattr(dependant, "dependencies", []))


def assert_every_route_guarded(app: FastAPI, public: Iterable[str] = ()) -> int:
    """Raise if an ``/api`` route declares no :class:`Allow` (default deny); return how many were checked."""
    from dcops.routing import walk_routes

    open_paths = set(public)
    checked = 0
    for path, route in walk_routes(app.routes):
        if not path.startswith("/api") or path in open_paths:
            continue
        checked += 1
        if not _guarded(route.dependant):
            raise RuntimeError(f"route {sorted(route.methods or ())} {path} declares no Allow(...) roles")
    return checked

