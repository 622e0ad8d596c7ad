"""Column headers of downloads (CSV, XLSX) in the visitor's language, not snake_case.

The exports of the API and the CLI keep their machine names (``fiscal_year``, ``cost_idr``: scripts
read them back); the console's downloads are for people, so their header row is relabelled here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

# machine name -> English header (the Indonesian comes from the catalogue, like every console text)
LABELS: dict[str, str] = {
    "fiscal_year": "Fiscal year", "vcpus_demand": "vCPU demand", "ram_gib_demand": "RAM demand (GiB)",
    "disk_gib_demand": "Disk demand (GiB)", "binding_resource": "Binding resource", "existing_hosts": "Existing hosts",
    "new_servers_total": "New servers in all", "hosts_total": "Hosts in all", "servers_to_buy": "Servers to buy",
    "cost_idr": "Cost (IDR)", "rack_units_needed": "Rack units needed", "rack_units_total": "Rack units in all",
    "power_kw_needed": "Power needed (kW)", "power_kw_total": "Power in all (kW)", "rack_units_free": "Rack units free",
    "power_kw_free": "Power free (kW)", "space_holds": "Space suffices", "power_holds": "Power suffices",
    "room_holds": "Room suffices", "rack_units_short": "Rack units short", "power_kw_short": "Power short (kW)",
    "servers_unplaceable": "Servers that do not fit", "agency_code": "Agency code", "agency_name": "Agency name",
    "vcpus": "vCPU", "ram_gib": "RAM (GiB)", "disk_gib": "Disk (GiB)", "growth": "Growth", "resource": "Resource",
    "unit": "Unit", "demand": "Demand", "per_new_server": "Per new server", "usable_capacity": "Usable capacity",
    "utilisation_percent": "Utilisation (%)", "hosts_needed": "Hosts needed", "item": "Item", "value": "Value",
}


def label(name: str, t: Callable[[str], str]) -> str:
    """The header of column ``name`` in the language of translator ``t``."""
    return t(LABELS[name]) if name in LABELS else name


def relabel_csv(content: bytes, t: Callable[[str], str]) -> bytes:
    """The CSV with its header row in the visitor's language."""
    text = content.decode()
    first, _, rest = text.partition("\n")
    header = next(csv.reader([first]))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([label(h, t) for h in header])
    return (out.getvalue() + rest).encode()


def relabel_xlsx(content: bytes, t: Callable[[str], str]) -> bytes:
    """The workbook with every header cell (bold, holding a machine name) in the visitor's language."""
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(content))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value in LABELS and cell.font and cell.font.b:
                    cell.value = label(cell.value, t)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
