"""Validation at the edge, for every route: values no database could store never reach one.

:func:`check_request` runs before every handler (an app-wide dependency). It refuses with 422, naming the
parameter or the JSON path:

- integers outside the 64-bit range the databases hold (``?agency_id=2**70``, ``{"vcpus": 10**20}``);
- NUL characters (``?q=%00``), which PostgreSQL cannot store in text;
- JSON bodies nested deeper than :data:`MAX_DEPTH` (parsing them would exhaust the stack).

Narrower columns (32-bit ``INTEGER``) are checked against their own range where objects are written
(:meth:`dcops.crud.Resource.check_ranges`), so the message names the field.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from fastapi import Request

from dcops.exceptions import ValidationError

INT64 = 2**63 - 1
INT32 = 2**31 - 1
MAX_DEPTH = 32
_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OTHER = bytes(b for b in range(256) if b not in b"[]{}")


def _check_scalar(where: str, value: str) -> None:
    if "\x00" in value:
        raise ValidationError(f"{where}: must not contain NUL characters", field=where)
    if _INTEGER.match(value) and len(value.strip().lstrip("+-")) >= 19 and abs(int(value)) > INT64:
        raise ValidationError(f"{where}: {value.strip()[:30]} is out of range (at most {INT64})", field=where)


def json_depth(body: bytes) -> int:
    """Return how deeply ``body`` (JSON text) nests arrays and objects, without parsing it."""
    brackets = _STRINGS.sub(b'""', body).translate(None, _OTHER)
    if not brackets:
        return 0
    return max(accumulate(1 if b in b"[{" else -1 for b in brackets))


def _walk(value: Any, where: str) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > INT64:
            raise ValidationError(f"{where}: {str(value)[:30]} is out of range (at most {INT64})", field=where)
    elif isinstance(value, str):
        if "\x00" in value:
            raise ValidationError(f"{where}: must not contain NUL characters", field=where)
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in str(key):
                raise ValidationError(f"{where or 'body'}: a key contains a NUL character", field=where or "body")
            _walk(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, f"{where}[{i}]" if where else f"[{i}]")


async def check_request(request: Request) -> None:
    """Refuse out-of-range integers, NUL characters and over-deep JSON in the query, path and JSON body."""
    scope = request.scope  # the scope, not request.url: no URL object is built for the check
    if b"%00" in (scope.get("raw_path") or b"") or "\x00" in scope.get("path", ""):
        raise ValidationError("path: must not contain NUL characters", field="path")
    if scope.get("query_string"):
        for name, value in request.query_params.multi_items():
            _check_scalar(name, value)
    for name, value in request.path_params.items():
        _check_scalar(name, str(value))
    if request.method in ("POST", "PUT", "PATCH") and "json" in request.headers.get("content-type", ""):
        body = await request.body()
        if not body:
            return
        if json_depth(body) > MAX_DEPTH:
            raise ValidationError(f"body: nested deeper than {MAX_DEPTH} levels", field="body")
        try:
            data = json.loads(body)
        except ValueError:
            return  # FastAPI answers 422 for malformed JSON itself
        _walk(data, "")
