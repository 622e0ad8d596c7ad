"""Fixtures of the console tests: the app with the console mounted, the demo data, logged-in clients."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def build_app() -> Any:
    """The dcops app with the console mounted (as ``create_app`` will do once the lead wires it)."""
    from dcops.main import create_app
    from dcops.routing import walk_routes
    from dcops.web import mount

    app = create_app()
    if not any(path == "/login" for path, _ in walk_routes(app.routes)):
        mount(app)  # until dcops.features mounts the console itself
    return app


@pytest.fixture
def web_app(db: str) -> Any:
    return build_app()


@pytest.fixture
def demo(session: Session) -> Any:
    """The demo data center; ``.users`` holds each demo user's password."""
    from dcops.demo.build import build_demo

    summary = build_demo(session)
    session.commit()
    return summary


@pytest.fixture
def passwords(demo: Any) -> dict[str, str]:
    return {u.username: u.password for u in demo.users}


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


class Browser:
    """A TestClient that logs in through the form and posts forms with the page's CSRF token."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def login(self, username: str, password: str) -> Any:
        token = csrf_of(self.client.get("/login").text)
        return self.client.post("/login", data={"username": username, "password": password, "csrf_token": token,
                                                "next": "/"}, follow_redirects=False)

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)

    def submit(self, page: str, action: str, data: dict[str, Any], **kw: Any) -> Any:
        token = csrf_of(self.client.get(page).text)
        return self.client.post(action, data={**data, "csrf_token": token}, **kw)


@pytest.fixture
def browser(web_app: Any) -> Iterator[Browser]:
    from fastapi.testclient import TestClient

    with TestClient(web_app, raise_server_exceptions=False) as c:
        yield Browser(c)


@pytest.fixture
def as_role(web_app: Any, passwords: dict[str, str]) -> Any:
    """Return a logged-in Browser for a demo role name (admin, operator, oncall, planner, auditor, dinkes)."""
    from fastapi.testclient import TestClient

    clients = []

    def make(role: str) -> Browser:
        client = TestClient(web_app, raise_server_exceptions=False)
        clients.append(client)
        b = Browser(client)
        response = b.login(f"demo-{role}", passwords[f"demo-{role}"])
        assert response.status_code == 303, response.text[:500]
        return b

    yield make
    for c in clients:
        c.close()


def record_polls(session: Session, device_name: str, polls: int = 30, ups: bool = False) -> int:
    """Record ``polls`` per-minute polls of a device through monitoring's state service; return its id."""
    from datetime import timedelta

    from sqlalchemy import select

    from dcops.database import utcnow
    from dcops.dcim.models import Device
    from dcops.monitoring.profiles import InterfaceRow
    from dcops.monitoring.state import PollExtras, record, record_poller_status
    from dcops.monitoring.types import PollResult, Sample

    device = session.execute(select(Device).where(Device.name == device_name)).scalars().one()
    now = utcnow()
    for k in range(polls):
        samples = [Sample("cpu_load_percent", 20.0 + k % 7), Sample("memory_used_percent", 55.0 + k / 10),
                   Sample("temperature_celsius", 26.0 + k % 3, (("sensor", "inlet"),)),
                   Sample("fan_rpm", 5200.0, (("sensor", "fan1"),))]
        for port in (1, 2):
            name = (("ifname", f"Te1/0/{port}"),)
            samples += [Sample("if_in_bps", 2.5e8 * port + k * 1e6, name), Sample("if_out_bps", 1.1e8 * port, name),
                        Sample("if_utilization_percent", 2.5 * port, name)]
        if ups:
            samples += [Sample("ups_on_battery", 0.0), Sample("ups_battery_charge_percent", 98.0),
                        Sample("ups_runtime_seconds", 2700.0), Sample("ups_load_percent", 41.0),
                        Sample("ups_input_voltage_volts", 221.0)]
        result = PollResult(device_id=device.id, device_name=device.name, at=now - timedelta(minutes=polls - k),
                            reachable=True, duration_s=0.4, samples=samples, facts={"sys_descr": "demo agent"})
        interfaces = [InterfaceRow(ifindex=p, name=f"Te1/0/{p}", alias=f"uplink {p}", speed_bps=10**10,
                                   admin_up=True, oper_up=p == 1) for p in (1, 2)]
        record(session, result, PollExtras(interfaces=interfaces, uptime_ticks=360000 + k * 6000))
    record_poller_status(session, heartbeat_at=now, started_at=now - timedelta(hours=1), devices=26,
                         cycle_duration_s=3.2, cycle_interval_s=60, polls_total=1500)
    session.commit()
    device_id = int(device.id)
    session.expunge_all()
    session.rollback()
    return device_id
