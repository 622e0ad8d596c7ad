"""Rack geometry (pure) and the readers of what racks hold, one rack and many at once, which must agree."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from dcops.dcim.choices import RackFace
from dcops.dcim.models import DeviceType, Rack
from dcops.dcim.service import (
    check_rack_placement,
    free_positions,
    rack_device_ids,
    rack_occupancy,
    rack_pdus,
    rack_power_draw,
    rack_power_unknown,
    rack_usage,
    racked_devices,
    racks_of_site,
    sites_by_name,
    units_for,
)
from dcops.exceptions import CapacityError, ConflictError, ValidationError

FRONT, REAR = RackFace.FRONT, RackFace.REAR


def test_units_and_free_positions() -> None:
    assert units_for(3, 2, FRONT, full_depth=False) == [(3, FRONT), (4, FRONT)]
    assert units_for(1, 1, REAR, full_depth=True) == [(1, FRONT), (1, REAR)]
    taken = {(3, FRONT), (4, REAR)}
    assert free_positions(6, taken, 2, FRONT, full_depth=False) == [1, 4, 5]
    assert free_positions(6, taken, 2, FRONT, full_depth=True) == [1, 5]


def _rack() -> Rack:
    return Rack(name="R01", site_id=1, u_height=10, power_budget_w=5000)


def _type(height: int, full_depth: bool = True) -> DeviceType:
    return DeviceType(manufacturer_id=1, model=f"{height}U box", slug=f"box-{height}", u_height=height,
                      is_full_depth=full_depth)


def test_placement_names_the_clash_and_where_it_would_fit() -> None:
    taken = {(u, f): "sw-01" for u in (5, 6) for f in (FRONT, REAR)}

    with pytest.raises(ConflictError, match=r"U6 \(front\) is already taken by device 'sw-01'; free positions "
                                            r"for a 2U device: U1-U3, U7-U9"):
        check_rack_placement(device_name="db-01", rack=_rack(), dtype=_type(2), position=6, face=FRONT, taken=taken)
    with pytest.raises(CapacityError, match="at U9 it would reach U11, but rack 'R01' has 10U"):
        check_rack_placement(device_name="db-01", rack=_rack(), dtype=_type(3), position=9, face=FRONT, taken={})
    with pytest.raises(ValidationError, match="needs a position"):
        check_rack_placement(device_name="db-01", rack=_rack(), dtype=_type(1), position=None, face=None, taken={})
    assert check_rack_placement(device_name="pdu-a", rack=_rack(), dtype=_type(0), position=None, face=None,
                                taken=taken) == [], "a 0U device takes no unit"
    assert check_rack_placement(device_name="db-01", rack=_rack(), dtype=_type(2, full_depth=False), position=7,
                                face=REAR, taken=taken) == [(7, REAR), (8, REAR)]


def test_readers_of_one_rack_and_of_many_agree(session: Session, factory: Any) -> None:
    site = factory.site(name="DC Utama")
    first, second = factory.rack(site=site, name="R02"), factory.rack(site=site, name="R01")
    big = factory.device_type(u_height=2, max_power_w=800)
    unknown = factory.device_type(u_height=1, max_power_w=None)
    pdu_type = factory.device_type(u_height=0, max_power_w=None)
    a = factory.device(rack=first, dtype=big, name="srv-a", position=1)
    b = factory.device(rack=first, dtype=unknown, name="srv-b", position=5)
    pdu = factory.device(rack=first, dtype=pdu_type, name="pdu-a", role="pdu")
    c = factory.device(rack=second, dtype=big, name="srv-c", position=10)

    used, draw = rack_usage(session, [first.id, second.id])

    assert used == {first.id: len({u for u, _ in rack_occupancy(session, first.id)}),
                    second.id: len({u for u, _ in rack_occupancy(session, second.id)})} == {first.id: 3, second.id: 2}
    assert draw == {first.id: rack_power_draw(session, first.id), second.id: rack_power_draw(session, second.id)} \
        == {first.id: 800, second.id: 800}
    assert rack_power_unknown(session, first.id) == ["pdu-a", "srv-b"]
    assert rack_power_draw(session, first.id, exclude_device=a.id) == 0
    assert rack_device_ids(session, first.id) == {"srv-a": a.id, "srv-b": b.id, "pdu-a": pdu.id}
    assert rack_pdus(session, [first.id, second.id]) == {pdu.id: first.id}
    both = [first.id, second.id]
    drawn = {d.name: (d.rack_id, d.position, d.face, d.u_height) for d in racked_devices(session, both)}
    assert drawn == {"srv-a": (first.id, 1, "front", 2), "srv-b": (first.id, 5, "front", 1),
                     "pdu-a": (first.id, None, "front", 0), "srv-c": (second.id, 10, "front", 2)}
    assert c.id is not None
    assert rack_usage(session, []) == ({}, {}) and racked_devices(session, []) == [] and rack_pdus(session, []) == {}
    assert [s.name for s in sites_by_name(session)] == ["DC Utama"]
    assert [r.name for r in racks_of_site(session, site.id)] == ["R01", "R02"]
