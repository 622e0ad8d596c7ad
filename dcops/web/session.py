"""The console's session: a signed cookie (user id, CSRF token, language), and the CSRF check.

The cookie is signed (not encrypted) with a key derived from dcops' secret-key file, so it holds
nothing secret: the user id, a random CSRF synchroniser token and the language. It is HttpOnly,
SameSite=Lax, Secure when the request came over https, and expires after ``MAX_AGE`` seconds.
The API under ``/api`` never reads it: the API authenticates with bearer tokens only.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from functools import lru_cache
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dcops.config import get_settings
from dcops.security import ensure_secret_key

COOKIE = "dcops_session"
MAX_AGE = 12 * 3600
SCOPE_KEY = "dcops_web_session"


class WebSession(dict[str, Any]):
    """The session's values; remembers whether it changed so the cookie is only re-sent then."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.modified = False
        self.cleared = False

    def __setitem__(self, key: str, value: Any) -> None:
        if self.get(key) != value:
            self.modified = True
        super().__setitem__(key, value)

    def pop(self, key: str, default: Any = None) -> Any:
        if key in self:
            self.modified = True
        return super().pop(key, default)

    def csrf_token(self) -> str:
        """Return the session's CSRF token, creating it on first use."""
        token = self.get("csrf")
        if not token:
            token = secrets.token_urlsafe(32)
            self["csrf"] = token
        return str(token)

    def rotate(self) -> None:
        """Start a fresh session (at login and logout), keeping only the language."""
        lang = self.get("lang")
        self.clear()
        if lang:
            self["lang"] = lang
        self["csrf"] = secrets.token_urlsafe(32)
        self.modified = True


@lru_cache(maxsize=4)
def _serializer(key_file: str) -> URLSafeTimedSerializer:
    key = ensure_secret_key(Path(key_file))
    derived = hmac.new(key, b"dcops web session cookie v1", hashlib.sha256).hexdigest()
    return URLSafeTimedSerializer(derived, salt="dcops-web-session")


def serializer() -> URLSafeTimedSerializer:
    """Return the signer for the configured secret-key file."""
    key_file = get_settings().secret_key_file
    assert key_file is not None
    return _serializer(str(key_file))


def load(cookie_value: str | None) -> WebSession:
    """Return the session a cookie holds; an absent, tampered or expired cookie gives an empty one."""
    if not cookie_value:
        return WebSession()
    try:
        data = serializer().loads(cookie_value, max_age=MAX_AGE)
    except BadSignature:
        return WebSession()
    return WebSession(data) if isinstance(data, dict) else WebSession()


def dump(session: WebSession) -> str:
    """Return the signed cookie value for a session."""
    return serializer().dumps(dict(session))


def check_csrf(session: WebSession, submitted: str | None) -> bool:
    """Tell whether a submitted token matches the session's (constant-time)."""
    expected = session.get("csrf")
    return bool(expected and submitted and hmac.compare_digest(str(expected), str(submitted)))


class SessionMiddleware:
    """Load the session cookie for console requests and write it back when it changed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(("/api/", "/static/", "/metrics")):
            await self.app(scope, receive, send)
            return
        cookies = SimpleCookie()
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                with contextlib.suppress(Exception):  # a malformed cookie header is an anonymous request
                    cookies.load(value.decode("latin-1"))
        morsel = cookies.get(COOKIE)
        session = load(morsel.value if morsel else None)
        scope[SCOPE_KEY] = session
        secure = scope.get("scheme") == "https"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and session.modified:
                headers = MutableHeaders(scope=message)
                flags = f"Path=/; Max-Age={MAX_AGE}; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")
                headers.append("set-cookie", f"{COOKIE}={dump(session)}; {flags}")
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def session_of(scope: Scope) -> WebSession:
    """Return the session the middleware loaded (an empty one outside the console)."""
    session = scope.get(SCOPE_KEY)
    if not isinstance(session, WebSession):  # only the middleware stores one; None outside the console
        session = WebSession()
        scope[SCOPE_KEY] = session
    return session
