"""The wall display fits one screen: 8 active alerts at 1366x768 (and 1920x1080), most severe first, no scrolling."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session

from dcops.database import utcnow
from dcops.dcim.models import Device
from dcops.monitoring.alert_models import Alert, AlertState, Severity
from tests.server import running_server
from tests.web.conftest import build_app
from tests.web.test_browser import chromium, login  # noqa: F401  (the module-scoped browser fixture)

ALERTS = [  # (device, rule, severity, subject, summary)
    ("ups-02", "ups_on_battery", Severity.CRITICAL, "", "ups-02 runs on battery"),
    ("stor-02", "hardware_swapped", Severity.CRITICAL, "", "stor-02 reports serial DEMO-STOR-02-RMA7731"),
    ("hv-utama-03", "temperature_high", Severity.WARNING, "CPU1", "CPU1 at 83 °C (threshold 80 °C)"),
    ("tor-a05", "interface_down", Severity.WARNING, "Gi1/0/5", "tor-a05 port Gi1/0/5 is down"),
    ("core-sw-01", "interface_errors", Severity.WARNING, "Te1/1/1", "core-sw-01 Te1/1/1 input errors 12/s"),
    ("pdu-a02", "pdu_load_high", Severity.WARNING, "", "pdu-a02 draws 3,600 W of 3,700 W"),
    ("fw-02", "cpu_high", Severity.INFO, "", "fw-02 CPU 71 %"),
    ("hv-drc-02", "memory_high", Severity.INFO, "", "hv-drc-02 memory 88 %"),
]


@pytest.fixture
def wall(demo: Any, session: Session) -> Any:
    ids = {d.name: d.id for d in session.execute(select(Device)).scalars()}
    for n, (device, rule, severity, subject, summary) in enumerate(ALERTS):
        session.add(Alert(rule=rule, severity=severity, device_id=ids[device], device_name=device, subject=subject,
                          state=AlertState.FIRING, open_key=f"{rule}|{ids[device]}|{subject}", summary=summary,
                          started_at=utcnow() - timedelta(minutes=40 - n),
                          fired_at=utcnow() - timedelta(minutes=30 - n)))
    session.commit()
    session.expunge_all()
    session.rollback()
    with running_server(build_app()) as base:
        yield base


@pytest.mark.parametrize("width,height", [(1366, 768), (1920, 1080)])
def test_every_active_alert_shows_without_scrolling(wall: str, chromium: Any, passwords: dict[str, str],  # noqa: F811
                                                    backend: str, width: int, height: int) -> None:
    shots = Path(os.environ.get("DCOPS_ARTIFACTS", "/tmp/dcops-screenshots")) / backend
    shots.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": width, "height": height})
    try:
        page = login(context, wall, "demo-oncall", passwords["demo-oncall"])
        page.goto(f"{wall}/health?kiosk=1")
        page.wait_for_selector(".wall-alert")
        page.screenshot(path=str(shots / f"wall-{width}x{height}-8-alerts.png"))
        cards = page.locator(".wall-alert")
        assert cards.count() == len(ALERTS)
        severities = [c.get_attribute("class").split()[1] for c in cards.all()]
        order = {"critical": 0, "warning": 1, "info": 2}
        assert severities == sorted(severities, key=order.__getitem__)  # most severe first
        for card in cards.all():  # every alert inside the viewport, the last one included
            box = card.bounding_box()
            assert box is not None
            assert box["y"] >= 0 and box["y"] + box["height"] <= height, box
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
        first = page.locator(".wall-alert").first.bounding_box()
        counts = page.locator(".wall-counts").bounding_box()
        sites = page.locator(".wall-foot").bounding_box()
        assert counts["y"] < first["y"] < sites["y"]  # alerts come first, the site summary after them
        assert page.evaluate("document.scrollingElement.scrollHeight") <= height
        device_px = float(page.locator(".wall-device").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
        assert device_px >= 24  # readable from 3 m
        if height == 1080:  # the large screen is used, not a third of it left empty
            assert box["y"] + box["height"] > height * 0.6
    finally:
        context.close()
