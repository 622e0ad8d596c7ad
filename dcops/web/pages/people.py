"""Users and API tokens (admins), and "my account": who I am, my tokens, my password."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from dcops.auth import service as auth
from dcops.auth.choices import ADMIN, EVERYONE
from dcops.auth.models import ApiToken
from dcops.database import SessionDep, utcnow
from dcops.exceptions import DcopsError, NotFoundError
from dcops.routing import ApiRouter
from dcops.tenancy.service import agency_codes
from dcops.web.auth import Page, Viewer
from dcops.web.flash import flash
from dcops.web.i18n import translator
from dcops.web.messages import translate_message
from dcops.web.render import lang_of, redirect, release, render

router = ApiRouter()


def _tokens(session: Session, user_id: int | None) -> list[ApiToken]:
    return auth.list_tokens(session, user_id=user_id, newest_first=True) if user_id is not None else []


@router.get("/users")
def users_page(request: Request, session: SessionDep, viewer: Viewer = Depends(Page(ADMIN))) -> Response:
    """Every user: role, agency, active, how many live tokens."""
    return render(request, "users.html", session, active="users", title="Users", users=auth.users_by_name(session),
                  live=auth.live_token_counts(session), agencies=agency_codes(session))


@router.get("/users/{id}")
def user_page(id: int, request: Request, session: SessionDep, viewer: Viewer = Depends(Page(ADMIN))) -> Response:
    """One user and their API tokens (prefix, expiry, last use), with revoke."""
    user = auth.get_user(session, id=id)
    return render(request, "user.html", session, active="users", title="Users", user=user,
                  tokens=_tokens(session, id), agencies=agency_codes(session), now=utcnow(), mine=False)


@router.post("/tokens/{id}/revoke")
def revoke(id: int, request: Request, session: SessionDep, viewer: Viewer = Depends(Page(EVERYONE))) -> Response:
    """Revoke a token: an admin any token, anyone else only their own."""
    token = auth.get_token(session, id=id)
    if token is None or (not viewer.can(ADMIN) and token.user_id != viewer.user.id):
        raise NotFoundError(f"token {id} not found")
    auth.revoke_token(session, actor=viewer.actor, token_id=id)
    flash(request, session, f"{translator(lang_of(request))('Token revoked')}: {token.prefix}…", "info")
    release(session)
    back = f"/users/{token.user_id}" if viewer.can(ADMIN) and token.user_id != viewer.user.id else "/account"
    return redirect(back, request)


@router.get("/account")
def account(request: Request, session: SessionDep, viewer: Viewer = Depends(Page(EVERYONE))) -> Response:
    """My account: my role and agency, my API tokens, a new token, my password."""
    return _account(request, session, viewer)


def _account(request: Request, session: Session, viewer: Viewer, **extra: Any) -> Response:
    return render(request, "user.html", session, active="account", title="My account", user=viewer.user,
                  tokens=_tokens(session, viewer.user.id), agencies=agency_codes(session), now=utcnow(), mine=True,
                  can_change_password=True, **extra)


@router.post("/account/tokens")
def new_token(request: Request, session: SessionDep, name: str = Form("console"), days: int = Form(30),
              viewer: Viewer = Depends(Page(EVERYONE))) -> Response:
    """Create one of my API tokens and show it once, on this answer only (never stored, never redirected)."""
    user_id = viewer.user.id
    assert user_id is not None  # a logged-in user is a stored row
    token, _ = auth.issue_token(session, actor=viewer.actor, user_id=user_id,
                                name=(name.strip() or "console")[:100], expires_in_days=min(max(days, 1), 365))
    return _account(request, session, viewer, new_token=token)


@router.post("/account/password")
def change_password(request: Request, session: SessionDep, current_password: str = Form(""),
                    new_password: str = Form(""), viewer: Viewer = Depends(Page(EVERYONE))) -> Response:
    """Change my password (the security feature checks the current one and ends my other sessions)."""
    lang = lang_of(request)
    try:
        auth.change_password(session, user=viewer.user, current_password=current_password, new_password=new_password)
        flash(request, session, translator(lang)("Password changed."), "info")
    except DcopsError as exc:
        session.rollback()
        flash(request, session, translate_message(lang, exc.message), "warn")
    release(session)
    return redirect("/account", request)
