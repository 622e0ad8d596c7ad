"""The API docs render in Chromium with every request off this machine blocked (no CDN)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.server import running_server
from tests.web.conftest import build_app
from tests.web.test_browser import chromium  # noqa: F401  (the module-scoped browser fixture)


def _offline_page(chromium: Any) -> tuple[Any, Any, list[str]]:  # noqa: F811
    context = chromium.new_context(viewport={"width": 1366, "height": 768})
    outside: list[str] = []

    def only_loopback(route: Any) -> None:
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost", "::1"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    return context, context.new_page(), outside


def test_swagger_ui_and_redoc_render_without_internet(db: str, chromium: Any) -> None:  # noqa: F811
    shots = Path(os.environ.get("DCOPS_ARTIFACTS", "/tmp/dcops-screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    with running_server(build_app()) as base:
        context, page, outside = _offline_page(chromium)
        try:
            page.goto(f"{base}/docs")
            page.wait_for_selector(".opblock-summary-path", timeout=30_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            assert any("/api/v1/dcim/devices" in p for p in paths)
            assert page.locator("button.authorize").count() == 1
            page.screenshot(path=str(shots / "docs-swagger-offline.png"))
            page.goto(f"{base}/redoc")
            page.get_by_text("/api/v1/dcim/devices", exact=False).first.wait_for(timeout=30_000)
            assert page.locator("h1").first.inner_text().startswith("dcops")
            page.screenshot(path=str(shots / "docs-redoc-offline.png"))
        finally:
            context.close()
    assert outside == []  # nothing was even asked of another host
