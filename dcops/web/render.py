"""Templates: the Jinja2 environment, the menu by role, and the one function pages render with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session

from dcops import __version__
from dcops.auth.choices import ADMIN_OPERATOR, EVERYONE, STAFF, Role
from dcops.config import get_settings
from dcops.database import utcnow
from dcops.web import fmt
from dcops.web.i18n import translator
from dcops.web.messages import say, translate_message
from dcops.web.session import session_of

TEMPLATES = Path(__file__).parent / "templates"

PLANNERS = frozenset({Role.ADMIN, Role.PLANNER, Role.AUDITOR, Role.OPERATOR})
EQUIPMENT = STAFF


@dataclass(frozen=True)
class MenuItem:
    key: str
    label: str
    href: str
    roles: frozenset[Role]


MENU = (
    MenuItem("health", "Health", "/health", EQUIPMENT),
    MenuItem("racks", "Racks", "/racks", EQUIPMENT),
    MenuItem("capacity", "Capacity", "/capacity", STAFF),
    MenuItem("requests", "Requests", "/requests", EVERYONE),
    MenuItem("jobs", "Jobs", "/jobs", EVERYONE),
    MenuItem("plan", "Budget plan", "/plan", PLANNERS),
    MenuItem("consolidation", "Consolidation", "/consolidation", EVERYONE),
    MenuItem("inventory", "Inventory", "/inventory/devices", EQUIPMENT),
    MenuItem("vms", "Virtual machines", "/inventory/vms", EVERYONE),
    MenuItem("import", "Import", "/import", ADMIN_OPERATOR),
    MenuItem("alerts", "Alerts", "/alerts", EQUIPMENT),
    MenuItem("changelog", "Change log", "/changelog", frozenset({Role.ADMIN, Role.AUDITOR, Role.OPERATOR})),
    MenuItem("users", "Users", "/users", frozenset({Role.ADMIN})),
    MenuItem("search", "Search", "/search", EVERYONE),
    MenuItem("account", "My account", "/account", EVERYONE),
)


def menu_for(role: Role) -> list[MenuItem]:
    """Return the menu entries a role may open."""
    return [item for item in MENU if role in item.roles]


def _query(request: Request, **changes: Any) -> str:
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + urlencode(params) if params else "?"


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "svg"]),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.globals["version"] = __version__
    env.filters["v"] = plain
    env.globals["say"] = say
    return env


def plain(value: Any) -> Any:
    """Return an enum's value (rows read back from the database hold plain strings already)."""
    return getattr(value, "value", value)


ENV = _env()


def lang_of(request: Request) -> str:
    """Return the visitor's language: the session's choice, else Indonesian."""
    lang = session_of(request.scope).get("lang")
    return lang if lang in fmt.LANGS else fmt.DEFAULT_LANG


def context(request: Request, **values: Any) -> dict[str, Any]:
    """The values every template sees: translator, formatters, user, menu, CSRF token."""
    lang = lang_of(request)
    zone = get_settings().timezone
    viewer = getattr(request.state, "viewer", None)
    web = session_of(request.scope)
    return {
        "request": request,
        "lang": lang,
        "t": translator(lang),
        "tm": lambda message: translate_message(lang, message),
        "num": lambda v, d=0: fmt.number(v, lang, d),
        "idr": lambda v: fmt.idr(v, lang),
        "pct": lambda v, d=1: fmt.percent(v, lang, d),
        "when": lambda v, seconds=False: fmt.when(v, lang, zone, seconds),
        "rate": lambda v: fmt.bytes_rate(v, lang),
        "dur": lambda v: fmt.duration(v, lang),
        "now": utcnow(),
        "viewer": viewer,
        "menu": menu_for(viewer.role) if viewer else [],
        "csrf_token": web.csrf_token(),
        "query": lambda **changes: _query(request, **changes),
        "kiosk": request.query_params.get("kiosk") == "1",
        **values,
    }


def render(request: Request, template: str, session: Session | None = None, status_code: int = 200,
           headers: dict[str, str] | None = None, **values: Any) -> HTMLResponse:
    """Render ``template`` with the common context (and the session's flash messages); end the database read first."""
    if session is not None:
        from dcops.web.flash import take_flashes

        values.setdefault("flashes", take_flashes(request, session))
        release(session)
    html = ENV.get_template(template).render(context(request, **values))
    return HTMLResponse(html, status_code=status_code, headers=headers)


def release(session: Session) -> None:
    """End the session's transaction, keeping loaded objects readable (SQLite holds a lock per transaction)."""
    session.expunge_all()
    session.rollback()


def redirect(url: str, request: Request | None = None) -> RedirectResponse:
    """Answer a form post with 303 See Other (htmx gets ``HX-Redirect``)."""
    response = RedirectResponse(url, status_code=303)
    if request is not None and request.headers.get("hx-request"):
        response.headers["HX-Redirect"] = url
    return response
