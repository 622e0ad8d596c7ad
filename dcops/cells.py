"""Spreadsheet cells that cannot run code (CSV and XLSX exports).

A spreadsheet treats a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a
formula, so an agency named ``=HYPERLINK(...)`` would become a live link in the budget workbook. Text cells
with such a start are written as text: in CSV with a leading apostrophe (which spreadsheets hide and which
:func:`unescape` removes again on import), in XLSX as a string cell. Numbers stay numbers, negative ones
included, and so does text that is just a number (``-12.5``).
"""

from __future__ import annotations

import re
from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def is_dangerous(value: Any) -> bool:
    """Tell whether ``value`` is text a spreadsheet would evaluate."""
    return isinstance(value, str) and value.startswith(TRIGGERS) and not _NUMBER.match(value)


def csv_cell(value: Any) -> Any:
    """Return ``value`` safe for a CSV cell (text that would be a formula gets a leading apostrophe)."""
    return "'" + value if is_dangerous(value) else value


def unescape(value: str) -> str:
    """Undo :func:`csv_cell` on a value read back from a CSV file."""
    return value[1:] if value.startswith("'") and is_dangerous(value[1:]) else value


def xlsx_text_only(workbook: Any) -> None:
    """Turn every formula cell of an openpyxl ``workbook`` into a plain string cell (no code runs)."""
    for ws in workbook.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f" or is_dangerous(cell.value):
                    cell.data_type = "s"
                    cell.quotePrefix = True
