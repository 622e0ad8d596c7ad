"""``/api/v1/import/{kind}`` and ``/api/v1/export/{kind}``."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlmodel import Session

from dcops.auth.actor import Actor
from dcops.auth.choices import ADMIN_OPERATOR, STAFF
from dcops.auth.deps import Allow
from dcops.config import get_settings
from dcops.database import SessionDep
from dcops.exceptions import PayloadTooLargeError, ValidationError
from dcops.routing import ApiRouter
from dcops.transfer.formats import format_for, read_rows, write_rows
from dcops.transfer.service import ImportRefused, export_records, import_rows, kind_named

router = ApiRouter(tags=["import/export"])

MEDIA = {"csv": "text/csv; charset=utf-8", "yaml": "application/yaml; charset=utf-8"}


def max_upload() -> int:
    """The largest upload accepted, in bytes (setting ``max_upload_mib``)."""
    return get_settings().max_upload_mib * 2**20


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"the file is larger than the limit of {limit // 2**20} MiB "
                                "(setting DCOPS_MAX_UPLOAD_MIB); split it", field="file")


async def _read_body(request: Request, limit: int) -> bytes:
    """Read the request body, refusing (413) as soon as it passes ``limit`` bytes, without holding more."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + 64 * 1024:  # multipart framing adds a little
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit + 64 * 1024:
            raise _too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # noqa: SLF001 - lets request.form() parse what was already read
    return body


async def _upload(request: Request) -> tuple[bytes, str | None]:
    """Return the uploaded bytes and file name: a multipart ``file`` field or the raw body."""
    limit = max_upload()
    raw = await _read_body(request, limit)
    name = None
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ValidationError("send the file in a multipart field named 'file'", field="file")
        raw, name = await upload.read(), upload.filename
    if len(raw) > limit:
        raise _too_large(limit)
    return raw, name


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError("the file is not UTF-8 text", field="file") from None


def _format_from(request: Request, name: str | None, fmt: str | None) -> str:
    if fmt or name:
        return format_for(name, fmt)
    ctype = request.headers.get("content-type", "")
    return "yaml" if "yaml" in ctype else "csv"


def _import(session: Session, actor: Actor, kind: str, raw: bytes, fmt: str, dry_run: bool,
            overcommit: bool) -> Any:
    """Decode, parse and import (runs in a worker thread: it is long, synchronous work)."""
    spec = kind_named(kind)
    rows = read_rows(_decode(raw), fmt)
    try:
        result = import_rows(session, actor=actor, kind=spec, rows=rows, dry_run=dry_run,
                             options={"allow_power_overcommit": overcommit})
    except ImportRefused as exc:
        return JSONResponse(status_code=422, content={
            "detail": exc.message, "errors": [{"line": e.line, "message": e.message} for e in exc.result.errors]})
    return {"kind": spec.name, "dry_run": dry_run, "created": 0 if dry_run else result.created,
            "valid": result.created, "warnings": result.warnings}


@router.post("/import/{kind}", summary="Import racks, devices, agencies or VMs (all or nothing)")
async def import_file(
    kind: str,
    request: Request,
    session: SessionDep,
    dry_run: bool = Query(False, description="check every row, write nothing"),
    format: str | None = Query(None, description="csv or yaml (default: from the file name or content type)"),
    allow_power_overcommit: bool = Query(False),
    actor: Actor = Depends(Allow(ADMIN_OPERATOR)),
) -> Any:
    """Send CSV or YAML as the body (or a multipart field ``file``). Refused imports answer 422 with
    ``errors``: every bad row with its line number; nothing is written. Files above the upload limit
    answer 413. The parsing and the import run in a worker thread, so the server keeps answering."""
    kind_named(kind)
    raw, name = await _upload(request)
    fmt = _format_from(request, name, format)
    return await run_in_threadpool(_import, session, actor, kind, raw, fmt, dry_run, allow_power_overcommit)


@router.get("/export/{kind}", summary="Export racks, devices, agencies or VMs as CSV or YAML",
            response_class=PlainTextResponse)
def export_file(
    kind: str,
    session: SessionDep,
    format: str = Query("csv", description="csv or yaml"),
    actor: Actor = Depends(Allow(STAFF)),
) -> PlainTextResponse:
    """The same rows ``/import`` takes back."""
    spec = kind_named(kind)
    fmt = format_for(None, format)
    text = write_rows(export_records(session, actor=actor, kind=spec), spec.columns, fmt, kind=spec.name)
    return PlainTextResponse(text, media_type=MEDIA[fmt],
                             headers={"Content-Disposition": f'attachment; filename="{spec.name}.{fmt}"'})
