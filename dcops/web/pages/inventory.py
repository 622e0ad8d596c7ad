"""Inventory lists (filters, search, paging) and create/edit forms for sites, racks, devices, agencies, VMs, prefixes.

Routes are generated per kind so that each declares exactly the roles of its kind: agency viewers
may list their own VMs, agencies and prefixes, never the equipment.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlmodel import Session

from dcops.crud import ListQuery
from dcops.database import SessionDep
from dcops.exceptions import DcopsError, ValidationError
from dcops.routing import ApiRouter
from dcops.web import forms
from dcops.web.auth import Page, Viewer
from dcops.web.catalog import FIELD_REF, KINDS, InventoryKind, choices, form_fields, page
from dcops.web.forms import FormState
from dcops.web.pages.bulk import apply_bulk, bulk_inputs
from dcops.web.render import redirect, render

router = ApiRouter()
PAGE_SIZE = 50
EQUIPMENT_REFS = frozenset({"host", "cluster", "rack", "site", "device_type", "room"})


def _filters(request: Request, kind: InventoryKind, session: Session, viewer: Viewer) -> tuple[
        dict[str, Any], list[dict[str, Any]]]:
    """Return the filters asked in the query string and the filter inputs to draw."""
    model = kind.create
    asked: dict[str, Any] = {}
    inputs = []
    for name in kind.filters:
        if viewer.actor.scoped_agency is not None and FIELD_REF.get(name) in EQUIPMENT_REFS:
            continue  # agency viewers see nothing of the equipment, not even its names
        raw = request.query_params.get(name, "")
        ref = FIELD_REF.get(name)
        if ref:
            opts = choices(session, viewer.actor, ref)
        else:
            f = forms.widget(model, name, name) if name in model.model_fields else None
            opts = f.choices if f else []
        if raw:
            if ref:
                try:
                    asked[name] = int(raw)
                except ValueError:
                    raise ValidationError(f"{name} must be a number", field=name) from None
            else:
                asked[name] = raw
        inputs.append({"name": name, "value": raw, "choices": opts})
    return asked, inputs


def _list_response(request: Request, session: Session, viewer: Viewer, kind: InventoryKind, *,
                   status_code: int = 200, bulk_errors: list[str] | None = None,
                   selected: list[int] | None = None) -> Response:
    """Render a list with the search, filters, order and page of the query string."""
    params = request.query_params
    q, ordering = params.get("q", ""), params.get("ordering") or None
    try:
        offset = max(int(params.get("offset") or 0), 0)
    except ValueError:
        raise ValidationError("offset must be a whole number", field="offset") from None
    asked, inputs = _filters(request, kind, session, viewer)
    query = ListQuery(limit=PAGE_SIZE, offset=offset, ordering=ordering, q=q.strip() or None, filters=asked)
    rows, total, names = page(session, viewer.actor, kind, query)
    columns = [c for c in kind.columns
               if viewer.actor.scoped_agency is None or c.ref not in EQUIPMENT_REFS]
    can_write = viewer.can(kind.write)
    return render(request, "inventory_list.html", session, status_code=status_code,
                  active="vms" if kind.key == "vms" else "inventory",
                  title=kind.title, kind=kind, columns=columns, kinds=KINDS, rows=rows, total=total, names=names,
                  q=q, offset=query.offset, limit=PAGE_SIZE, filter_inputs=inputs, can_write=can_write,
                  saved=params.get("saved") == "1", orderings=set(kind.resource.orderings), ordering=ordering or "",
                  bulk_fields=bulk_inputs(kind, session, viewer) if can_write else [],
                  bulk_errors=bulk_errors or [], selected=set(selected or ()))


def _list_view(kind: InventoryKind) -> Any:
    def list_page(request: Request, session: SessionDep, viewer: Viewer = Depends(Page(kind.read)),
                  q: str = "", offset: int = 0, ordering: str | None = None) -> Response:
        return _list_response(request, session, viewer, kind)

    list_page.__name__ = f"list_{kind.key}"
    return list_page


def _bulk_view(kind: InventoryKind) -> Any:
    async def bulk_edit(request: Request, session: SessionDep, viewer: Viewer = Depends(Page(kind.write))) -> Response:
        """Set the chosen fields on every selected row (one transaction); back to the same filtered list."""
        from dcops.web.flash import flash
        from dcops.web.i18n import translator
        from dcops.web.render import lang_of

        form = await request.form()
        t = translator(lang_of(request))
        outcome = await run_in_threadpool(apply_bulk, session, viewer, kind, form, t)
        if outcome.errors:
            return await run_in_threadpool(lambda: _list_response(
                request, session, viewer, kind, status_code=422, bulk_errors=outcome.errors,
                selected=outcome.selected))
        await run_in_threadpool(flash, request, session, f"{t('Rows changed')}: {outcome.changed}", "info")
        for warning in outcome.warnings[:5]:
            await run_in_threadpool(flash, request, session, warning, "warn")
        query = str(request.url.query)
        return redirect(f"/inventory/{kind.key}" + (f"?{query}" if query else ""), request)

    bulk_edit.__name__ = f"bulk_edit_{kind.key}"
    return bulk_edit


def _show_form(request: Request, session: Session, viewer: Viewer, kind: InventoryKind, state: FormState,
               obj_id: int | None, status_code: int = 200) -> Response:
    model = kind.update if obj_id else kind.create
    fields = form_fields(kind, model, session, viewer.actor)
    return render(request, "inventory_form.html", session, status_code=status_code, active="inventory",
                  title=kind.title, kind=kind, fields=fields, state=state, obj_id=obj_id)


def _save(session: Session, viewer: Viewer, kind: InventoryKind, form: Any, obj_id: int | None) -> tuple[
        FormState, int | None]:
    """Validate and write a submitted form with the API's model and service; return the state and the id."""
    model = kind.update if obj_id else kind.create
    fields = form_fields(kind, model, session, viewer.actor)
    raw, data = forms.form_to_data(model, fields, form, shape=kind.create)
    state = FormState(values=raw)
    body = forms.validate(model, data, state)
    if body is None:
        return state, None
    try:
        if obj_id is None:
            values = body.model_dump()
            options = {"allow_power_overcommit": values.get("allow_power_overcommit", False)}
            obj, _ = kind.resource.create(session, actor=viewer.actor, data=values, options=options)
        else:
            values = body.model_dump(exclude_unset=True)
            options = {"allow_power_overcommit": values.pop("allow_power_overcommit", False)}
            obj, _ = kind.resource.update(session, actor=viewer.actor, id=obj_id, data=values, options=options)
    except DcopsError as exc:
        session.rollback()
        forms.domain_error(exc, state)
        return state, None
    return state, obj.id


