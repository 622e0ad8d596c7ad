"""Reading and writing rows as CSV or YAML, keeping the line each row came from."""

from __future__ import annotations

import csv
import io
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import yaml

from dcops.cells import csv_cell, unescape
from dcops.exceptions import ValidationError

FORMATS = ("csv", "yaml")


@dataclass(frozen=True)
class Row:
    """One record of an import file and the line it starts on (1-based; the CSV header is line 1)."""

    line: int
    data: dict[str, Any]


def format_for(filename: str | None, explicit: str | None = None) -> str:
    """Choose the format from ``explicit`` or the file's suffix."""
    if explicit:
        fmt = explicit.lower()
    elif filename and filename.lower().endswith((".yaml", ".yml")):
        fmt = "yaml"
    elif filename and filename.lower().endswith(".csv"):
        fmt = "csv"
    else:
        raise ValidationError(f"cannot tell the format of '{filename or '-'}'; name it .csv or .yaml, or give --format")
    if fmt == "yml":
        fmt = "yaml"
    if fmt not in FORMATS:
        raise ValidationError(f"unknown format '{fmt}'; choose csv or yaml", field="format")
    return fmt


def read_rows(text: str, fmt: str) -> list[Row]:
    """Parse ``text`` into rows; a file that cannot be parsed at all raises ValidationError."""
    return _read_csv(text) if fmt == "csv" else _read_yaml(text)


def _read_csv(text: str) -> list[Row]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError("the CSV file is empty; its first line must name the columns") from None
    except csv.Error as exc:
        raise ValidationError(f"line 1: {exc}") from None
    columns = [h.strip().lower() for h in header]
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise ValidationError(f"line 1: column {', '.join(dupes)} appears twice")
    rows: list[Row] = []
    line = reader.line_num
    try:
        for values in reader:
            start, line = line + 1, reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) > len(columns):
                rows.append(Row(start, {"__error__": f"{len(values)} values but the header names {len(columns)} "
                                                     "columns"}))
                continue
            data = {c: (unescape(v.strip()) if v.strip() != "" else None)
                    for c, v in zip(columns, values, strict=False)}
            rows.append(Row(start, data))
    except csv.Error as exc:
        raise ValidationError(f"line {reader.line_num}: {exc}") from None
    return rows


MAX_DEPTH = 20


class _LineLoader(yaml.SafeLoader):
    """A safe loader that notes the line of every mapping in a ``__line__`` key and refuses deep nesting.

    Composing is recursive, so a file nested thousands of levels deep would exhaust the stack; the depth
    is checked as nodes are composed, and the file is refused (422) with the line where it went too deep.
    """

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise ValidationError(f"line {mark.line + 1}: nested deeper than {MAX_DEPTH} levels; "
                                      "an import record is a flat mapping of field: value")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Hashable, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(text: str) -> list[Row]:
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ValidationError(f"{where}not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    if doc is None:
        return []
    if isinstance(doc, dict):  # also accept {kind: [...]} as written by export
        doc.pop("__line__", None)
        lists = [v for v in doc.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise ValidationError("a YAML import is a list of records (or one key holding that list)")
        doc = lists[0]
    if not isinstance(doc, list):
        raise ValidationError("a YAML import is a list of records")
    rows = []
    for item in doc:
        if not isinstance(item, dict):
            raise ValidationError(f"every record must be a mapping of field: value, found {type(item).__name__}")
        line = item.pop("__line__")
        rows.append(Row(line, {str(k).lower(): _strip_lines(v) for k, v in item.items()}))
    return rows


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        value.pop("__line__", None)
        return {k: _strip_lines(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def write_rows(records: list[dict[str, Any]], columns: list[str], fmt: str, *, kind: str) -> str:
    """Render records as CSV (columns in this order) or YAML (a list under ``kind``)."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for rec in records:
            writer.writerow({c: "" if rec.get(c) is None else csv_cell(rec[c]) for c in columns})
        return out.getvalue()
    ordered = [{c: rec.get(c) for c in columns if rec.get(c) is not None} for rec in records]
    return yaml.safe_dump({kind: ordered}, sort_keys=False, allow_unicode=True)
