"""Write a budget plan for planners: JSON (as the API answers), CSV, and an XLSX workbook.

The workbook has a Summary sheet (one row per fiscal year and a Total row), one sheet per fiscal year (resources
and agencies' demand), one per agency (its demand year by year) and an Assumptions sheet. Numbers are stored as
numbers; Rupiah cells carry the ``"Rp" #,##0`` format, which Indonesian spreadsheets display as ``Rp 425.000.000``.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from typing import Any

from dcops.capacity.forecast import RESOURCES, Plan, YearPlan
from dcops.cells import csv_cell, xlsx_text_only

FORMATS = ("json", "csv", "xlsx")
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
IDR = '"Rp" #,##0'
INTEGER = "#,##0"
KW = "#,##0.0##"
PERCENT = "0.0"
YEAR = "0"
DECIMAL = "#,##0.00"  # projected agency demand is fractional until the yearly total is rounded up

# (header, YearPlan attribute or demand key, number format)
SUMMARY_COLUMNS: list[tuple[str, str, str | None]] = [
    ("fiscal_year", "fiscal_year", YEAR),
    ("vcpus_demand", "demand.vcpus", INTEGER),
    ("ram_gib_demand", "demand.ram_gib", INTEGER),
    ("disk_gib_demand", "demand.disk_gib", INTEGER),
    ("binding_resource", "binding_resource", None),
    ("existing_hosts", "existing_hosts", INTEGER),
    ("new_servers_total", "new_servers_total", INTEGER),
    ("hosts_total", "hosts_total", INTEGER),
    ("servers_to_buy", "servers_to_buy", INTEGER),
    ("cost_idr", "cost_idr", IDR),
    ("rack_units_needed", "rack_units_needed", INTEGER),
    ("rack_units_total", "rack_units_total", INTEGER),
    ("power_kw_needed", "power_kw_needed", KW),
    ("power_kw_total", "power_kw_total", KW),
    ("rack_units_free", "rack_units_free", INTEGER),
    ("power_kw_free", "power_kw_free", KW),
    ("space_holds", "space_holds", None),
    ("power_holds", "power_holds", None),
    ("room_holds", "room_holds", None),
    ("rack_units_short", "rack_units_short", INTEGER),
    ("power_kw_short", "power_kw_short", KW),
    ("servers_unplaceable", "servers_unplaceable", INTEGER),
]
TOTALLED = {"servers_to_buy": "servers_to_buy", "cost_idr": "cost_idr", "rack_units_needed": "rack_units",
            "power_kw_needed": "power_kw"}
AGENCY_COLUMNS = ["fiscal_year", "agency_code", "agency_name", "vcpus", "ram_gib", "disk_gib", "growth"]


def plan_dict(plan: Plan) -> dict[str, Any]:
    """Return the plan as plain JSON-ready data (the API's answer)."""
    return asdict(plan)


def _value(year: YearPlan, path: str) -> Any:
    if path.startswith("demand."):
        return year.demand[path.split(".", 1)[1]]
    return getattr(year, path)


def summary_rows(plan: Plan) -> list[dict[str, Any]]:
    """Return one row per fiscal year with the summary columns."""
    return [{h: _value(y, p) for h, p, _ in SUMMARY_COLUMNS} for y in plan.fiscal_years]


def agency_rows(plan: Plan) -> list[dict[str, Any]]:
    """Return one row per fiscal year and agency (year 0 is the baseline)."""
    growth = {a.code: a.growth for a in plan.agencies}
    rows = [{"fiscal_year": plan.baseline_year, "agency_code": a.code, "agency_name": a.name, "vcpus": a.vcpus,
             "ram_gib": a.ram_gib, "disk_gib": a.disk_gib, "growth": "baseline"} for a in plan.agencies]
    for y in plan.fiscal_years:
        rows += [{"fiscal_year": y.fiscal_year, "agency_code": a.code, "agency_name": a.name, "vcpus": a.vcpus,
                  "ram_gib": a.ram_gib, "disk_gib": a.disk_gib, "growth": growth[a.code]} for a in y.agencies]
    return rows


def to_json(plan: Plan) -> bytes:
    """Return the plan as JSON."""
    return json.dumps(plan_dict(plan), indent=2, ensure_ascii=False).encode()


def to_csv(plan: Plan, table: str = "summary") -> bytes:
    """Return the summary (one row per fiscal year) or the agencies' demand as CSV."""
    columns = [h for h, _, _ in SUMMARY_COLUMNS] if table == "summary" else AGENCY_COLUMNS
    rows = summary_rows(plan) if table == "summary" else agency_rows(plan)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
    return out.getvalue().encode()


def to_xlsx(plan: Plan) -> bytes:
    """Return the plan as an XLSX workbook."""
    from openpyxl import Workbook

    wb = Workbook()
    summary = wb.active
    summary.title = "Summary"
    _summary_sheet(summary, plan)
    reserved = {"summary", "assumptions"} | {f"fy{y.fiscal_year}" for y in plan.fiscal_years}
    for y in plan.fiscal_years:
        _year_sheet(wb.create_sheet(f"FY{y.fiscal_year}"), y)
    for a in plan.agencies:
        title = a.code[:31] if a.code.lower() not in reserved else f"Agency {a.code}"[:31]
        _agency_sheet(wb.create_sheet(title), plan, a.code)
    _assumptions_sheet(wb.create_sheet("Assumptions"), plan)
    xlsx_text_only(wb)  # names and notes starting with '=' are text, never formulas
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _table(ws: Any, headers: list[str], rows: list[list[Any]], formats: list[str | None], start_row: int = 1) -> int:
    """Write a header and rows with number formats; return the next free row."""
    from openpyxl.styles import Font

    for col, header in enumerate(headers, start=1):
        ws.cell(row=start_row, column=col, value=header).font = Font(bold=True)
    for r, row in enumerate(rows, start=start_row + 1):
        for col, (value, fmt) in enumerate(zip(row, formats, strict=True), start=1):
            cell = ws.cell(row=r, column=col, value=value)
            if fmt and isinstance(value, int | float) and not isinstance(value, bool):
                cell.number_format = fmt
    return start_row + len(rows) + 1


def _finish(ws: Any) -> None:
    """Freeze the header row and size the columns to their contents."""
    from openpyxl.utils import get_column_letter

    ws.freeze_panes = "A2"
    widths: dict[int, int] = {}
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is None:
                continue
            text = f"{cell.value:,}" if isinstance(cell.value, int | float) else str(cell.value)
            extra = 3 if cell.number_format == IDR else 0
            widths[cell.column] = max(widths.get(cell.column, 0), len(text) + extra)
    for col, width in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = min(60, width + 2)


def _summary_sheet(ws: Any, plan: Plan) -> None:
    from openpyxl.styles import Font

    headers = [h for h, _, _ in SUMMARY_COLUMNS]
    formats = [f for _, _, f in SUMMARY_COLUMNS]
    rows = [[row[h] for h in headers] for row in summary_rows(plan)]
    total_row = ["Total"] + [plan.totals[TOTALLED[h]] if h in TOTALLED else None for h in headers[1:]]
    end = _table(ws, headers, rows + [total_row], formats)
    for cell in ws[end - 1]:
        cell.font = Font(bold=True)
    _finish(ws)


def _year_sheet(ws: Any, year: YearPlan) -> None:
    headers = ["resource", "unit", "demand", "per_new_server", "usable_capacity", "utilisation_percent",
               "new_servers_needed"]
    rows = [[r.resource, r.unit, r.demand, r.per_new_server, r.usable_capacity, r.utilisation_percent,
             r.new_servers_needed] for r in year.resources]
    nxt = _table(ws, headers, rows, [None, None, INTEGER, INTEGER, INTEGER, PERCENT, INTEGER])
    nxt = _table(ws, ["item", "value"], [
        ["binding_resource", year.binding_resource], ["servers_to_buy", year.servers_to_buy],
        ["cost_idr", year.cost_idr], ["hosts_total", year.hosts_total], ["room_holds", year.room_holds],
    ], [None, None], start_row=nxt + 1)
    ws.cell(row=nxt - 3, column=2).number_format = IDR
    agencies = [[a.code, a.name, a.vcpus, a.ram_gib, a.disk_gib] for a in year.agencies]
    _table(ws, ["agency_code", "agency_name", "vcpus", "ram_gib", "disk_gib"], agencies,
           [None, None, DECIMAL, DECIMAL, DECIMAL], start_row=nxt + 1)
    _finish(ws)


def _agency_sheet(ws: Any, plan: Plan, code: str) -> None:
    rows = [[r["fiscal_year"], r["vcpus"], r["ram_gib"], r["disk_gib"], r["growth"]]
            for r in agency_rows(plan) if r["agency_code"] == code]
    _table(ws, ["fiscal_year", "vcpus", "ram_gib", "disk_gib", "growth"], rows, [YEAR, DECIMAL, DECIMAL, DECIMAL, None])
    _finish(ws)


def _assumptions_sheet(ws: Any, plan: Plan) -> None:
    m = plan.model
    items: list[list[Any]] = [
        ["cluster", plan.cluster or "(none)"], ["baseline_year", plan.baseline_year], ["years", plan.years],
        ["server_model", f"{m['model']} ({m['slug']})"], ["cpu_threads", m["cpu_threads"]],
        ["ram_gib", m["ram_gib"]], ["storage_tb", m["storage_tb"]], ["u_height", m["u_height"]],
        ["max_power_w", m["max_power_w"]], ["price_idr", m["price_idr"]],
        *([k, v] for k, v in plan.ratios.items()), ["ha_reserve_hosts", plan.ha_reserve_hosts],
        *([f"per_new_server_{r}", plan.per_new_server[r]] for r in RESOURCES),
        ["existing_hosts", ", ".join(f"{h['name']} ({h['model']})" for h in plan.existing_hosts) or "(none)"],
        *(["note", n] for n in plan.notes),
    ]
    nxt = _table(ws, ["assumption", "value"], items, [None, INTEGER])
    for row in ws.iter_rows(min_row=2, max_row=nxt - 1):
        if row[0].value == "price_idr":
            row[1].number_format = IDR
        elif row[0].value in ("storage_tb", "vcpu_ratio", "ram_ratio", "disk_ratio"):
            row[1].number_format = "0.0#"
        elif row[0].value == "baseline_year":
            row[1].number_format = YEAR
    agencies = [[a.code, a.name, a.vcpus, a.ram_gib, a.disk_gib, a.growth_percent, a.growth, a.growth_source]
                for a in plan.agencies]
    _table(ws, ["agency_code", "agency_name", "baseline_vcpus", "baseline_ram_gib", "baseline_disk_gib",
                "growth_percent", "growth", "growth_source"], agencies,
           [None, None, INTEGER, INTEGER, INTEGER, PERCENT, None, None], start_row=nxt + 1)
    _finish(ws)


def render(plan: Plan, fmt: str, table: str = "summary") -> bytes:
    """Return the plan in ``fmt`` (json, csv or xlsx)."""
    if fmt == "json":
        return to_json(plan)
    if fmt == "csv":
        return to_csv(plan, table)
    if fmt == "xlsx":
        return to_xlsx(plan)
    from dcops.exceptions import ValidationError

    raise ValidationError(f"format: choose one of {', '.join(FORMATS)}", field="format")
