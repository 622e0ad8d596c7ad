"""HTML forms over the API's own pydantic models, so a form refuses exactly what the API refuses.

A submitted form is turned into the same dict a JSON body would give (empty inputs become
"not given" or null), validated by the API's Create/Update model, then passed to the same
service. Errors come back per field with the API's messages, and the form is shown again with
what the user typed.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from dcops.exceptions import DcopsError


@dataclass
class FormField:
    """One input of a form: how to draw it and where its choices come from."""

    name: str
    label: str
    kind: str = "text"  # text, number, checkbox, select, textarea
    choices: list[tuple[str, str]] = field(default_factory=list)
    required: bool = False
    step: str | None = None


@dataclass
class FormState:
    """What the user typed and what is wrong with it."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.general


def _base_type(annotation: Any) -> tuple[Any, bool]:
    """Return (the type inside Optional[...], whether None is allowed)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return (args[0] if len(args) == 1 else str), True
    return annotation, False


def widget(model: type[BaseModel], name: str, label: str,
           choices: list[tuple[str, str]] | None = None) -> FormField:
    """Describe the input for field ``name`` of ``model`` from its annotation."""
    info = model.model_fields[name]
    base, _ = _base_type(info.annotation)
    required = info.is_required()
    if choices is not None:
        return FormField(name, label, "select", choices, required)
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return FormField(name, label, "select", [(e.value, e.value) for e in base], required)
    if base is bool:
        return FormField(name, label, "checkbox")
    if base is int:
        return FormField(name, label, "number", required=required, step="1")
    if base is float:
        return FormField(name, label, "number", required=required, step="any")
    if name in ("description", "comments"):
        return FormField(name, label, "textarea", required=required)
    return FormField(name, label, "text", required=required)


def form_to_data(model: type[BaseModel], fields: list[FormField], form: Any,
                 shape: type[BaseModel] | None = None) -> tuple[dict[str, str], dict[str, Any]]:
    """Return (the raw values typed, the dict a JSON body would carry) for the shown fields.

    ``shape`` (the Create model) says which empty inputs mean null; an edit form validates with the
    Update model, whose fields are all optional.
    """
    raw: dict[str, str] = {}
    data: dict[str, Any] = {}
    for f in fields:
        info = (shape or model).model_fields[f.name]
        if f.kind == "checkbox":
            checked = form.get(f.name) in ("on", "true", "1")
            raw[f.name] = "on" if checked else ""
            data[f.name] = checked
            continue
        value = str(form.get(f.name, "")).strip()
        raw[f.name] = value
        base, nullable = _base_type(info.annotation)
        if value == "":
            if nullable:
                data[f.name] = None
            elif base is str:
                data[f.name] = ""  # required: the API's own "at least 1 character" message
            # otherwise: not given, the model's default applies (or, editing, the value stays)
            continue
        data[f.name] = value
    return raw, data


class ValidationText(str):
    """pydantic's message, remembering its error (type, limits) so the page can say it in the visitor's language."""

    error: dict[str, Any]

    def __new__(cls, text: str, error: Mapping[str, Any]) -> ValidationText:
        obj = super().__new__(cls, text)
        obj.error = {k: error.get(k) for k in ("type", "loc", "msg", "ctx")}
        return obj


def validate(model: type[BaseModel], data: dict[str, Any], state: FormState) -> BaseModel | None:
    """Validate ``data`` with the API's model; put each error next to its field."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            name = loc[0] if loc else ""
            message = ValidationText(err["msg"], err)  # shown as a plain sentence in the visitor's language
            if name in state.values:
                state.errors.setdefault(name, message)
            else:
                state.general.append(f"{'.'.join(loc)}: {message}" if loc else message)
        return None


def domain_error(exc: DcopsError, state: FormState) -> None:
    """Put a service's refusal next to the field it names (or above the form)."""
    if exc.field and exc.field in state.values:
        state.errors[exc.field] = exc.message
    else:
        state.general.append(exc.message)


def display(value: Any) -> str:
    """Write a stored value back into an input."""
    if value is None:
        return ""
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "on" if value else ""
    return str(value)
