"""Fixtures of the console tests: the app with the console mounted, the demo data, logged-in clients."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def build_app() -> Any:
    """The dcops app with the console mounted (as ``create_app`` will do once the lead wires it)."""
    from dcops.main import create_app
    from dcops.routing import walk_routes
    from dcops.web import mount

    app = create_app()
    if not any(path == "/login" for path, _ in walk_routes(app.routes)):
        mount(app)  # until dcops.features mounts the console itself
    return app


@pytest.fixture
def web_app(db: str) -> Any:
    return build_app()


@pytest.fixture
def demo(session: Session) -> Any:
    """The demo data center; ``.users`` holds each demo user's password."""
    from dcops.demo.build import build_demo

    summary = build_demo(session)
    session.commit()
    return summary


@pytest.fixture
def passwords(demo: Any) -> dict[str, str]:
    return {u.username: u.password for u in demo.users}


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


class Browser:
    """A TestClient that logs in through the form and posts forms with the page's CSRF token."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def login(self, username: str, password: str) -> Any:
        token = csrf_of(self.client.get("/login").text)
        return self.client.post("/login", data={"username": username, "password": password, "csrf_token": token,
                                                "next": "/"}, follow_redirects=False)

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)

    def submit(self, page: str, action: str, data: dict[str, Any], **kw: Any) -> Any:
        token = csrf_of(self.client.get(page).text)
        return self.client.post(action, data={**data, "csrf_token": token}, **kw)


@pytest.fixture
def browser(web_app: Any) -> Iterator[Browser]:
    from fastapi.testclient import TestClient

    with TestClient(web_app, raise_server_exceptions=False) as c:
        yield Browser(c)


@pytest.fixture
def as_role(web_app: Any, passwords: dict[str, str]) -> Any:
    """Return a logged-in Browser for a demo role name (admin, operator, oncall, planner, auditor, dinkes)."""
    from fastapi.testclient import TestClient

    clients = []

    def make(role: str) -> Browser:
        client = TestClient(web_app, raise_server_exceptions=False)
        clients.append(client)
        b = Browser(client)
        response = b.login(f"demo-{role}", passwords[f"demo-{role}"])
        assert response.status_code == 303, response.text[:500]
        return b

    yield make
    for c in clients:
        c.close()
