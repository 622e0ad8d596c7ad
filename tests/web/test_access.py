"""Login, the session cookie, CSRF, default deny and menus by role."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute

from dcops.auth.choices import Role
from dcops.routing import walk_routes
from dcops.web.auth import Page, page_roles, unguarded_console_routes
from tests.web.conftest import Browser, csrf_of

ROLES = {"admin": Role.ADMIN, "operator": Role.OPERATOR, "oncall": Role.ONCALL, "planner": Role.PLANNER,
         "auditor": Role.AUDITOR, "dinkes": Role.AGENCY_VIEWER}
PUBLIC = {"/login", "/lang"}


OUTSIDE_CONSOLE = {"/healthz", "/readyz", "/metrics", "/docs", "/redoc"}  # the API docs are public, as before


def console_routes(app: Any) -> list[APIRoute]:
    return [r for p, r in walk_routes(app.routes) if r.endpoint.__module__.startswith("dcops.web")]


def test_every_console_route_declares_its_roles(web_app: Any) -> None:
    """Walk every route of the app: outside /api, each is a console page with Page(roles), or public on purpose."""
    routes = console_routes(web_app)
    assert len(routes) > 30
    assert unguarded_console_routes(web_app) == []
    for path, route in walk_routes(web_app.routes):
        if path.startswith("/api/") or path in OUTSIDE_CONSOLE:
            continue
        assert route.endpoint.__module__.startswith("dcops.web"), f"{path} is outside /api but not a console page"
        roles = page_roles(route)
        assert roles or path in PUBLIC, f"{path} declares no Page(roles)"
        if roles:
            assert Role.AGENCY_VIEWER not in roles or not path.startswith(("/racks", "/devices", "/health"))


def test_mount_refuses_a_page_without_roles(db: str) -> None:
    from fastapi import APIRouter

    from dcops.main import create_app
    from dcops.web import mount
    from dcops.web.pages import routers

    app = create_app()
    stray = APIRouter()

    @stray.get("/forgotten")
    def forgotten() -> str:
        return "open"

    forgotten.__module__ = "dcops.web.pages.stray"
    app.include_router(stray)
    assert unguarded_console_routes(app) == ["['GET'] /forgotten"]
    with pytest.raises(RuntimeError, match="/forgotten"):
        mount(app)
    assert routers()  # the normal set mounts (checked by the web_app fixture)
    assert isinstance(Page([Role.ADMIN]).roles, frozenset)


def test_anonymous_visitors_are_sent_to_login(browser: Browser, demo: Any) -> None:
    response = browser.get("/racks?site_id=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fracks%3Fsite_id%3D1"
    assert browser.get("/login").status_code == 200


def test_login_sets_a_hardened_cookie_and_logout_ends_it(browser: Browser, passwords: dict[str, str]) -> None:
    wrong = browser.login("demo-admin", "not the password")
    assert wrong.status_code == 401 and "Nama pengguna atau kata sandi salah" in wrong.text
    ok = browser.login("demo-admin", passwords["demo-admin"])
    assert ok.status_code == 303 and ok.headers["location"] == "/health"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie and "Secure" not in cookie
    assert browser.get("/health").status_code == 200
    assert browser.submit("/health", "/logout", {}, follow_redirects=False).status_code == 303
    assert browser.get("/health", follow_redirects=False).status_code == 303


def test_tampered_cookie_is_anonymous(browser: Browser, passwords: dict[str, str]) -> None:
    browser.login("demo-oncall", passwords["demo-oncall"])
    value = browser.client.cookies.get("dcops_session")
    browser.client.cookies.set("dcops_session", value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    assert browser.get("/health", follow_redirects=False).status_code == 303


def test_login_only_follows_local_next(browser: Browser, passwords: dict[str, str]) -> None:
    token = csrf_of(browser.get("/login").text)
    response = browser.client.post("/login", data={"username": "demo-admin", "password": passwords["demo-admin"],
                                                   "csrf_token": token, "next": "//evil.example/x"},
                                   follow_redirects=False)
    assert response.headers["location"] == "/health"


def test_forms_without_the_csrf_token_are_refused(as_role: Any) -> None:
    admin = as_role("admin")
    body = {"name": "Gedung Baru"}
    assert admin.client.post("/inventory/sites/new", data=body).status_code == 403
    assert admin.client.post("/inventory/sites/new", data={**body, "csrf_token": "forged"}).status_code == 403
    assert admin.client.post("/logout", data={}).status_code == 403
    ok = admin.submit("/inventory/sites", "/inventory/sites/new", body, follow_redirects=False)
    assert ok.status_code == 303


def test_login_form_needs_its_csrf_token(browser: Browser, passwords: dict[str, str]) -> None:
    browser.get("/login")
    response = browser.client.post("/login", data={"username": "demo-admin", "password": passwords["demo-admin"]})
    assert response.status_code == 403


@pytest.mark.parametrize("who", sorted(ROLES))
def test_each_role_gets_exactly_its_pages(web_app: Any, as_role: Any, who: str) -> None:
    client = as_role(who)
    role = ROLES[who]
    for route in console_routes(web_app):
        if "GET" not in route.methods or "{" in route.path or route.path in PUBLIC or route.path == "/":
            continue
        if route.path.endswith(("/new", "/export", "/panel")):
            continue
        expected = 200 if role in (page_roles(route) or set()) else 403
        response = client.get(route.path, follow_redirects=False)
        assert response.status_code == expected, (who, route.path, response.text[:300])
        if expected == 403:
            assert "Akses ditolak" in response.text


def test_menu_follows_the_role(as_role: Any) -> None:
    viewer = as_role("dinkes").get("/inventory/vms").text
    assert 'data-menu="vms"' in viewer and 'data-menu="requests"' in viewer
    for hidden in ("health", "racks", "inventory", "capacity", "plan", "import"):
        assert f'data-menu="{hidden}"' not in viewer
    planner = as_role("planner").get("/plan").text
    assert 'data-menu="plan"' in planner and 'data-menu="import"' not in planner
    admin = as_role("admin").get("/health").text
    assert all(f'data-menu="{m}"' in admin for m in ("health", "racks", "capacity", "jobs", "plan", "import"))


def test_language_choice_is_kept(as_role: Any) -> None:
    admin = as_role("admin")
    assert "Ikhtisar kesehatan" in admin.get("/health").text  # Indonesian by default
    admin.submit("/health", "/lang", {"lang": "en", "back": "/health"})
    page = admin.get("/health").text
    assert "Health overview" in page and 'lang="en"' in page