def _new_view(kind: InventoryKind) -> tuple[Any, Any]:
    def new_form(request: Request, session: SessionDep, viewer: Viewer = Depends(Page(kind.write))) -> Response:
        defaults = {name: forms.display(info.default) for name, info in kind.create.model_fields.items()
                    if info.default is not None and not info.is_required()}
        return _show_form(request, session, viewer, kind, FormState(values=defaults), None)

    async def create(request: Request, session: SessionDep, viewer: Viewer = Depends(Page(kind.write))) -> Response:
        form = await request.form()
        state, new_id = await run_in_threadpool(_save, session, viewer, kind, form, None)
        if new_id is None:
            return await run_in_threadpool(_show_form, request, session, viewer, kind, state, None, 422)
        return redirect(f"/inventory/{kind.key}?saved=1", request)

    new_form.__name__, create.__name__ = f"new_{kind.key}", f"create_{kind.key}"
    return new_form, create


def _edit_view(kind: InventoryKind) -> tuple[Any, Any]:
    def edit_form(id: int, request: Request, session: SessionDep,
                  viewer: Viewer = Depends(Page(kind.write))) -> Response:
        obj = kind.resource.get(session, actor=viewer.actor, id=id)
        values = {name: forms.display(getattr(obj, name, None)) for name in kind.form_fields}
        return _show_form(request, session, viewer, kind, FormState(values=values), id)

    async def update(id: int, request: Request, session: SessionDep,
                     viewer: Viewer = Depends(Page(kind.write))) -> Response:
        form = await request.form()
        await run_in_threadpool(kind.resource.get, session, actor=viewer.actor, id=id)
        state, saved = await run_in_threadpool(_save, session, viewer, kind, form, id)
        if saved is None:
            return await run_in_threadpool(_show_form, request, session, viewer, kind, state, id, 422)
        return redirect(f"/inventory/{kind.key}?saved=1", request)

    edit_form.__name__, update.__name__ = f"edit_{kind.key}", f"update_{kind.key}"
    return edit_form, update


EXPORT_MAX = 20_000


def _export_view(kind: InventoryKind) -> Any:
    def export_page(request: Request, session: SessionDep, viewer: Viewer = Depends(Page(kind.read)),
                    q: str = "", ordering: str | None = None, format: str = "csv") -> Response:
        """Download what the list shows (same search, filters and order), headers in the visitor's language."""
        from dcops.web.i18n import translator
        from dcops.web.render import lang_of

        t = translator(lang_of(request))
        asked, _ = _filters(request, kind, session, viewer)
        columns = [c for c in kind.columns if viewer.actor.scoped_agency is None or c.ref not in EQUIPMENT_REFS]
        table: list[list[Any]] = [[t(c.label) for c in columns]]
        offset = 0
        while offset < EXPORT_MAX:
            query = ListQuery(limit=1000, offset=offset, ordering=ordering or None, q=q.strip() or None,
                              filters=asked)
            rows, total, names = page(session, viewer.actor, kind, query)
            for r in rows:
                line = []
                for c in columns:
                    v = getattr(r, c.field)
                    v = names.get(c.field, {}).get(v, "") if c.ref and v is not None else getattr(v, "value", v)
                    line.append(t(v) if isinstance(v, str) and c.field in ("status", "state", "role") else v)
                table.append(line)
            offset += 1000
            if offset >= total:
                break
        return _download(table, kind.key, "xlsx" if format == "xlsx" else "csv")

    export_page.__name__ = f"export_{kind.key}"
    return export_page


def _download(table: list[list[Any]], name: str, fmt: str) -> Response:
    import csv
    import io

    if fmt == "xlsx":
        from openpyxl import Workbook
        from openpyxl.styles import Font

        wb = Workbook()
        ws = wb.active
        for row in table:
            ws.append(["" if v is None else v for v in row])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        out = io.BytesIO()
        wb.save(out)
        body, media = out.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows([["" if v is None else v for v in row] for row in table])
        body, media = text.getvalue().encode(), "text/csv; charset=utf-8"
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


for _kind in KINDS.values():
    base = f"/inventory/{_kind.key}"
    router.add_api_route(base, _list_view(_kind), methods=["GET"])
    router.add_api_route(f"{base}/export", _export_view(_kind), methods=["GET"])
    router.add_api_route(f"{base}/bulk", _bulk_view(_kind), methods=["POST"])
    _new, _create = _new_view(_kind)
    router.add_api_route(f"{base}/new", _new, methods=["GET"])
    router.add_api_route(f"{base}/new", _create, methods=["POST"])
    _edit, _update = _edit_view(_kind)
    router.add_api_route(f"{base}/{{id}}/edit", _edit, methods=["GET"])
    router.add_api_route(f"{base}/{{id}}/edit", _update, methods=["POST"])
