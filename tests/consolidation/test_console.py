"""The consolidation console page on the demo: the board per role, starting a migration, the agency viewer."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook

from tests.web.conftest import csrf_of


def _cell(html: str, agency: str, cls: str) -> str:
    row = re.search(rf'<tr data-agency="{agency}">(.*?)</tr>', html, re.S)
    assert row, agency
    found = re.search(rf'class="num {cls}">([^<]*)<', row.group(1))
    assert found, (agency, cls)
    return found.group(1)


def test_board_start_approve_and_agency_viewer(demo, as_role, session):
    planner = as_role("planner")
    page = planner.get("/consolidation")
    assert page.status_code == 200
    html = page.text
    assert "Papan konsolidasi" in html and 'data-menu="consolidation"' in html
    assert _cell(html, "DINKES", "in-dc") == "1" and _cell(html, "DINKES", "out") == "1"
    assert 'data-wave="Gelombang 2"' in html and "Start migration" not in html and "Mulai migrasi" not in html
    operator = as_role("operator")
    html = operator.get("/consolidation?agency=DINKES").text
    app_id = re.search(r'action="/consolidation/applications/(\d+)/start"', html).group(1)
    r = operator.client.post(f"/consolidation/applications/{app_id}/start", data={"csrf_token": csrf_of(html)},
                             follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/requests/")
    request_id = r.headers["location"].rsplit("/", 1)[1]
    admin = as_role("admin")
    r = admin.submit(f"/requests/{request_id}", f"/requests/{request_id}/approve", {"reason": "ok"},
                     follow_redirects=False)
    assert r.status_code == 303
    html = planner.get("/consolidation").text
    assert _cell(html, "DINKES", "in-dc") == "2" and _cell(html, "DINKES", "out") == "0"
    html = operator.get("/consolidation?agency=DINKES").text
    assert 'data-retire="e-Puskesmas"' in html
    r = operator.client.post(f"/consolidation/applications/{app_id}/retire", data={"csrf_token": csrf_of(html)},
                             follow_redirects=False)
    assert r.status_code == 303
    html = planner.get("/consolidation").text
    assert re.search(r'<tr data-agency="DINKES">.*?data-state="done"', html, re.S)  # its last server is off
    viewer = as_role("dinkes")
    html = viewer.get("/consolidation").text
    assert re.findall(r'<tr data-agency="([^"]+)"', html) == ["DINKES"]
    assert set(re.findall(r'<tr data-cost="([^"]+)"', html)) == {"DINKES"}
    assert 'id="total-cost"' not in html
    book = load_workbook(io.BytesIO(viewer.get("/consolidation/export/showback").content))
    assert [r[0] for r in book.worksheets[0].iter_rows(min_row=2, values_only=True)] == ["DINKES"]
    assert viewer.client.post(f"/consolidation/applications/{app_id}/start",
                              data={"csrf_token": csrf_of(html)}).status_code == 403


def test_planner_edits_the_assumptions_and_bad_input_says_what_to_fix(demo, as_role):
    planner = as_role("planner")
    page = planner.get("/consolidation").text
    assert 'id="settings-form"' in page and 'name="tariff_idr_per_kwh"' in page
    fields = dict(re.findall(r'name="([a-z_]+)" type="number"[^>]*value="([^"]*)"', page))
    r = planner.submit("/consolidation", "/consolidation/settings", fields | {"tariff_idr_per_kwh": "2000"},
                       follow_redirects=False)
    assert r.status_code == 303
    assert 'name="tariff_idr_per_kwh" type="number"' in (after := planner.get("/consolidation").text)
    assert re.search(r'name="tariff_idr_per_kwh" type="number"[^>]*value="2000(\.0)?"', after)
    r = planner.submit("/consolidation", "/consolidation/settings", fields | {"amortisation_years": "0"})
    assert r.status_code == 422 and 'data-field="amortisation_years"' in r.text and "field-error" in r.text
    assert 'id="settings-form"' not in as_role("operator").get("/consolidation").text


def test_device_and_site_forms_record_an_agency_server(demo, as_role):
    admin = as_role("admin")
    assert 'name="owner_agency_id"' in admin.get("/inventory/devices/new").text
    assert 'name="agency_id"' in admin.get("/inventory/sites/new").text
    listed = admin.get("/inventory/devices?q=srv-dinkes").text
    assert "srv-dinkes-01" in listed
