"""The console's pages on the demo data: forms with the API's messages, scoping, alerts, requests, plan, import."""

from __future__ import annotations

import io
import re
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from dcops.dcim.models import Device, Site
from dcops.monitoring.alert_models import Alert, AlertState, Severity
from dcops.tenancy.models import Agency
from dcops.virtualization.models import VirtualMachine


def fetch(session: Session, stmt: Any, many: bool = False) -> Any:
    """Read objects and end the test's transaction at once (on SQLite a transaction holds the write lock)."""
    rows = session.execute(stmt).scalars().all()
    session.expunge_all()
    session.rollback()
    return list(rows) if many else (rows[0] if rows else None)


def field_error(html: str, name: str) -> str | None:
    found = re.search(rf'data-field="{name}".*?class="field-error"[^>]*>([^<]*)<', html, re.S)
    block = re.search(rf'<div class="field[^"]*" data-field="{name}">(.*?)</div>\s*(?=<div class="field|</div>)',
                      html, re.S)
    if found and block and "field-error" in block.group(1):
        import html as h

        return h.unescape(found.group(1))
    return None


def test_bad_form_shows_the_api_message_next_to_the_field_and_keeps_the_input(as_role: Any, session: Session,
                                                                               web_app: Any) -> None:
    from fastapi.testclient import TestClient

    admin = as_role("admin")
    site = fetch(session, select(Site))
    typed = {"name": "rak baru!", "site_id": str(site.id), "u_height": "500", "power_budget_w": "4000",
             "description": "di ruang 2"}
    response = admin.submit("/inventory/racks/new", "/inventory/racks/new", typed)
    assert response.status_code == 422
    html = response.text
    from dcops.web.i18n import ID  # a plain Indonesian sentence naming the field and the limit

    assert field_error(html, "u_height") == f"{ID['Height (U)']} paling besar 100."
    assert 'value="rak baru!"' in html and 'value="500"' in html and "di ruang 2" in html
    assert field_error(html, "site_id") is None and field_error(html, "name") is None

    # the API says the same about the same input
    token = admin.client.app  # noqa: F841 - the app is shared; ask the API with a bearer token
    from dcops.auth.actor import SYSTEM
    from dcops.auth.models import User
    from dcops.auth.service import issue_token

    user = fetch(session, select(User).where(User.username == "demo-admin"))
    bearer, _ = issue_token(session, actor=SYSTEM, user_id=user.id)
    with TestClient(web_app) as api:
        answer = api.post("/api/v1/dcim/racks", headers={"Authorization": f"Bearer {bearer}"},
                          json={"name": "rak baru!", "site_id": site.id, "u_height": 500})
    assert answer.status_code == 422
    assert answer.json()["detail"] == "u_height: Input should be less than or equal to 100"


def test_domain_errors_land_next_to_their_field(as_role: Any, session: Session) -> None:
    admin = as_role("admin")
    device = fetch(session, select(Device).where(Device.name == "core-sw-01"))
    typed = {"name": "core-sw-01", "device_type_id": str(device.device_type_id), "role": "switch",
             "status": "active", "site_id": str(device.site_id), "mgmt_address": "bukan-ip"}
    html = admin.submit("/inventory/devices/new", "/inventory/devices/new", typed).text
    assert field_error(html, "mgmt_address") == "Alamat manajemen: 'bukan-ip' bukan alamat IPv4 atau IPv6"
    typed["mgmt_address"] = "10.99.0.1"
    html = admin.submit("/inventory/devices/new", "/inventory/devices/new", typed).text
    assert field_error(html, "name") == "a device with name='core-sw-01' already exists; choose another name"
    typed |= {"name": "sw-baru", "rack_id": str(device.rack_id), "position": "42", "face": "front"}
    html = admin.submit("/inventory/devices/new", "/inventory/devices/new", typed).text
    assert "U42 (front) is already taken by device 'core-sw-01'" in (field_error(html, "position") or "")
    typed["position"] = "20"
    ok = admin.submit("/inventory/devices/new", "/inventory/devices/new", typed, follow_redirects=False)
    assert ok.status_code == 303
    assert fetch(session, select(Device).where(Device.name == "sw-baru")).position == 20


def test_edit_form_updates_through_the_service(as_role: Any, session: Session) -> None:
    admin = as_role("admin")
    agency = fetch(session, select(Agency).where(Agency.code == "DINKES"))
    page = admin.get(f"/inventory/agencies/{agency.id}/edit").text
    assert 'value="DINKES"' in page
    values = dict(re.findall(r'<input id="f-(\w+)" name="\w+" type="\w+"\s+(?:step="\w+"\s+)?value="([^"]*)"', page))
    values |= {"kind": "dinas", "quota_vms": "-1"}
    html = admin.submit(f"/inventory/agencies/{agency.id}/edit", f"/inventory/agencies/{agency.id}/edit", values).text
    assert field_error(html, "quota_vms") == "Quota vms minimal 0."  # a plain sentence naming the field
    values["quota_vms"] = "77"
    ok = admin.submit(f"/inventory/agencies/{agency.id}/edit", f"/inventory/agencies/{agency.id}/edit", values,
                      follow_redirects=False)
    assert ok.status_code == 303, re.findall(r'class="field-error"[^>]*>([^<]*)<|general-error">([^<]*)<', ok.text)
    assert fetch(session, select(Agency).where(Agency.id == agency.id)).quota_vms == 77


