"""Trusted TLS proxies: ``X-Forwarded-Proto`` and ``X-Forwarded-For`` count only when a listed proxy sent them.

Behind a proxy that ends TLS, the console must still mark its cookie ``Secure`` and the login throttle must
count the real client address. Headers from anyone else are ignored (a client could claim anything).
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from starlette.types import ASGIApp, Receive, Scope, Send

from dcops.config import get_settings


@lru_cache(maxsize=8)
def _networks(spec: str) -> tuple[IPv4Network | IPv6Network, ...]:
    return tuple(ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


def is_trusted(address: str | None) -> bool:
    """Tell whether ``address`` is one of the configured trusted proxies."""
    if not address:
        return False
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in _networks(get_settings().trusted_proxies))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class TrustedProxyMiddleware:
    """Rewrite the request's scheme and client from X-Forwarded-* when the peer is a trusted proxy."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            if client and is_trusted(client[0]):
                proto = _header(scope, b"x-forwarded-proto")
                if proto:
                    proto = proto.split(",")[0].strip().lower()
                    if proto in ("http", "https"):
                        scope["scheme"] = proto if scope["type"] == "http" else ("wss" if proto == "https" else "ws")
                forwarded_for = _header(scope, b"x-forwarded-for")
                if forwarded_for:
                    # the nearest hop not itself a trusted proxy is the client
                    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
                    for hop in reversed(hops):
                        if not is_trusted(hop):
                            scope["client"] = (hop, 0)
                            break
        await self.app(scope, receive, send)


def client_address(scope: Scope) -> str:
    """Return the client's address as the (proxy-corrected) scope names it."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
