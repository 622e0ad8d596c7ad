"""Log in, log out, choose the language, and the start page."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Form, Request
from fastapi.responses import Response

from dcops.auth import sessions as console_sessions
from dcops.auth.choices import EVERYONE, Role
from dcops.auth.service import authenticate_password
from dcops.database import SessionDep
from dcops.exceptions import AuthenticationError, TooManyRequestsError
from dcops.proxy import client_address
from dcops.routing import ApiRouter
from dcops.web.auth import Page, Public, Viewer, current_user
from dcops.web.fmt import LANGS
from dcops.web.render import redirect, release, render
from dcops.web.session import MAX_AGE, session_of

router = ApiRouter()


def _safe_next(target: str | None) -> str:
    """Only follow local paths after login (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def start_page(role: Role) -> str:
    """Return where a role lands after login."""
    return "/inventory/vms" if role == Role.AGENCY_VIEWER else "/health"


@router.get("/login", dependencies=[Depends(Public())])
def login_form(request: Request, session: SessionDep, next: str | None = None) -> Response:
    """Show the login form (or go on if already logged in)."""
    user = current_user(request, session)
    if user is not None:
        return redirect(_safe_next(next) if next else start_page(Role(user.role)))
    return render(request, "login.html", next=_safe_next(next), error=None, username="")


@router.post("/login", dependencies=[Depends(Public())])
def login(request: Request, session: SessionDep, username: str = Form(""), password: str = Form(""),
          next: str = Form("/")) -> Response:
    """Check the password; start a fresh session on success."""
    try:
        user = authenticate_password(session, username.strip(), password, address=client_address(request.scope))
    except TooManyRequestsError as exc:
        release(session)
        return render(request, "login.html", status_code=429, headers={"Retry-After": str(exc.retry_after)},
                      next=_safe_next(next), error="Too many failed logins; wait a moment and try again.",
                      username=username)
    except AuthenticationError:
        release(session)
        return render(request, "login.html", status_code=401, next=_safe_next(next),
                      error="Wrong username or password.", username=username)
    web = session_of(request.scope)
    web.rotate()  # a new CSRF token: no token known before login survives it
    assert user.id is not None  # a stored row
    web["uid"] = user.id
    web["sid"] = console_sessions.start(session, user_id=user.id, max_age=MAX_AGE)
    role = Role(user.role)
    release(session)
    target = _safe_next(next)
    return redirect(start_page(role) if target == "/" else target)


@router.post("/logout")
def logout(request: Request, session: SessionDep, viewer: Viewer = Depends(Page(EVERYONE))) -> Response:
    """End the session (on the server too: a copied cookie stops working)."""
    web = session_of(request.scope)
    console_sessions.end(session, sid=web.get("sid"))
    web.rotate()
    return redirect("/login")


@router.post("/lang", dependencies=[Depends(Public())])
def choose_language(request: Request, lang: str = Form("id"), back: str = Form("/")) -> Response:
    """Remember the visitor's language in the session."""
    if lang in LANGS:
        session_of(request.scope)["lang"] = lang
    return redirect(_safe_next(back))


@router.get("/")
def home(viewer: Viewer = Depends(Page(EVERYONE))) -> Any:
    """Send each role to its start page."""
    return redirect(start_page(viewer.role))
