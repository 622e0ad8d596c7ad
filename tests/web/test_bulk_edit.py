"""Bulk edit of the inventory lists: the selected rows get the chosen values through the API's service and
role rules, all or nothing, with errors that name the object and the reason."""

from __future__ import annotations

import html
import re
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from dcops.auth.models import ChangeLogEntry as ChangeLog
from dcops.dcim.models import Device, Rack
from dcops.tenancy.models import Agency


def _devices(session: Session, *names: str) -> dict[str, Device]:
    found = {d.name: d for d in session.execute(select(Device).where(Device.name.in_(names))).scalars()}
    session.expunge_all()
    session.rollback()
    return found


def _changes(session: Session) -> int:
    count = session.execute(select(func.count()).select_from(ChangeLog)).scalar_one()
    session.rollback()
    return int(count)


def test_operator_sets_status_and_owner_on_the_selected_devices(as_role: Any, session: Session) -> None:
    operator = as_role("operator")
    page = operator.get("/inventory/devices?role=switch&ordering=name")
    assert page.status_code == 200 and 'id="bulk-bar"' in page.text and 'id="select-all"' in page.text
    switches = _devices(session, "tor-a02", "tor-a03", "tor-a04")
    dinkes = session.execute(select(Agency.id).where(Agency.code == "DINKES")).scalar_one()
    session.rollback()
    before = _changes(session)
    done = operator.submit("/inventory/devices", "/inventory/devices/bulk?role=switch&ordering=name",
                           {"ids": [d.id for d in switches.values()], "set_status": "maintenance",
                            "set_owner_agency_id": str(dinkes), "set_rack_id": ""})
    assert done.status_code == 200 and "/inventory/devices?role=switch&ordering=name" in str(done.url)
    assert "Baris diubah: 3" in done.text  # the flash, in Indonesian
    after = _devices(session, *switches)
    assert {n: (d.status, d.owner_agency_id, d.rack_id) for n, d in after.items()} == {
        n: ("maintenance", dinkes, d.rack_id) for n, d in switches.items()}  # the rack left unchanged
    assert _changes(session) == before + 3  # one change-log entry per object, as the API writes
    untouched = _devices(session, "core-sw-01")["core-sw-01"]
    assert untouched.status == "active" and untouched.owner_agency_id is None


def test_one_refusal_changes_nothing_and_names_the_device(as_role: Any, session: Session) -> None:
    operator = as_role("operator")
    moving = _devices(session, "hv-utama-04", "tor-a03")  # tor-a03 sits at U42, which tor-a04 holds in A04
    a04 = session.execute(select(Rack.id).where(Rack.name == "A04")).scalar_one()
    session.rollback()
    before = _changes(session)
    refused = operator.submit("/inventory/devices", "/inventory/devices/bulk",
                              {"ids": [moving["hv-utama-04"].id, moving["tor-a03"].id], "set_rack_id": str(a04)})
    assert refused.status_code == 422
    errors = re.search(r'<div class="alert error" id="bulk-errors".*?</div>', refused.text, flags=re.S)
    assert errors is not None and "tor-a03" in errors.group(0) and "Tidak ada yang diubah." in errors.group(0)
    assert re.search(rf'name="ids" value="{moving["tor-a03"].id}"[^>]*checked', refused.text)  # selection kept
    after = _devices(session, "hv-utama-04", "tor-a03")
    assert {n: d.rack_id for n, d in after.items()} == {n: d.rack_id for n, d in moving.items()}  # nothing moved
    assert _changes(session) == before


BAD_INPUT = [  # (form, what the page says): the API model's own rules and the bar's, in plain Indonesian
    ({"set_status": "rusak"}, "Status harus salah satu dari"),
    ({"set_status": "maintenance", "ids": []}, "Pilih minimal satu baris."),
    ({}, "Pilih nilai yang akan diatur."),
    ({"set_status": "__none__"}, "Status tidak boleh kosong"),
    ({"set_status": "active", "ids": ["x1"]}, "'x1' bukan id objek"),
]


def test_bad_bulk_input_is_a_422_with_a_clear_message_and_readers_are_refused(as_role: Any,
                                                                              session: Session) -> None:
    from dcops.virtualization.models import VirtualMachine

    operator = as_role("operator")
    device = _devices(session, "fw-01")["fw-01"]
    for form, expected in BAD_INPUT:
        answer = operator.submit("/inventory/devices", "/inventory/devices/bulk", {"ids": [device.id], **form})
        assert answer.status_code == 422, form
        errors = re.search(r'id="bulk-errors".*?</div>', answer.text, flags=re.S)
        assert errors is not None and expected in html.unescape(errors.group(0)), (form, errors)
    vm_id = session.execute(select(VirtualMachine.id)).scalars().first()
    session.rollback()
    for role in ("auditor", "planner", "dinkes"):  # the API lets none of them write devices or VMs
        user = as_role(role)
        page = user.get("/inventory/vms")
        assert page.status_code == 200 and 'id="bulk-bar"' not in page.text  # no bar for readers
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        for path, data in (("/inventory/devices/bulk", {"ids": [device.id], "set_status": "failed"}),
                           ("/inventory/vms/bulk", {"ids": [vm_id], "set_cluster_id": "__none__"})):
            answer = user.client.post(path, data={**data, "csrf_token": token})
            assert answer.status_code == 403, (role, path)
    assert _devices(session, "fw-01")["fw-01"].status == "active"
