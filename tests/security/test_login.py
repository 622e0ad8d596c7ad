"""Logins: throttling with backoff and 429, equal work for unknown users, server-side sessions, Secure cookie."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dcops.auth.actor import SYSTEM

LOGIN = "/api/v1/auth/login"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "rahasia-123!"


@pytest.fixture
def budi(session: Any) -> Any:
    from dcops.auth.service import create_user

    return create_user(session, actor=SYSTEM, data={"username": "budi", "role": "operator", "password": PASSWORD})


def _console_login(client: TestClient, username: str, password: str) -> Any:
    token = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token,
                                       "next": "/"}, follow_redirects=False)


def test_failed_logins_per_user_are_throttled_with_429_and_retry_after(client, budi):
    for _ in range(5):
        assert client.post(LOGIN, json={"username": "budi", "password": "wrong"}).status_code == 401
    r = client.post(LOGIN, json={"username": "budi", "password": PASSWORD})
    assert r.status_code == 429, r.text
    assert int(r.headers["Retry-After"]) >= 1 and "try again" in r.json()["detail"]


def test_the_backoff_doubles_with_each_further_failure(session, budi):
    from dcops.auth import throttle
    from dcops.auth.models import LoginThrottle

    locks = []
    for _ in range(7):
        throttle.record_failure(session, "budi", None)
        row = session.get(LoginThrottle, "user:budi")
        if row.locked_until is not None:
            locks.append((row.locked_until - row.last_failure_at).total_seconds())
    assert locks == [5, 10, 20]


def test_failed_logins_per_address_are_throttled_across_usernames(client, budi, monkeypatch):
    from dcops.config import get_settings

    monkeypatch.setattr(get_settings(), "login_address_max_failures", 3)
    for name in ("a1", "a2", "a3"):
        assert client.post(LOGIN, json={"username": name, "password": "x"}).status_code == 401
    r = client.post(LOGIN, json={"username": "budi", "password": PASSWORD})
    assert r.status_code == 429 and "Retry-After" in r.headers


def test_a_success_clears_the_user_count(client, budi):
    for _ in range(4):
        client.post(LOGIN, json={"username": "budi", "password": "wrong"})
    assert client.post(LOGIN, json={"username": "budi", "password": PASSWORD}).status_code == 200
    for _ in range(4):
        assert client.post(LOGIN, json={"username": "budi", "password": "wrong"}).status_code == 401


def test_unknown_and_known_usernames_cost_one_argon2_verification_each(client, budi, monkeypatch):
    import dcops.security as security

    calls: list[str] = []
    real = security._hasher

    class Counting:
        def hash(self, password: str) -> str:
            return real.hash(password)

        def verify(self, hash_: str, password: str) -> bool:
            calls.append(hash_)
            return real.verify(hash_, password)

    monkeypatch.setattr(security, "_hasher", Counting())
    client.post(LOGIN, json={"username": "budi", "password": "wrong"})
    known = len(calls)
    client.post(LOGIN, json={"username": "nobody-here", "password": "wrong"})
    assert known == 1 and len(calls) == 2
    assert calls[1].startswith("$argon2id$")  # a real argon2 hash with the same parameters


def test_console_throttling_answers_429(web_app, budi):
    with TestClient(web_app, raise_server_exceptions=False) as c:
        for _ in range(5):
            assert _console_login(c, "budi", "wrong").status_code == 401
        r = _console_login(c, "budi", PASSWORD)
        assert r.status_code == 429 and "Retry-After" in r.headers


def test_a_cookie_copied_before_logout_no_longer_works(web_app, budi):
    with TestClient(web_app, raise_server_exceptions=False) as c:
        assert _console_login(c, "budi", PASSWORD).status_code == 303
        copied = c.cookies.get("dcops_session")
        assert c.get("/", follow_redirects=False).status_code == 303
        page = c.get("/health")
        assert page.status_code == 200
        token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        assert c.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    with TestClient(web_app, raise_server_exceptions=False) as thief:
        thief.cookies.set("dcops_session", copied)
        r = thief.get("/health", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_a_password_change_ends_every_console_session(web_app, client, budi, session):
    from dcops.auth.service import issue_token

    with TestClient(web_app, raise_server_exceptions=False) as c:
        assert _console_login(c, "budi", PASSWORD).status_code == 303
        assert c.get("/health", follow_redirects=False).status_code == 200
        token, _ = issue_token(session, actor=SYSTEM, user_id=budi.id)
        api = {"Authorization": f"Bearer {token}"}
        r = client.post("/api/v1/auth/password", json={"current_password": "nope", "new_password": "x" * 12},
                        headers=api)
        assert r.status_code == 422 and r.json()["field"] == "current_password"
        r = client.post("/api/v1/auth/password", json={"current_password": PASSWORD,
                                                      "new_password": "baru-sekali-456"}, headers=api)
        assert r.status_code == 204, r.text
        r = c.get("/health", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert client.post(LOGIN, json={"username": "budi", "password": "baru-sekali-456"}).status_code == 200
    assert client.post(LOGIN, json={"username": "budi", "password": PASSWORD}).status_code == 401


def test_change_password_service_keeps_the_session_it_is_asked_to(session, budi):
    from dcops.auth import sessions
    from dcops.auth.service import change_password

    mine = sessions.start(session, user_id=budi.id, max_age=60)
    other = sessions.start(session, user_id=budi.id, max_age=60)
    change_password(session, user=budi, current_password=PASSWORD, new_password="baru-sekali-456", keep_session=mine)
    assert sessions.is_valid(session, user_id=budi.id, sid=mine)
    assert not sessions.is_valid(session, user_id=budi.id, sid=other)


def _cookie_flags(web_app: Any, client_addr: str, headers: dict[str, str]) -> str:
    with TestClient(web_app, raise_server_exceptions=False, client=(client_addr, 5000)) as c:
        r = c.get("/login", headers=headers)
        return r.headers.get("set-cookie", "")


def test_secure_cookie_only_behind_a_trusted_tls_proxy(web_app, monkeypatch):
    from dcops.config import get_settings

    monkeypatch.setattr(get_settings(), "trusted_proxies", "10.9.8.7/32")
    https = {"X-Forwarded-Proto": "https"}
    assert "Secure" in _cookie_flags(web_app, "10.9.8.7", https)
    assert "Secure" not in _cookie_flags(web_app, "10.9.8.6", https)   # anyone else's header is ignored
    assert "Secure" not in _cookie_flags(web_app, "10.9.8.7", {})
