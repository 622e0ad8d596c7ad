"""The FastAPI application: routers, error mapping and health endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError

import dcops.models  # noqa: F401  (complete metadata before routers import services)
from dcops import __version__
from dcops.auth.deps import assert_every_route_guarded
from dcops.crud import integrity_message
from dcops.database import ping
from dcops.edge import check_request
from dcops.exceptions import AuthenticationError, DcopsError, TooManyRequestsError
from dcops.features import api_routers, background_services, mount_all, root_routers
from dcops.openapi import declare_errors
from dcops.proxy import TrustedProxyMiddleware
from dcops.routing import OffLoopRoute, assert_no_sync_endpoint

log = logging.getLogger("dcops")

API_PREFIX = "/api/v1"


def _readable(errors: list[dict[str, Any]]) -> str:
    parts = []
    for err in errors:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Map domain and database errors to JSON ``{"detail": ...}`` answers, never a traceback."""

    @app.exception_handler(DcopsError)
    async def _domain(request: Request, exc: DcopsError) -> JSONResponse:
        body: dict[str, Any] = {"detail": exc.message}
        if exc.field:
            body["field"] = exc.field
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationError) else None
        if isinstance(exc, TooManyRequestsError):
            headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse(status_code=exc.status_code, content=body, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = jsonable_encoder(exc.errors(), custom_encoder={Exception: str})
        for err in errors:
            err.pop("input", None)  # never echo submitted values (they may be secrets)
            err.pop("ctx", None)
        return JSONResponse(status_code=422, content={"detail": _readable(errors), "errors": errors})

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        return JSONResponse(
            status_code=409, content={"detail": f"conflicts with existing data: {integrity_message(exc)}"}
        )

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else "value not storable"
        return JSONResponse(status_code=422, content={"detail": f"a value cannot be stored: {first}"})

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database error on %s %s: %s", request.method, request.url.path, exc.orig)
        return JSONResponse(status_code=503, content={"detail": "the database is busy or unreachable; retry shortly"})

    @app.exception_handler(SATimeoutError)
    async def _pool_exhausted(request: Request, exc: SATimeoutError) -> JSONResponse:
        log.error("no database connection free for %s %s", request.method, request.url.path)
        return JSONResponse(status_code=503, content={"detail": "the database is busy; retry shortly"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(status_code=500, content={"detail": "internal error; the server log has the details"})


async def _serve(run: Callable[[], Awaitable[None]]) -> None:
    """Run one background service (create_task wants a coroutine; ``run`` is typed as returning an awaitable)."""
    await run()


@contextlib.asynccontextmanager
async def _run_background(app: FastAPI) -> AsyncIterator[None]:
    """Start every feature's background service; cancel them all at shutdown."""
    tasks: dict[str, asyncio.Task[None]] = {}
    for name, run in background_services():
        log.info("starting background service %s", name)
        tasks[name] = asyncio.create_task(_serve(run), name=f"dcops-{name}")
    app.state.background = tasks
    try:
        yield
    finally:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Size the request thread pool, then run the background services when the app has them."""
    from anyio.to_thread import current_default_thread_limiter

    from dcops.config import get_settings

    # anyio's default of 40 threads lets 40 requests contend for one GIL: past a few, each request only costs
    # more CPU (measured: 10 ms instead of 5 per list of 100 rows with 50 clients)
    current_default_thread_limiter().total_tokens = get_settings().api_threads
    if getattr(app.state, "freeze_gc", False):
        # the ~250,000 objects of a started server (routes, schemas, the ORM's mappers) live as long as the
        # process: kept out of the collector, a full collection no longer walks them all (measured: 0.18 s of
        # CPU each, every few hundred requests under 50 clients, whose objects in flight survive to be promoted)
        gc.collect()
        gc.freeze()
    if app.state.with_background:
        async with _run_background(app):
            yield
    else:
        yield


def create_app(*, background: bool = False) -> FastAPI:
    """Build the dcops application; ``background`` also runs the poller, trap receiver, job runner..."""
    app = FastAPI(
        lifespan=_lifespan,
        dependencies=[Depends(check_request)],
        title="dcops",
        version=__version__,
        docs_url=None,  # served from the package's own assets below (no CDN)
        redoc_url=None,
        summary="Control plane of the central data center: inventory, capacity, provisioning, monitoring.",
        openapi_tags=[
            {"name": "dcim", "description": "Sites, rooms, racks, device types, devices, clusters, credentials"},
            {"name": "tenancy", "description": "Agencies (OPD/SKPD) and their quotas"},
            {"name": "ipam", "description": "Prefixes and IP addresses"},
            {"name": "virtualization", "description": "Tenant VMs"},
            {"name": "auth", "description": "Users, API tokens and the change log"},
            {"name": "capacity", "description": "Capacity requests, placement, headroom, rebalance, budget plan"},
            {"name": "monitoring", "description": "Device health, metrics history, alerts and silences"},
            {"name": "provisioning", "description": "Ansible jobs and VM actions"},
        ],
    )
    app.router.route_class = OffLoopRoute  # its own routes too (/healthz, /readyz, the docs)
    app.state.with_background = background
    install_error_handlers(app)
    from dcops.apidocs import mount_docs

    mount_docs(app)
    for router in api_routers():
        app.include_router(router, prefix=API_PREFIX)
    for router in root_routers():
        app.include_router(router)

    @app.get("/healthz", tags=["health"], summary="Liveness")
    def healthz() -> dict[str, str]:
        """Answer while the process is alive."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["health"], summary="Readiness (database reachable)")
    def readyz() -> JSONResponse:
        """Answer 200 when the database answers, 503 otherwise."""
        if ping():
            return JSONResponse({"status": "ready", "database": "ok"})
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)

    app.state.background = {}
    mount_all(app)
    app.add_middleware(TrustedProxyMiddleware)  # outermost: every layer sees the real scheme and client
    assert_every_route_guarded(app, public=[f"{API_PREFIX}/auth/login"])
    assert_no_sync_endpoint(app)
    declare_errors(app, public={f"{API_PREFIX}/auth/login"}, uploads={f"{API_PREFIX}/import/{{kind}}"})
    return app


def serve_app() -> FastAPI:
    """The application ``dcops serve`` runs: the API plus the background services (unless disabled)."""
    from dcops.config import get_settings

    app = create_app(background=get_settings().background)
    app.state.freeze_gc = True  # a served process only (tests build many apps in one process)
    return app