def test_lists_filter_search_and_page(as_role: Any, session: Session) -> None:
    operator = as_role("operator")
    html = operator.get("/inventory/devices?role=hypervisor").text
    names = re.findall(r'<a href="/devices/\d+">([^<]+)</a>', html)
    assert names and all(n.startswith("hv-") for n in names)
    html = operator.get("/inventory/devices?q=core-sw").text
    assert re.findall(r'<a href="/devices/\d+">([^<]+)</a>', html) == ["core-sw-01", "core-sw-02"]
    vms = operator.get("/inventory/vms").text
    total = fetch(session, select(VirtualMachine), True)
    assert f"dari {len(total)}" in vms and 'id="next-page"' in vms  # more than one page of 50
    second = operator.get("/inventory/vms?offset=50").text
    assert "51–" in second


def test_agency_viewer_sees_only_its_own_vms_and_no_equipment(as_role: Any, session: Session) -> None:
    viewer = as_role("dinkes")
    dinkes = fetch(session, select(Agency).where(Agency.code == "DINKES"))
    own = {v.name for v in fetch(session, select(VirtualMachine).where(VirtualMachine.agency_id == dinkes.id), True)}
    html = viewer.get("/inventory/vms").text
    shown = set(re.findall(r"<td class=\"\">\s*([a-z0-9-]+)\s*</td>", html))
    assert own and own <= shown
    others = {v.name for v in fetch(session, select(VirtualMachine).where(VirtualMachine.agency_id != dinkes.id),
                                    True)}
    assert not (others & set(re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)+", html)))
    assert "hv-utama" not in html and "KLASTER" not in html  # no equipment names, not even the VMs' hosts
    for path in ("/health", "/racks", "/inventory/devices", "/devices/1", "/capacity", "/plan", "/import"):
        response = viewer.get(path)
        assert response.status_code == 403, path
    other = fetch(session, select(VirtualMachine).where(VirtualMachine.agency_id != dinkes.id))
    assert viewer.get(f"/inventory/vms/{other.id}/edit").status_code == 403  # writing is not for viewers at all


def _firing_alert(session: Session) -> Alert:
    device = fetch(session, select(Device).where(Device.name == "hv-utama-02"))
    alert = Alert(rule="device_unreachable", severity=Severity.CRITICAL, device_id=device.id,
                  device_name=device.name, state=AlertState.FIRING, open_key=f"device_unreachable|{device.id}|",
                  summary="hv-utama-02 did not answer 3 polls")
    session.add(alert)
    session.commit()
    session.expunge_all()
    session.rollback()
    return alert


def test_oncall_acknowledges_and_silences_from_the_overview(as_role: Any, session: Session) -> None:
    alert = _firing_alert(session)
    oncall = as_role("oncall")
    html = oncall.get("/health").text
    assert f'data-alert="{alert.id}"' in html and 'data-severity="critical"' in html
    assert "kritis: 1" in html
    ok = oncall.submit("/health", f"/alerts/{alert.id}/ack", {"comment": "sedang dicek"}, follow_redirects=False)
    assert ok.status_code == 303
    acked = fetch(session, select(Alert).where(Alert.id == alert.id))
    assert acked.state == AlertState.ACKNOWLEDGED and acked.acknowledged_by == "demo-oncall"
    assert "sedang dicek" in oncall.get("/health").text
    again = oncall.submit("/health", f"/alerts/{alert.id}/ack", {})
    assert again.status_code == 409 and "only a firing alert can be acknowledged" in again.text
    assert oncall.submit("/health", f"/alerts/{alert.id}/silence", {"hours": "2"},
                         follow_redirects=False).status_code == 303
    planner = as_role("planner")
    assert planner.submit("/plan", f"/alerts/{alert.id}/ack", {}).status_code == 403


def test_device_page_and_rack_elevation(as_role: Any, session: Session) -> None:
    _firing_alert(session)
    operator = as_role("operator")
    device = fetch(session, select(Device).where(Device.name == "hv-utama-02"))
    html = operator.get(f"/devices/{device.id}").text
    assert "PowerEdge R750" in html and "DEMO-HV-UTAMA-02" in html and "device_unreachable" in html
    assert 'id="changelog"' in html and "demo" in html
    racks = operator.get("/racks").text
    assert racks.count('class="rack-svg"') >= 6
    assert 'data-device="hv-utama-02" data-health="warning"' in racks  # a firing critical alert colours it
    assert re.search(r"Daya: [\d.]+ W / 7.000 W anggaran", racks)


def test_operator_previews_and_files_a_request_admin_approves(as_role: Any, session: Session) -> None:
    operator = as_role("operator")
    dinkes = fetch(session, select(Agency).where(Agency.code == "DINKES"))
    form = {"agency_id": str(dinkes.id), "justification": "SIMPUS baru", "name_prefix": "dinkes-simpus",
            "count": "2", "vcpus": "2", "ram_gib": "4", "disk_gib": "80"}
    preview = operator.submit("/requests/new", "/requests/preview", form).text
    assert 'id="preview-fits"' in preview and preview.count('class="placement-host">hv-') == 2
    too_big = operator.submit("/requests/new", "/requests/preview", form | {"vcpus": "512", "count": "50"}).text
    assert 'id="preview-fails"' in too_big or "quota" in too_big.lower()
    bad = operator.submit("/requests/new", "/requests/new", form | {"name_prefix": "Bad Prefix"})
    assert bad.status_code == 422 and field_error(bad.text, "name_prefix", ) is not None
    assert 'value="Bad Prefix"' in bad.text
    filed = operator.submit("/requests/new", "/requests/new", form, follow_redirects=False)
    assert filed.status_code == 303
    url = filed.headers["location"]
    admin = as_role("admin")
    page = admin.get(url).text
    assert 'id="approve"' in page and "requested" in page
    assert 'id="approve"' not in operator.get(url).text
    approved = admin.submit(url, url + "/approve", {}, follow_redirects=False)
    assert approved.status_code == 303
    after = admin.get(approved.headers["location"]).text
    assert 'data-status="approved"' in after or 'data-status="provisioning"' in after
    assert "dinkes-simpus-01" in after


def test_planner_downloads_the_plan(as_role: Any) -> None:
    from openpyxl import load_workbook

    planner = as_role("planner")
    html = planner.get("/plan?years=3").text
    assert 'id="plan-years"' in html and re.search(r"Rp \d{1,3}(\.\d{3})+", html)
    bad = planner.get("/plan?years=40").text
    assert "paling besar 10." in bad and 'value="40"' in bad  # a plain Indonesian sentence
    link = re.search(r'id="download-xlsx" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    xlsx = planner.get(link)
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["content-disposition"]
    workbook = load_workbook(io.BytesIO(xlsx.content))
    assert len(workbook.sheetnames) >= 3
    assert workbook.worksheets[0]["A1"].value == "Tahun anggaran"  # headers in the visitor's language
    csv = planner.get(link.replace("format=xlsx", "format=csv"))
    assert csv.status_code == 200 and csv.text.count("\n") >= 3
    assert csv.text.startswith("Tahun anggaran,") and "cost_idr" not in csv.text


def test_csv_import_reports_every_bad_row(as_role: Any, session: Session) -> None:
    operator = as_role("admin")  # agencies are the admin's to create, through the import as through the API
    page = operator.get("/import").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    csv = ("name,code,kind\n"
           "Dinas Baru Satu,DBARU1,dinas\n"
           "x,DBARU2,dinas\n"
           "Dinas Baru Tiga,DBARU3,tidak-ada\n")
    files = {"file": ("agencies.csv", csv.encode(), "text/csv")}
    response = operator.client.post("/import", data={"csrf_token": token, "kind": "agencies"}, files=files)
    assert response.status_code == 422
    lines = re.findall(r'<tr data-line="(\d+)">', response.text)
    assert lines == ["3", "4"]
    assert fetch(session, select(Agency).where(Agency.code == "DBARU1")) is None
    good = csv.splitlines()[:2]
    files = {"file": ("agencies.csv", ("\n".join(good) + "\n").encode(), "text/csv")}
    response = operator.client.post("/import", data={"csrf_token": token, "kind": "agencies"}, files=files)
    assert response.status_code == 200 and 'id="import-result"' in response.text


def test_device_page_shows_what_monitoring_recorded(as_role: Any, session: Session) -> None:
    from tests.web.conftest import record_polls

    device_id = record_polls(session, "ups-01", ups=True)
    html = as_role("oncall").get(f"/devices/{device_id}").text
    assert 'id="interfaces"' in html and "Te1/0/1" in html and "uplink 2" in html
    assert re.search(r"10,0 Gbit/s", html) and re.search(r"250,0 Mbit/s|251,0 Mbit/s|2\d\d,0 Mbit/s", html)
    assert 'id="sensors"' in html and "inlet" in html and "5.200 rpm" in html
    assert 'id="ups"' in html and "98,0 %" in html and "45 m 0 s" in html and "221 V" in html
    assert html.count("<polyline") >= 4 and 'data-metric="cpu_load_percent"' in html
    assert "hidup" in html  # reachable, no alert: up
    overview = as_role("oncall").get("/health").text
    assert 'id="poller-health"' in overview and "Pemantauan belum melapor" not in overview
