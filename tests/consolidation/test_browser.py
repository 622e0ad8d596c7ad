"""Headless Chromium on a real uvicorn server with the demo: the consolidation board as planner, operator, admin
and agency viewer. Screenshots go to ``$DCOPS_ARTIFACTS`` (default ``/tmp/dcops-screenshots``)/<backend>."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from tests.server import running_server
from tests.web.conftest import build_app
from tests.web.test_browser import CHROMIUM_ARGS, login, visit


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def site(demo: Any, session: Session) -> Iterator[str]:
    session.expunge_all()
    session.rollback()
    with running_server(build_app()) as base:
        yield base


def _row(page: Any, agency: str, cls: str) -> str:
    return str(page.locator(f'tr[data-agency="{agency}"] td.{cls}').inner_text())


def test_board_migration_and_agency_viewer(chromium: Any, site: str, passwords: dict[str, str],
                                           backend: str) -> None:
    shots = Path(os.environ.get("DCOPS_ARTIFACTS", "/tmp/dcops-screenshots")) / backend
    shots.mkdir(parents=True, exist_ok=True)
    pw = {name: passwords[f"demo-{name}"] for name in ("planner", "operator", "admin", "dinkes")}
    planner = login(chromium.new_context(viewport={"width": 1366, "height": 800}), site, "demo-planner", pw["planner"])
    planner.click('nav.menu a[data-menu="consolidation"]')
    planner.wait_for_load_state("networkidle")
    assert planner.locator("h1").inner_text() == "Papan konsolidasi"
    planner.screenshot(path=str(shots / "consolidation_planner.png"), full_page=True)
    assert (_row(planner, "DINKES", "in-dc"), _row(planner, "DINKES", "out")) == ("1", "1")
    before = int(planner.locator("#in-dc").inner_text())
    assert planner.locator('tr[data-wave="Gelombang 2"] td.servers').inner_text().strip() != ""
    assert planner.locator("button.start").count() == 0  # planners plan; operators start migrations

    operator = login(chromium.new_context(), site, "demo-operator", pw["operator"])
    visit(operator, f"{site}/consolidation?agency=DINKES", shots / "consolidation_operator_dinkes.png")
    operator.click('button[data-start="e-Puskesmas"]')
    operator.wait_for_load_state("networkidle")
    assert "/requests/" in operator.url
    request_url = operator.url
    assert operator.locator("#request-status").get_attribute("data-status") == "requested"

    admin = login(chromium.new_context(), site, "demo-admin", pw["admin"])
    visit(admin, request_url, shots / "consolidation_admin_request.png")
    admin.click("#approve")
    admin.wait_for_load_state("networkidle")
    assert admin.locator("#request-status").get_attribute("data-status") in ("approved", "provisioning")

    planner.reload()
    planner.wait_for_load_state("networkidle")
    assert (_row(planner, "DINKES", "in-dc"), _row(planner, "DINKES", "out")) == ("2", "0")
    assert int(planner.locator("#in-dc").inner_text()) == before + 1
    planner.screenshot(path=str(shots / "consolidation_planner_after.png"), full_page=True)

    viewer = login(chromium.new_context(), site, "demo-dinkes", pw["dinkes"])
    visit(viewer, f"{site}/consolidation", shots / "consolidation_dinkes.png")
    agencies = viewer.eval_on_selector_all("tr[data-agency]", "rows => rows.map(r => r.dataset.agency)")
    assert agencies == ["DINKES"]
    apps = viewer.eval_on_selector_all("tr[data-app]", "rows => rows.map(r => r.dataset.app)")
    assert "e-Puskesmas" in apps and "PACS Radiologi" not in apps
    assert viewer.locator("#total-cost").count() == 0
