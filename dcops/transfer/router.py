"""``/api/v1/import/{kind}`` and ``/api/v1/export/{kind}``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlmodel import Session

from dcops.auth.actor import Actor
from dcops.auth.choices import ADMIN_OPERATOR, STAFF
from dcops.auth.deps import Allow
from dcops.database import get_session
from dcops.exceptions import ValidationError
from dcops.transfer.formats import format_for, read_rows, write_rows
from dcops.transfer.service import ImportRefused, export_records, import_rows, kind_named

router = APIRouter(tags=["import/export"])

MAX_UPLOAD = 50 * 1024 * 1024
MEDIA = {"csv": "text/csv; charset=utf-8", "yaml": "application/yaml; charset=utf-8"}


async def _upload(request: Request) -> tuple[str, str | None]:
    """Return the uploaded text and its file name: a multipart ``file`` field or the raw body."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ValidationError("send the file in a multipart field named 'file'", field="file")
        raw, name = await upload.read(), upload.filename
    else:
        raw, name = await request.body(), None
    if len(raw) > MAX_UPLOAD:
        raise ValidationError(f"the file is larger than {MAX_UPLOAD // 2**20} MiB; split it")
    try:
        return raw.decode("utf-8"), name
    except UnicodeDecodeError:
        raise ValidationError("the file is not UTF-8 text") from None


def _format_from(request: Request, name: str | None, fmt: str | None) -> str:
    if fmt or name:
        return format_for(name, fmt)
    ctype = request.headers.get("content-type", "")
    return "yaml" if "yaml" in ctype else "csv"


@router.post("/import/{kind}", summary="Import racks, devices, agencies or VMs (all or nothing)")
async def import_file(
    kind: str,
    request: Request,
    dry_run: bool = Query(False, description="check every row, write nothing"),
    format: str | None = Query(None, description="csv or yaml (default: from the file name or content type)"),
    allow_power_overcommit: bool = Query(False),
    actor: Actor = Depends(Allow(ADMIN_OPERATOR)),
    session: Session = Depends(get_session),
) -> Any:
    """Send CSV or YAML as the body (or a multipart field ``file``). Refused imports answer 422 with
    ``errors``: every bad row with its line number; nothing is written."""
    spec = kind_named(kind)
    text, name = await _upload(request)
    rows = read_rows(text, _format_from(request, name, format))
    try:
        result = import_rows(session, actor=actor, kind=spec, rows=rows, dry_run=dry_run,
                             options={"allow_power_overcommit": allow_power_overcommit})
    except ImportRefused as exc:
        return JSONResponse(status_code=422, content={
            "detail": exc.message, "errors": [{"line": e.line, "message": e.message} for e in exc.result.errors]})
    return {"kind": spec.name, "dry_run": dry_run, "created": 0 if dry_run else result.created,
            "valid": result.created, "warnings": result.warnings}


@router.get("/export/{kind}", summary="Export racks, devices, agencies or VMs as CSV or YAML",
            response_class=PlainTextResponse)
def export_file(
    kind: str,
    format: str = Query("csv", description="csv or yaml"),
    actor: Actor = Depends(Allow(STAFF)),
    session: Session = Depends(get_session),
) -> PlainTextResponse:
    """The same rows ``/import`` takes back."""
    spec = kind_named(kind)
    fmt = format_for(None, format)
    text = write_rows(export_records(session, actor=actor, kind=spec), spec.columns, fmt, kind=spec.name)
    return PlainTextResponse(text, media_type=MEDIA[fmt],
                             headers={"Content-Disposition": f'attachment; filename="{spec.name}.{fmt}"'})
