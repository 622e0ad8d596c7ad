"""The plan's exports: the XLSX opens with its sheets and numeric cells, its totals equal the JSON plan; CSV parses."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from tests.capacity.test_plan_api import PLAN, city, plan_client  # noqa: F401  (fixtures)

WHAT_IF = {"years": 3, "model": "rack-x2", "agency_growth": {"OPD01": {"percent": 100}}}


def _json_plan(plan_client, headers):  # noqa: F811
    response = plan_client.post(PLAN, json=WHAT_IF, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_xlsx_sheets_numbers_formats_and_totals_equal_the_json_plan(plan_client, tokens, city):  # noqa: F811
    headers = tokens.headers("planner")
    plan = _json_plan(plan_client, headers)
    response = plan_client.post(f"{PLAN}/export", params={"format": "xlsx"}, json=WHAT_IF, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="budget-plan-rack-x2-' in response.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(response.content))
    years = [y["fiscal_year"] for y in plan["fiscal_years"]]
    agencies = [a["code"] for a in plan["agencies"]]
    assert wb.sheetnames == ["Summary", *(f"FY{y}" for y in years), *agencies, "Assumptions"]
    assert len(agencies) == 49

    summary = wb["Summary"]
    assert summary.freeze_panes == "A2"
    header = [c.value for c in summary[1]]
    col = {name: i for i, name in enumerate(header)}
    rows = list(summary.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(years) + 1 and rows[-1][0] == "Total"
    for row, year in zip(rows, plan["fiscal_years"], strict=False):
        for name in ("fiscal_year", "servers_to_buy", "cost_idr", "hosts_total", "rack_units_needed"):
            assert row[col[name]] == year[name], name
        assert row[col["vcpus_demand"]] == year["demand"]["vcpus"]
        assert row[col["power_kw_needed"]] == year["power_kw_needed"]
        assert row[col["room_holds"]] is year["room_holds"]
    total = rows[-1]
    assert total[col["servers_to_buy"]] == plan["totals"]["servers_to_buy"] > 0
    assert total[col["cost_idr"]] == plan["totals"]["cost_idr"] == sum(r[col["cost_idr"]] for r in rows[:-1])
    assert total[col["rack_units_needed"]] == plan["totals"]["rack_units"]
    assert total[col["power_kw_needed"]] == plan["totals"]["power_kw"]
    for r in range(2, len(rows) + 2):  # numbers are numbers, Rupiah carries the IDR format
        cost = summary.cell(row=r, column=col["cost_idr"] + 1)
        assert cost.data_type == "n" and isinstance(cost.value, int)
        assert cost.number_format == '"Rp" #,##0'
        assert summary.cell(row=r, column=col["servers_to_buy"] + 1).data_type == "n"
    assert summary.column_dimensions["J"].width >= len("Rp 9.999.999.999")  # cost_idr is column J

    last = wb[f"FY{years[-1]}"]
    resources = {row[0]: row for row in last.iter_rows(min_row=2, max_row=4, values_only=True)}
    year = plan["fiscal_years"][-1]
    for res in year["resources"]:
        assert resources[res["resource"]][2] == res["demand"]
        assert resources[res["resource"]][6] == res["new_servers_needed"]
    agency_cells = {row[0]: row for row in last.iter_rows(values_only=True) if row[0] in agencies}
    assert len(agency_cells) == 49
    assert abs(sum(r[3] for r in agency_cells.values()) - year["demand"]["ram_gib"]) < 1  # the total is rounded up

    opd01 = list(wb["OPD01"].iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in opd01] == [plan["baseline_year"], *years]
    base = next(a for a in plan["agencies"] if a["code"] == "OPD01")
    assert opd01[0][1] == base["vcpus"] and opd01[3][1] == base["vcpus"] * 8  # 100 % a year for 3 years
    assert all(isinstance(v, int | float) for r in opd01 for v in r[1:4])

    assumptions = {row[0]: row[1] for row in wb["Assumptions"].iter_rows(min_row=2, values_only=True) if row[0]}
    assert assumptions["cluster"] == "KLASTER-KOTA"
    assert assumptions["price_idr"] == 520_000_000
    assert assumptions["ha_reserve_hosts"] == 1
    assert assumptions["per_new_server_disk_gib"] == plan["per_new_server"]["disk_gib"]


def test_csv_summary_and_agencies_parse_and_match(plan_client, tokens, city):  # noqa: F811
    headers = tokens.headers("auditor")
    plan = _json_plan(plan_client, headers)
    response = plan_client.post(f"{PLAN}/export", params={"format": "csv"}, json=WHAT_IF, headers=headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 3
    for row, year in zip(rows, plan["fiscal_years"], strict=True):
        assert int(row["fiscal_year"]) == year["fiscal_year"]
        assert int(row["servers_to_buy"]) == year["servers_to_buy"]
        assert int(row["cost_idr"]) == year["cost_idr"]
        assert int(row["ram_gib_demand"]) == year["demand"]["ram_gib"]
        assert row["binding_resource"] == year["binding_resource"]
    assert sum(int(r["cost_idr"]) for r in rows) == plan["totals"]["cost_idr"]
    agencies = plan_client.post(f"{PLAN}/export", params={"format": "csv", "table": "agencies"}, json=WHAT_IF,
                                headers=headers)
    assert agencies.status_code == 200
    agency_rows = list(csv.DictReader(io.StringIO(agencies.text)))
    assert len(agency_rows) == 49 * 4  # the baseline and three fiscal years
    first_year = [r for r in agency_rows if int(r["fiscal_year"]) == plan["fiscal_years"][0]["fiscal_year"]]
    assert round(sum(float(r["vcpus"]) for r in first_year)) == plan["fiscal_years"][0]["demand"]["vcpus"]


def test_json_export_is_the_api_plan(plan_client, tokens, city):  # noqa: F811
    headers = tokens.headers("operator")
    params = {"model": "rack-x2", "years": 2, "format": "json"}
    exported = plan_client.get(f"{PLAN}/export", params=params, headers=headers)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/json")
    params.pop("format")
    assert exported.json() == plan_client.get(PLAN, params=params, headers=headers).json()
