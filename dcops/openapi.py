"""Declare in the OpenAPI document every error status a route can answer, with the shared error body.

The error handlers in ``main.py`` answer ``{"detail": ..., "field": ..., "errors": [...]}`` for every error;
:func:`declare_errors` adds those answers to each route so the document matches what the server sends:
401 and 403 on guarded routes, 404 where a path names an object, 409 on writes, 422 everywhere (the edge
checks query strings of every route), 413 on uploads, 429 on the login, 503 when the database is away.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from dcops.schemas import ErrorBody

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
DESCRIPTIONS = {
    400: "The request body cannot be parsed",
    401: "Missing, invalid, expired or revoked API token",
    403: "The caller's role (or operator scope) may not do this",
    404: "No such object (or outside the caller's agency)",
    409: "Conflicts with the current state of other objects",
    413: "The upload is larger than the configured limit",
    422: "Invalid input; 'detail' says what to fix and 'field' names it",
    429: "Too many failed logins; retry after the Retry-After header's seconds",
    503: "The database is busy or unreachable; retry shortly",
}


def _codes(path: str, route: APIRoute, public: set[str], uploads: set[str]) -> list[int]:
    codes = [422, 503]
    if path.startswith("/api/") and path not in public:
        codes += [401, 403]
    if "{" in path:
        codes.append(404)
    if (route.methods or set()) & WRITES:
        codes += [400, 409]
    if path in uploads:
        codes.append(413)
    if path in public:
        codes += [401, 429]
    return sorted(set(codes))


def declare_errors(app: FastAPI, *, public: set[str], uploads: set[str]) -> int:
    """Add the error answers to every route's ``responses``; return how many routes were annotated."""
    from dcops.routing import walk_routes

    count = 0
    for path, route in walk_routes(app.routes):
        if not route.include_in_schema:
            continue
        for code in _codes(path, route, public, uploads):
            if code not in route.responses and str(code) not in route.responses:
                entry: dict[str, Any] = {"model": ErrorBody, "description": DESCRIPTIONS[code],
                                         "content": {"application/json": {}}}  # also on text/file routes
                route.responses[code] = entry
        count += 1
    app.openapi_schema = None
    return count
