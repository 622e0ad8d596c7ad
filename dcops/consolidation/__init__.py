"""Consolidation: agency applications, migration waves, the consolidation board and cost per agency (showback)."""

from __future__ import annotations

from typing import Any


def mount(app: Any) -> None:
    """Add the consolidation console pages (the web console's own pages are mounted by ``dcops.web``)."""
    from dcops.web.pages.consolidation import router

    app.include_router(router, include_in_schema=False)
