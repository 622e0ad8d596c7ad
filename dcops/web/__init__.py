"""The web console: server-rendered pages (Jinja2 + a little htmx) over the same services as the API.

``mount(app)`` adds the pages, the static files (htmx is vendored: the data center may be offline),
the session cookie middleware and the HTML error pages. Every page declares its roles with
:class:`dcops.web.auth.Page`; ``mount`` refuses to finish if one does not (default deny).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from dcops.exceptions import DcopsError
from dcops.web.auth import CsrfRejected, LoginRequired, PageForbidden, unguarded_console_routes
from dcops.web.session import SessionMiddleware

STATIC = Path(__file__).parent / "static"


def _is_console(request: Request) -> bool:
    return bool(getattr(request.state, "web", False))


async def _answer(result: Response | Awaitable[Response]) -> Response:
    """Return an exception handler's response (Starlette allows plain and async handlers)."""
    return await result if inspect.isawaitable(result) else result


def _install_error_pages(app: FastAPI) -> None:
    from urllib.parse import quote

    from dcops.web.render import redirect, render

    async def login_required(request: Request, exc: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = "/"
        return redirect(f"/login?next={quote(target, safe='')}", request)

    async def forbidden(request: Request, exc: Exception) -> Response:
        message = exc.message if isinstance(exc, PageForbidden) else None
        return render(request, "error.html", status_code=403, title="Access denied",
                      message=message or "Your role may not open this page.")

    async def csrf(request: Request, exc: Exception) -> Response:
        return render(request, "error.html", status_code=403, title="Access denied",
                      message="Your session has expired or the form is stale; please try again.")

    api_domain = app.exception_handlers.get(DcopsError)
    api_validation = app.exception_handlers.get(RequestValidationError)

    async def domain(request: Request, exc: DcopsError) -> Any:
        if _is_console(request):
            title = {404: "Not found", 403: "Access denied"}.get(exc.status_code, "Something went wrong")
            return render(request, "error.html", status_code=exc.status_code, title=title, message=exc.message)
        assert api_domain is not None
        return await _answer(api_domain(request, exc))

    async def validation(request: Request, exc: RequestValidationError) -> Any:
        if _is_console(request):
            from dcops.web.messages import validation_sentence
            from dcops.web.render import lang_of

            parts = [validation_sentence(e, lang_of(request)) for e in exc.errors()]
            return render(request, "error.html", status_code=422, title="Something went wrong",
                          message=" ".join(parts))
        assert api_validation is not None
        return await _answer(api_validation(request, exc))

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(PageForbidden, forbidden)
    app.add_exception_handler(CsrfRejected, csrf)
    app.exception_handler(DcopsError)(domain)  # the decorator form: typed for handlers of a subclass
    app.exception_handler(RequestValidationError)(validation)


def mount(app: FastAPI) -> None:
    """Add the console's pages, static files, session cookie and error pages to ``app``."""
    from dcops.web.pages import routers

    app.add_middleware(SessionMiddleware)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for router in routers():
        app.include_router(router, include_in_schema=False)
    _install_error_pages(app)
    bad = unguarded_console_routes(app)
    if bad:
        raise RuntimeError(f"console routes without Page(...) roles: {', '.join(bad)}")
