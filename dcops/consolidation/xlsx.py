"""Workbooks of the board and the showback (for the agencies' RKA), headers in the user's language.

Rupiah cells carry ``"Rp" #,##0``. Text that a spreadsheet would read as a formula (starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return) is written as text, never as a formula.
"""

from __future__ import annotations

import io
from typing import Any

from fastapi.responses import Response

from dcops.consolidation import board as board_mod
from dcops.consolidation import showback as sb
from dcops.consolidation.i18n import ID

IDR = '"Rp" #,##0'
INTEGER = "#,##0"
DECIMAL = "#,##0.00"
MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RISKY = ("=", "+", "-", "@", "\t", "\r")


def _t(lang: str, text: str) -> str:
    return ID.get(text, text) if lang == "id" else text


def put(ws: Any, row: int, col: int, value: Any, number_format: str | None = None) -> Any:
    """Write one cell; risky text stays text (data type string, quote prefix)."""
    cell = ws.cell(row=row, column=col)
    if isinstance(value, str):
        cell.value = value
        if value.startswith(RISKY):
            cell.data_type = "s"
            cell.quotePrefix = True
    else:
        cell.value = value
    if number_format and not isinstance(value, str):
        cell.number_format = number_format
    return cell


def _table(ws: Any, lang: str, headers: list[str], rows: list[list[Any]], formats: list[str | None]) -> None:
    from openpyxl.styles import Font

    for col, header in enumerate(headers, start=1):
        put(ws, 1, col, _t(lang, header)).font = Font(bold=True)
    for r, row in enumerate(rows, start=2):
        for col, (value, fmt) in enumerate(zip(row, formats, strict=True), start=1):
            put(ws, r, col, value, fmt)
    for col, header in enumerate(headers, start=1):
        width = max([len(_t(lang, header))] + [len(str(row[col - 1])) for row in rows[:200]])
        ws.column_dimensions[ws.cell(row=1, column=col).column_letter].width = min(60, width + 2)
    ws.freeze_panes = "A2"


