"""CSV (or YAML) import through the same all-or-nothing service as the API, with a per-row error report."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlmodel import Session

from dcops.auth.choices import ADMIN_OPERATOR
from dcops.database import SessionDep
from dcops.exceptions import DcopsError
from dcops.routing import ApiRouter
from dcops.transfer.formats import format_for, read_rows
from dcops.transfer.service import KINDS, ImportRefused, ImportResult, import_rows, kind_named
from dcops.web.auth import Page, Viewer
from dcops.web.render import render

router = ApiRouter()
MAX_UPLOAD = 50 * 1024 * 1024


@router.get("/import")
def import_form(request: Request, session: SessionDep, viewer: Viewer = Depends(Page(ADMIN_OPERATOR))) -> Response:
    """Show the import form."""
    return render(request, "import.html", session, active="import", title="Import", kinds=list(KINDS), kind="devices",
                  result=None, errors=[], message=None, dry_run=False)


def _run(session: Session, viewer: Viewer, kind: str, text: str, filename: str, dry_run: bool,
         overcommit: bool) -> tuple[ImportResult | None, list[tuple[int, str]], str | None]:
    try:
        spec = kind_named(kind)
        rows = read_rows(text, format_for(filename or "upload.csv"))
        result = import_rows(session, actor=viewer.actor, kind=spec, rows=rows, dry_run=dry_run,
                             options={"allow_power_overcommit": overcommit})
        return result, [], None
    except ImportRefused as exc:
        return exc.result, [(e.line, e.message) for e in exc.result.errors], exc.message
    except DcopsError as exc:
        session.rollback()
        return None, [], exc.message


@router.post("/import")
async def import_file(request: Request, session: SessionDep,
                      viewer: Viewer = Depends(Page(ADMIN_OPERATOR))) -> Response:
    """Import the uploaded file: everything or nothing; every bad row is listed with its line."""
    form = await request.form()
    kind = str(form.get("kind", "devices"))
    dry_run = form.get("dry_run") in ("on", "1", "true")
    overcommit = form.get("allow_power_overcommit") in ("on", "1", "true")
    upload = form.get("file")
    result: ImportResult | None = None
    errors: list[tuple[int, str]] = []
    message: str | None = "Choose a file."
    if upload is not None and not isinstance(upload, str) and upload.filename:
        raw = await upload.read(MAX_UPLOAD + 1)
        if len(raw) > MAX_UPLOAD:
            message = f"the file is larger than {MAX_UPLOAD // 2**20} MiB; split it"
        else:
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                text, message = "", "the file is not UTF-8 text"
            if text:
                result, errors, message = await run_in_threadpool(_run, session, viewer, kind, text, upload.filename,
                                                                  dry_run, overcommit)
    status = 422 if errors or (message and result is None) else 200
    return await run_in_threadpool(lambda: render(
        request, "import.html", session, status_code=status, active="import", title="Import", kinds=list(KINDS),
        kind=kind, result=result, errors=errors, message=message, dry_run=dry_run))
