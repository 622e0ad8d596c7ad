"""Where each feature plugs its tables, API routes and CLI commands into dcops.

A feature is a package under ``dcops``. It may have:

- ``models.py``: its tables (imported so that ``SQLModel.metadata`` is complete);
- ``router.py``: a ``routing.ApiRouter`` named ``router``, mounted under ``/api/v1``, and optionally ``root_router``,
  mounted at the root (``/metrics``);
- a ``mount(app)`` function in the package itself (the web console: pages, static files, middleware);
- ``cli.py``: a Typer app named ``app`` and ``COMMAND``, the sub-command name (``None`` merges its commands at
  the top level of ``dcops``);
- ``provides.py``: registers the feature's implementations of hooks that lower features declare
  (:mod:`dcops.hooks`); imported by :func:`load_providers` before any hook is read;
- ``background.py``: ``async def run() -> None``, a long-running service (poller, trap receiver, job runner,
  reconciler) that ``dcops serve`` starts in its event loop and cancels at shutdown. It must survive its own
  errors (log and go on) and never block the loop.

``main.py`` and ``cli.py`` stay free of feature imports; adding a feature means adding its name here.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

import typer

CORE: tuple[str, ...] = ("dcim", "tenancy", "ipam", "virtualization", "auth")
FEATURES: tuple[str, ...] = CORE + ("inventory", "transfer", "capacity", "monitoring", "provisioning", "demo",
                                    "web", "consolidation",
                                    "engine")  # the background engine: Celery worker and scheduler


def _modules(part: str) -> list[ModuleType]:
    found = []
    for name in FEATURES:
        qualified = f"dcops.{name}.{part}"
        if importlib.util.find_spec(f"dcops.{name}") is None:
            continue
        if importlib.util.find_spec(qualified) is not None:
            found.append(importlib.import_module(qualified))
    return found


_providers_loaded = False


def load_providers() -> None:
    """Import every feature's ``provides.py`` once, so that its hook implementations are registered.

    An import error propagates: a feature that is installed but broken fails at the first hook read.
    """
    global _providers_loaded
    if not _providers_loaded:
        _providers_loaded = True
        try:
            _modules("provides")
        except BaseException:
            _providers_loaded = False
            raise


def import_models() -> None:
    """Import every feature's tables."""
    _modules("models")


def api_routers() -> list[Any]:
    """The API router of each feature, in ``FEATURES`` order."""
    return [module.router for module in _modules("router")]


def root_routers() -> list[Any]:
    """The routers features mount outside ``/api/v1`` (e.g. ``/metrics``)."""
    return [module.root_router for module in _modules("router") if hasattr(module, "root_router")]


def mount_all(app: Any) -> None:
    """Let each feature package with a ``mount(app)`` add what is not a plain router (the web console)."""
    for name in FEATURES:
        if importlib.util.find_spec(f"dcops.{name}") is None:
            continue
        package = importlib.import_module(f"dcops.{name}")
        if callable(getattr(package, "mount", None)):
            package.mount(app)


def background_services() -> list[tuple[str, Callable[[], Awaitable[None]]]]:
    """(feature name, ``run`` coroutine function) for each feature with a ``background.py``."""
    return [(module.__name__.split(".")[1], module.run) for module in _modules("background")]


def cli_apps() -> list[tuple[typer.Typer, str | None]]:
    """(Typer app, sub-command name or None to merge at the top level) for each feature with a CLI."""
    return [(module.app, getattr(module, "COMMAND", None)) for module in _modules("cli") if hasattr(module, "app")]
