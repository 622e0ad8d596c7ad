"""Twenty API clients race for the same rack units over real HTTP: one wins each unit, the rest get 409."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select

from dcops.dcim.models import Device, RackUnit
from tests.server import running_server

CLIENTS = 20

# PostgreSQL is where concurrent writers really interleave (row locks + the rack_unit primary key);
# SQLite serialises every write transaction by design.
pytestmark = pytest.mark.postgresql_only


def _race(base: str, headers: dict[str, str], bodies: list[dict]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(bodies))
    results: list[httpx.Response | None] = [None] * len(bodies)

    def place(i: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
            barrier.wait()
            results[i] = c.post("/api/v1/dcim/devices", json=bodies[i])

    threads = [threading.Thread(target=place, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r for r in results if r is not None]


def _check_no_overlap(session) -> None:
    session.rollback()
    per_slot = session.execute(
        select(RackUnit.rack_id, RackUnit.unit, RackUnit.face, func.count()).group_by(
            RackUnit.rack_id, RackUnit.unit, RackUnit.face).having(func.count() > 1)
    ).all()
    assert per_slot == []
    session.rollback()


def test_twenty_clients_one_winner_per_unit(app, admin, factory, session):
    rack = factory.rack(u_height=42, power_budget_w=100_000)
    dtype = factory.device_type(u_height=1, max_power_w=100)
    session.commit()
    with running_server(app) as base:
        for unit in (1, 2, 3):
            bodies = [{"name": f"u{unit}-c{i}", "device_type_id": dtype.id, "role": "switch",
                       "site_id": rack.site_id, "rack_id": rack.id, "position": unit, "face": "front"}
                      for i in range(CLIENTS)]
            responses = _race(base, admin, bodies)
            codes = Counter(r.status_code for r in responses)
            assert codes == {201: 1, 409: CLIENTS - 1}, [r.text for r in responses if r.status_code not in (201, 409)]
            winner = next(r.json()["name"] for r in responses if r.status_code == 201)
            for r in responses:
                if r.status_code == 409:
                    assert f"U{unit}" in r.json()["detail"], r.json()["detail"]
            session.rollback()
            names = session.execute(select(Device.name).where(Device.rack_id == rack.id, Device.position == unit))
            assert list(names.scalars()) == [winner]
            session.rollback()  # on SQLite every transaction holds the write lock: end it before the next round
    _check_no_overlap(session)


def test_mixed_heights_racing_for_overlapping_ranges(app, admin, factory, session):
    rack = factory.rack(u_height=42, power_budget_w=100_000)
    one, two = factory.device_type(u_height=1, max_power_w=10), factory.device_type(u_height=2, max_power_w=10)
    session.commit()
    # 2U devices at U10 and U11 and 1U devices at U10, U11, U12 all overlap pairwise somewhere.
    bodies = []
    for i in range(CLIENTS):
        dtype, pos = [(two, 10), (two, 11), (one, 10), (one, 11), (one, 12)][i % 5]
        bodies.append({"name": f"m{i}", "device_type_id": dtype.id, "role": "other", "site_id": rack.site_id,
                       "rack_id": rack.id, "position": pos, "face": "front"})
    with running_server(app) as base:
        responses = _race(base, admin, bodies)
    assert {r.status_code for r in responses} <= {201, 409}
    assert sum(r.status_code == 201 for r in responses) >= 1
    _check_no_overlap(session)
    session.rollback()
    used = session.execute(select(func.count()).select_from(RackUnit).where(RackUnit.rack_id == rack.id)).scalar_one()
    placed = session.execute(select(func.count()).select_from(Device).where(Device.rack_id == rack.id)).scalar_one()
    assert 1 <= placed <= 3 and used <= 3 * 2  # full-depth devices take both faces
    session.rollback()
