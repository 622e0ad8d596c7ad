"""The real pipeline in the browser: the alert the console shows was raised by the real poller reading a
simulated agent (snmpsim), not a row the test inserted."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from dcops.monitoring.alert_models import Alert
from tests.server import running_server
from tests.web.conftest import build_app
from tests.web.test_browser import chromium, login  # noqa: F401  (the module-scoped browser fixture)


def _poll_until_firing(session: Session, rule: str, cycles: int = 4) -> Alert:
    from dcops.monitoring.poller import Poller, PollerOptions, load_targets
    from dcops.monitoring.snmp import SnmpClient

    async def run() -> None:
        poller = Poller(PollerOptions(timeout_s=3.0, retries=2, concurrency=10))
        async with SnmpClient() as client:
            for i in range(cycles):
                if i:
                    await asyncio.sleep(2.0)
                targets = load_targets(session, options=PollerOptions(timeout_s=3.0, retries=2))
                session.rollback()
                await poller.run_cycle(client, targets, 60.0)
                found = session.execute(select(Alert).where(Alert.rule == rule, Alert.state == "firing")).first()
                session.rollback()
                if found:
                    return

    asyncio.run(run())
    alert = session.execute(select(Alert).where(Alert.rule == rule, Alert.state == "firing")).scalars().one()
    session.expunge_all()
    session.rollback()
    return alert


def test_the_console_shows_the_alert_the_poller_raised(demo: Any, session: Session, tmp_path: Path,
                                                         chromium: Any, passwords: dict[str, str],  # noqa: F811
                                                         backend: str) -> None:
    from dcops.demo.monitoring import start_simulation

    assert session.execute(select(Alert)).first() is None  # nothing inserted by the test
    session.rollback()
    def simulate_and_poll() -> Alert:
        simulator = start_simulation(session, tmp_path)
        try:
            return _poll_until_firing(session, "ups_on_battery")
        finally:
            simulator.stop()

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        alert = pool.submit(simulate_and_poll).result()
    assert alert.device_name == "ups-02"
    shots = Path(os.environ.get("DCOPS_ARTIFACTS", "/tmp/dcops-screenshots")) / backend
    shots.mkdir(parents=True, exist_ok=True)
    with running_server(build_app()) as base:
        context = chromium.new_context(viewport={"width": 1366, "height": 900})
        try:
            page = login(context, base, "demo-oncall", passwords["demo-oncall"])
            page.goto(f"{base}/health")
            row = page.locator(f'tr[data-alert="{alert.id}"]')
            row.wait_for()
            assert "ups-02" in row.inner_text() and "ups_on_battery" in row.inner_text()
            page.screenshot(path=str(shots / "pipeline-poller-alert.png"), full_page=True)
            page.goto(f"{base}/alerts/{alert.id}")
            assert page.locator("#alert-events").inner_text().strip() != ""  # the poller's own events
        finally:
            context.close()