def _bytes(wb: Any) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def board_workbook(b: board_mod.Board, lang: str = "id") -> bytes:
    """Return the board: an Agencies sheet (with a Total row) and a Waves sheet."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = _t(lang, "Agencies")[:31]
    headers = ["Code", "Agency", "State", "Applications", "In the data center", "Outside", "Planned", "Migrating",
               "Agency servers running", "% consolidated"]
    rows = [[a.code, a.name, _t(lang, a.state), a.applications, a.in_dc, a.outside, a.planned, a.migrating,
             a.servers_running, a.percent] for a in b.agencies]
    t = b.totals
    rows.append(["", _t(lang, "Total"), "", t["applications"], t["in_dc"], t["outside"], t["planned"],
                 t["migrating"], t["servers_running"], t["percent"]])
    _table(ws, lang, headers, rows, [None, None, None] + [INTEGER] * 6 + [DECIMAL])
    ws2 = wb.create_sheet(_t(lang, "Waves")[:31])
    _table(ws2, lang, ["Wave", "Fiscal year", "Starts", "Ends", "Applications", "Done", "vCPU", "RAM (GiB)",
                       "Disk (GiB)", "VMs", "Agencies"],
           [[w.name, w.fiscal_year, w.starts_on.isoformat() if w.starts_on else "",
             w.ends_on.isoformat() if w.ends_on else "", w.applications, w.done, w.vcpus, w.ram_gib, w.disk_gib,
             w.vms, ", ".join(w.agencies)] for w in b.waves],
           ["0", "0", None, None, INTEGER, INTEGER, INTEGER, INTEGER, INTEGER, INTEGER, None])
    return _bytes(wb)


def showback_workbook(s: sb.Showback, lang: str = "id") -> bytes:
    """Return the showback: per agency (with Unallocated and Total rows), per application, and the assumptions."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = _t(lang, "Cost per agency")[:31]
    rows: list[list[Any]] = [[a.code, a.name, round(a.vcpus, 2), round(a.ram_gib, 2), round(a.disk_gib, 2),
                              round(a.cost_idr), round(a.own_servers_idr), round(a.own_equivalent_idr),
                              round(a.saving_idr)] for a in s.agencies]
    if s.total_idr:
        rows.append(["", _t(lang, "Unallocated (idle capacity)"), "", "", "", round(s.unallocated_idr), "", "", ""])
        rows.append(["", _t(lang, "Total"), "", "", "", round(s.total_idr), "", "", ""])
    _table(ws, lang, ["Code", "Agency", "vCPU", "RAM (GiB)", "Disk (GiB)", "Data center cost per year",
                      "Own servers still running per year", "Same applications on own servers per year",
                      "Saving per year"], rows, [None, None, DECIMAL, DECIMAL, DECIMAL, IDR, IDR, IDR, IDR])
    ws2 = wb.create_sheet(_t(lang, "Per application")[:31])
    _table(ws2, lang, ["Code", "Application", "Status", "Basis", "Data center cost per year",
                       "Own server per year", "Saving per year"],
           [[a.code, str(x["name"]), _t(lang, str(x["status"])), _t(lang, str(x["basis"])), x["dc_cost_idr"],
             x["own_server_idr"], x["saving_idr"]] for a in s.agencies for x in a.applications],
           [None, None, None, None, IDR, IDR, IDR])
    ws3 = wb.create_sheet(_t(lang, "Assumptions")[:31])
    a = s.assumptions
    lines: list[list[Any]] = [
        [_t(lang, "Hardware life (years)"), a.amortisation_years, "0.0"],
        [_t(lang, "Electricity tariff (Rp/kWh)"), a.tariff_idr_per_kwh, '"Rp" #,##0.00'],
        [_t(lang, "PUE (data center)"), a.pue, "0.00"],
        [_t(lang, "Load factor (average draw / nameplate)"), a.load_factor, "0.00"],
        [_t(lang, "Overhead (%)"), a.overhead_percent, "0.0"],
        [_t(lang, "Compute cost shared by vCPU (rest by RAM)"), a.cpu_weight, "0.00"],
        [_t(lang, "Typical agency server price"), a.own_server_price_idr, IDR],
        [_t(lang, "Typical agency server power (W)"), a.own_server_power_w, INTEGER],
        [_t(lang, "PUE (agency server room)"), a.own_pue, "0.00"],
        [_t(lang, "Agency's own upkeep (%)"), a.own_overhead_percent, "0.0"],
    ]
    for pool, amount in s.pools.items():
        lines.append([_t(lang, f"Pool {pool} per year"), round(amount), IDR])
    _table(ws3, lang, ["Assumption", "Value"], [row[:2] for row in lines], [None, None])
    for r, row in enumerate(lines, start=2):
        ws3.cell(row=r, column=2).number_format = row[2]
    if s.devices:
        start = len(lines) + 3
        for col, header in enumerate(["Device", "Role", "Pool", "Watts", "Power source", "Amortisation per year",
                                      "Energy per year"], start=1):
            put(ws3, start, col, _t(lang, header))
        for r, d in enumerate(s.devices, start=start + 1):
            for col, (value, fmt) in enumerate([(d.name, None), (_t(lang, d.role), None), (_t(lang, d.pool), None),
                                                (round(d.watts, 1), DECIMAL), (_t(lang, d.power_source), None),
                                                (round(d.amortisation_idr), IDR), (round(d.energy_idr), IDR)],
                                               start=1):
                put(ws3, r, col, value, fmt)
    return _bytes(wb)


def response(content: bytes, stem: str) -> Response:
    """Return ``content`` as an XLSX download."""
    from datetime import date

    return Response(content, media_type=MEDIA,
                    headers={"Content-Disposition": f'attachment; filename="{stem}-{date.today():%Y%m%d}.xlsx"'})
