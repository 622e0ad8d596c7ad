"""Shared API schema helpers: list pages and PATCH models derived from create models."""

from __future__ import annotations

import copy
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, create_model, field_validator

T = TypeVar("T")

class Page(BaseModel, Generic[T]):
    """One page of a list: the rows, and how many match in all."""

    data: list[T]
    count: int
    limit: int
    offset: int


def partial_model(model: type[BaseModel], name: str) -> type[BaseModel]:
    """Return a copy of ``model`` whose fields are all optional (for PATCH bodies)."""
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        optional = copy.copy(info)
        optional.default = None
        optional.default_factory = None
        annotation: Any = info.annotation
        fields[field_name] = (annotation | None, optional)
    # keep the field validators (an address checked on create is checked on PATCH too); None means "unset"
    validators = {
        f"_v_{dec_name}": field_validator(*dec.info.fields, mode=dec.info.mode)(_skip_none(dec.func))
        for dec_name, dec in model.__pydantic_decorators__.field_validators.items()
    }
    return create_model(name, __base__=BaseModel, __validators__=validators, **fields)  # type: ignore[call-overload]  # fields as **kwargs


def _skip_none(func: Any) -> Any:
    def check(cls: Any, value: Any, *args: Any) -> Any:
        return value if value is None else func(value, *args)

    return check


class ErrorBody(BaseModel):
    """Every error answer: what is wrong and, when one field is to blame, which."""

    detail: str
    field: str | None = None
    errors: list[dict[str, Any]] | None = None
