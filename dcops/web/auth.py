"""Who may open a console page: every page declares a :class:`Page` with its roles (default deny).

``Page`` reads the signed session, loads the user (so a disabled user or a changed role takes
effect at the next click), admits only the declared roles and, on POST, checks the CSRF token
(form field ``csrf_token`` or header ``X-CSRF-Token``). Anonymous visitors are sent to /login;
a logged-in user outside the roles gets the 403 page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from sqlmodel import Session

from dcops.auth import sessions as console_sessions
from dcops.auth.actor import Actor
from dcops.auth.choices import Role
from dcops.auth.models import User
from dcops.auth.service import actor_of
from dcops.database import SessionDep
from dcops.web.session import WebSession, check_csrf, session_of

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LoginRequired(Exception):
    """No valid session: the visitor must log in."""


class PageForbidden(Exception):
    """Logged in, but the role may not open this page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CsrfRejected(Exception):
    """A form was posted without the session's CSRF token."""


@dataclass
class Viewer:
    """The logged-in user of a console request."""

    user: User
    actor: Actor
    web: WebSession

    @property
    def role(self) -> Role:
        return self.actor.role

    def can(self, roles: Iterable[Role]) -> bool:
        return self.actor.role in frozenset(roles)


def _form_token(request: Request) -> str | None:
    form = getattr(request, "_form", None)
    return str(form.get("csrf_token")) if form is not None and form.get("csrf_token") is not None else None


async def verify_csrf(request: Request) -> None:
    """Reject an unsafe request whose CSRF token is missing or wrong (403)."""
    if request.method not in UNSAFE:
        return
    web = session_of(request.scope)
    submitted = request.headers.get("x-csrf-token")
    if not submitted:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            await request.form()
        submitted = _form_token(request)
    if not check_csrf(web, submitted):
        raise CsrfRejected()


def current_user(request: Request, session: Session) -> User | None:
    """Return the active user of the session, or None."""
    web = session_of(request.scope)
    uid = web.get("uid")
    if not isinstance(uid, int):
        return None
    if not console_sessions.is_valid(session, user_id=uid, sid=web.get("sid")):
        session.rollback()
        return None  # logged out, password changed, or a cookie from before server-side sessions
    user = session.get(User, uid)
    if user is not None:
        session.expunge(user)
    session.rollback()  # end the read at once: on SQLite every transaction holds the write lock
    if user is None or not user.is_active or user.password_hash is None:
        return None
    return user


class Page:
    """A dependency that admits only logged-in users with one of ``roles`` (and checks CSRF on POST)."""

    def __init__(self, roles: Iterable[Role]) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, request: Request, session: SessionDep) -> Viewer:
        request.state.web = True
        # a database read: in a worker thread, so a writer holding SQLite's lock never stalls the event loop
        user = await run_in_threadpool(current_user, request, session)
        if user is None:
            raise LoginRequired()
        viewer = Viewer(user=user, actor=actor_of(user), web=session_of(request.scope))
        request.state.viewer = viewer
        if viewer.role not in self.roles:
            raise PageForbidden(f"role '{viewer.role}' may not open this page")
        await verify_csrf(request)
        return viewer


class Public:
    """A dependency marking a console route open to anonymous visitors (login); still checks CSRF on POST."""

    async def __call__(self, request: Request) -> None:
        request.state.web = True
        await verify_csrf(request)


def _declares(dependant: object) -> bool:
    call = getattr(dependant, "call", None)
    if isinstance(call, Page | Public):
        return True
    return any(_declares(d) for d in getattr(dependant, "dependencies", []))


def page_roles(route: APIRoute) -> frozenset[Role] | None:
    """Return the roles a console route admits (None for public routes)."""
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        call = getattr(dep, "call", None)
        if isinstance(call, Page):
            return call.roles
        stack.extend(getattr(dep, "dependencies", []))
    return None


def unguarded_console_routes(app: FastAPI) -> list[str]:
    """Return console routes (module ``dcops.web``) that declare neither Page nor Public."""
    return [f"{sorted(route.methods or ())} {path}" for path, route in console_routes(app)
            if not _declares(route.dependant)]


def console_routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    """Return (path, route) of every console route (defined in ``dcops.web``), included routers descended."""
    from dcops.routing import walk_routes

    return [(path, route) for path, route in walk_routes(app.routes)
            if route.endpoint.__module__.startswith("dcops.web")]
