"""Bulk edit of an inventory list: set one or more fields (status, rack, owner agency...) on every selected row.

The values are validated by the kind's API Update model and written through the same service as the API
(``Resource.update``), with the API's role rule and agency scope, in ONE transaction: either every selected
object changes, or none does and the page names the object and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from dcops.exceptions import DcopsError, ValidationError
from dcops.web import forms
from dcops.web.auth import Viewer
from dcops.web.catalog import FIELD_REF, LABELS, InventoryKind, choices
from dcops.web.forms import FormField, FormState

CLEAR = "__none__"  # the value of "set to nothing" (a field left at "" stays unchanged)
MAX_ROWS = 500


@dataclass
class BulkOutcome:
    """What a bulk edit did: how many objects changed, or why nothing did."""

    changed: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    selected: list[int] = field(default_factory=list)


def bulk_inputs(kind: InventoryKind, session: Session, viewer: Viewer) -> list[FormField]:
    """The inputs of the bulk-edit bar: one select per editable field, with its choices."""
    out = []
    for name in kind.bulk:
        ref = FIELD_REF.get(name)
        if ref and viewer.actor.scoped_agency is not None and ref != "agency":
            continue
        opts = choices(session, viewer.actor, ref) if ref else None
        f = forms.widget(kind.update, name, LABELS.get(name, name), opts)
        column = kind.resource.table.columns.get(name)
        f.choices = list(f.choices) + ([(CLEAR, "—")] if column is not None and column.nullable else [])
        out.append(f)
    return out


def _ids(form: Any) -> list[int]:
    ids = []
    for raw in form.getlist("ids"):
        try:
            ids.append(int(raw))
        except (TypeError, ValueError):
            raise ValidationError(f"'{raw}' is not an object id", field="ids") from None
    return list(dict.fromkeys(ids))


def apply_bulk(session: Session, viewer: Viewer, kind: InventoryKind, form: Any, t: Any) -> BulkOutcome:
    """Validate the chosen values and apply them to every selected object, all or nothing."""
    from dcops.web.messages import say

    outcome = BulkOutcome()
    try:
        outcome.selected = _ids(form)
    except ValidationError as exc:
        outcome.errors.append(say(exc.message, t))
        return outcome
    data: dict[str, Any] = {}
    for name in kind.bulk:
        raw = str(form.get(f"set_{name}", "")).strip()
        if raw:
            data[name] = None if raw == CLEAR else raw
            column = kind.resource.table.columns.get(name)
            if raw == CLEAR and column is not None and not column.nullable:
                outcome.errors.append(say(f"{t(LABELS.get(name, name))} cannot be null", t))
    if not outcome.selected:
        outcome.errors.append(t("Choose at least one row."))
    if not data:
        outcome.errors.append(t("Choose a value to set."))
    if len(outcome.selected) > MAX_ROWS:
        outcome.errors.append(f"{t('At most this many rows at once')}: {MAX_ROWS}")
    if outcome.errors:
        return outcome
    state = FormState(values={name: str(v or "") for name, v in data.items()})
    body = forms.validate(kind.update, data, state)
    if body is None:
        outcome.errors += [say(msg, t, LABELS.get(name, name)) for name, msg in state.errors.items()]
        outcome.errors += [say(msg, t) for msg in state.general]
        return outcome
    changes = body.model_dump(exclude_unset=True)
    current = ""
    try:
        kind.resource.require_writer(viewer.actor)  # the API's rule for this model
        for obj_id in outcome.selected:
            current = f"#{obj_id}"
            obj = kind.resource.get(session, actor=viewer.actor, id=obj_id)
            current = str(getattr(obj, kind.resource.repr_field, current))
            _, warnings = kind.resource.update(session, actor=viewer.actor, id=obj_id, data=dict(changes),
                                               commit=False)
            outcome.warnings += [f"{current}: {say(w, t)}" for w in warnings]
        kind.resource.commit(session)
    except DcopsError as exc:
        session.rollback()
        outcome.errors.append(f"{current}: {say(exc.message, t)}" if current else say(exc.message, t))
        outcome.warnings = []
        return outcome
    outcome.changed = len(outcome.selected)
    return outcome
