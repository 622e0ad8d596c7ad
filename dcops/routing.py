"""Build the five REST routes of a :class:`~dcops.crud.Resource`: list, get, create, PATCH, delete.

Each generated handler is a thin adapter: it authenticates through the role guard that :data:`ROLE_GUARD`
provides (``dcops.auth``'s ``Allow``), calls the resource's service function and turns the result into the
public schema.
"""


import copy
import functools
import inspect
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import Enum
from types import NoneType, SimpleNamespace
from typing import Any, cast

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, TypeAdapter, create_model, field_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticUndefined
from sqlmodel import Session

from dcops.actor import Actor, Role
from dcops.crud import ListQuery, Resource
from dcops.database import SessionDep
from dcops.exceptions import ValidationError
from dcops.hooks import Hook
from dcops.listing import MAX_LIMIT
from dcops.schemas import Page

ROLE_GUARD: Hook[Callable[[Iterable[Role]], Callable[..., Any]]] = Hook("API role guard")
"""Make the dependency that authenticates a caller and admits only the given roles (auth: ``Allow``)."""


def role_guard(roles: Iterable[Role]) -> Callable[..., Any]:
    """Return the registered dependency admitting ``roles``; with none registered, refuse to build routes."""
    make = ROLE_GUARD.first()
    if make is None:
        raise RuntimeError("no API role guard is registered (dcops.auth.provides): routes would be open")
    return make(roles)


def walk_routes(routes: Sequence[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Yield (full path, route) for every API route, descending into included routers.

    FastAPI >= 0.16x keeps an included router as one ``_IncludedRouter`` entry in ``app.routes`` instead of
    copying its routes, so a check that only looks at ``app.routes`` would see almost nothing.
    """
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
            continue
        original = getattr(route, "original_router", None)
        if original is not None:
            context = getattr(route, "include_context", None)
            yield from walk_routes(original.routes, prefix + (getattr(context, "prefix", "") or ""))


def off_loop(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a plain (sync) endpoint in a coroutine that runs it in the API's thread pool.

    FastAPI runs a sync endpoint in that pool too, but then validates its return value in ANOTHER trip to the
    pool, and a request's database connection stays checked out until its session closes after the response.
    Requests whose endpoints are done would then hold connections while queued for a thread, while the threads
    wait for a connection (seen: 100 approvals, 15 finished requests holding the whole PostgreSQL pool, the 8
    threads waiting on it, for good). As a coroutine, the return value is validated on the event loop: a
    request holds a connection only while it runs in a thread or closes.
    """
    @functools.wraps(endpoint)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(endpoint, *args, **kwargs)

    return run


class OffLoopRoute(APIRoute):
    """An API route whose sync endpoint runs through :func:`off_loop` (every dcops route is one)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = off_loop(endpoint)
        super().__init__(path, endpoint, **kwargs)


class ApiRouter(APIRouter):
    """dcops' router: its routes are :class:`OffLoopRoute` (create_app refuses a sync endpoint)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(route_class=OffLoopRoute, **kwargs)


def assert_no_sync_endpoint(app: Any) -> int:
    """Raise if a route's endpoint is not a coroutine (made outside :class:`ApiRouter`); return how many."""
    checked = 0
    for path, route in walk_routes(app.routes):
        checked += 1
        if not inspect.iscoroutinefunction(route.endpoint):
            raise RuntimeError(f"route {sorted(route.methods or ())} {path} has a sync endpoint outside ApiRouter "
                               "(its answer would be validated in a second trip to the thread pool)")
    return checked


CreateFn = Callable[[Session, Actor, dict[str, Any]], Any]
UpdateFn = Callable[[Session, Actor, int, dict[str, Any]], Any]


def read_public(public: type[BaseModel], obj: Any) -> BaseModel:
    """Convert a stored row to its public schema, tolerating values stored before a rule existed.

    A row that breaks today's input rules (an address saved before it was checked) is shown as stored
    rather than turning every list that contains it into an error.
    """
    try:
        return public.model_validate(obj, from_attributes=True)
    except PydanticValidationError as exc:
        bad = {err["loc"][0] for err in exc.errors() if err["loc"]}
    values = {name: getattr(obj, name, info.get_default(call_default_factory=True))
              for name, info in public.model_fields.items()}
    try:
        out = public.model_validate({k: (None if k in bad else v) for k, v in values.items()})
    except PydanticValidationError:
        return public.model_construct(**values)
    for name in bad:  # shown as stored
        object.__setattr__(out, str(name), values.get(str(name)))
    return out


def list_columns(resource: Resource[Any], public: type[BaseModel]) -> list[str] | None:
    """Return the table columns ``public`` is built from, or None if it needs more than columns.

    A public field that is not a column must have a default and no attribute of that name on the model
    (such as ``warnings``); otherwise (a property, a relationship) the list reads whole objects.
    """
    table_columns = resource.table.c
    names = []
    for name, info in public.model_fields.items():
        if name in table_columns:
            names.append(name)
        elif info.is_required() or hasattr(resource.model, name):
            return None
    return names


_MEMO_SIZE = 4096


def _memoised(func: Any) -> Any:
    """Wrap a one-argument field validator so a value seen before is not checked again (lists repeat them)."""
    memo: dict[Any, Any] = {}

    def check(cls: Any, value: Any) -> Any:
        if not isinstance(value, str | int | NoneType):
            return func(value)
        try:
            return memo[(type(value), value)]
        except KeyError:
            pass
        out = func(value)
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[(type(value), value)] = out
        return out

    return check


def read_model(public: type[BaseModel]) -> type[BaseModel]:
    """Return a plain pydantic twin of ``public`` for building list pages from column values.

    Same fields, defaults, config and field validators, hence the same validation and the same JSON, without
    SQLModel's per-object ``__init__``; one-argument validators are memoised (pure normalisers of a value).
    ``public`` itself is returned when it has what a twin would not copy (model validators, serializers).
    """
    decorators = public.__pydantic_decorators__
    if (decorators.model_validators or decorators.validators or decorators.root_validators
            or decorators.field_serializers or decorators.model_serializers or decorators.computed_fields):
        return public
    fields: dict[str, Any] = {}
    for name, info in public.model_fields.items():
        twin = copy.copy(info)
        if isinstance(info.default, list | dict | set) and not info.default:
            twin.default, twin.default_factory = PydanticUndefined, type(info.default)
        fields[name] = (info.annotation, twin)
    validators = {}
    for dec_name, dec in decorators.field_validators.items():
        if len(inspect.signature(dec.func).parameters) != 1:
            return public  # a validator that reads other fields: keep the original
        validators[f"_v_{dec_name}"] = field_validator(*dec.info.fields, mode=dec.info.mode)(_memoised(dec.func))
    config = cast(ConfigDict, {k: v for k, v in public.model_config.items() if k in ConfigDict.__annotations__})
    return create_model(f"{public.__name__}Row", __base__=None, __config__=config,  # type: ignore[call-overload]  # fields as **kwargs
                        __validators__=validators, **fields)


def public_rows(public: type[BaseModel], rows: list[dict[str, Any]], fast: TypeAdapter[list[Any]],
                slow: TypeAdapter[list[Any]]) -> bytes:
    """Validate column values read from the table as ``public`` objects, all at once, and return their JSON.

    ``fast`` is over :func:`read_model`'s twin, ``slow`` over ``public`` itself. Should a stored row break
    today's input rules, each row goes through :func:`read_public` instead, which shows such a value as stored.
    """
    try:
        return fast.dump_json(fast.validate_python(rows))
    except PydanticValidationError:
        return slow.dump_json([read_public(public, SimpleNamespace(**row)) for row in rows])


class ListPage:
    """What one resource's list endpoint answers: a page of its ``public`` objects as JSON, and the total.

    The database writes the page as JSON where its columns allow (:meth:`Resource.get_all_json`), and the page
    is validated straight from that JSON; otherwise, or should a stored row break today's input rules, it is read
    as column values (:func:`public_rows`), or as whole objects when ``public`` shows more than columns. Either
    way the read ends before the page is serialised. Every list is registered in :data:`LIST_PAGES`.
    """

    def __init__(self, resource: Resource[Any], public: type[BaseModel]) -> None:
        self.resource, self.public = resource, public
        self.columns = list_columns(resource, public)
        self.slow: TypeAdapter[list[Any]] = TypeAdapter(list[public])  # type: ignore[valid-type]  # a class known at run time
        self.fast: TypeAdapter[list[Any]] = TypeAdapter(list[read_model(public)])  # type: ignore[misc]  # a class built at run time
        LIST_PAGES[resource.table.name] = self

    def render(self, session: Session, actor: Actor, query: ListQuery, *, written: bool = True) -> tuple[bytes, int]:
        """The page's JSON and how many rows match in all; ``written=False`` skips the database's JSON (tests)."""
        resource, columns = self.resource, self.columns
        if columns is None:  # the public schema shows something the table does not hold: read objects
            objs, count = resource.get_all(session, actor=actor, query=query)
            session.expunge_all()  # keep the rows loaded (a rollback would expire them) ...
            session.rollback()  # ... and end the read before they are serialised
            return self.slow.dump_json([read_public(self.public, r) for r in objs]), count
        page = resource.get_all_json(session, actor=actor, query=query, names=columns) if written else None
        session.rollback()
        if page is not None:
            try:
                return self.fast.dump_json(self.fast.validate_json(page[0])), page[1]
            except PydanticValidationError:
                pass  # a row stored before a rule: read as values, which shows it as stored
        rows, count = resource.get_all_values(session, actor=actor, query=query, names=columns)
        session.rollback()
        return public_rows(self.public, rows, self.fast, self.slow), count


#: every list endpoint's page, by table name
LIST_PAGES: dict[str, ListPage] = {}


def to_public(public: type[BaseModel], obj: Any, warnings: list[str] | None = None) -> BaseModel:
    """Convert a table row to its public schema (with write warnings when the schema has them)."""
    out = read_public(public, obj)
    if warnings and "warnings" in public.model_fields:
        out.warnings = warnings  # type: ignore[attr-defined]  # present: checked in model_fields above
    return out


def _filter_annotation(public: type[BaseModel], name: str) -> Any:
    field = public.model_fields.get(name)
    annotation: Any = field.annotation if field else str
    return annotation | None


def crud_router(
    resource: Resource[Any],
    *,
    path: str,
    public: type[BaseModel],
    create: type[BaseModel],
    update: type[BaseModel],
    read: Iterable[Role],
    write: Iterable[Role],
    tags: list[str | Enum],
    create_fn: CreateFn | None = None,
    update_fn: UpdateFn | None = None,
) -> APIRouter:
    """Return a router with list/get/create/update/delete for ``resource`` under ``path``."""
    router = ApiRouter(tags=tags)
    reader, writer = role_guard(read), role_guard(write)
    resource.write_roles = frozenset(write)  # the import and the console obey the same rule
    label, plural = resource.label, resource.plural

    paging = {"limit", "offset", "ordering", "q"}
    pages = ListPage(resource, public)

    def list_items(
        request: Request,
        session: SessionDep,
        actor: Actor = Depends(reader),
        limit: int = Query(50, ge=1, le=MAX_LIMIT),
        offset: int = Query(0, ge=0),
        ordering: str | None = Query(
            None, description=f"field to order by, '-' for descending: {', '.join(resource.orderings)}"
        ),
        q: str | None = Query(None, max_length=200, description=f"search in {', '.join(resource.search)}"),
        **filters: Any,
    ) -> Response:
        # an unknown query parameter is refused (422 naming the valid filters), never silently ignored
        filters |= {k: v for k, v in request.query_params.items() if k not in paging and k not in filters}
        query = ListQuery(limit=limit, offset=offset, ordering=ordering, q=q, filters=filters)
        data, count = pages.render(session, actor, query)
        # validated once and serialised once here (FastAPI would validate the page a second time); the same
        # JSON as Page[public]: data, count, limit, offset
        body = b'{"data":%s,"count":%d,"limit":%d,"offset":%d}' % (data, count, limit, offset)
        return Response(body, media_type="application/json")

    base = inspect.signature(list_items)
    params = [p for p in base.parameters.values() if p.kind != inspect.Parameter.VAR_KEYWORD]
    params += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=Query(None),
                          annotation=_filter_annotation(public, name))
        for name in resource.filters
    ]
    list_items.__signature__ = base.replace(parameters=params)  # type: ignore[attr-defined]  # read by FastAPI
    router.add_api_route(
        path, list_items, methods=["GET"], response_model=Page[public],  # type: ignore[valid-type]  # a class known at run time
        summary=f"List {plural}", name=f"list_{resource.table.name}",
    )

    def get_item(id: int, session: SessionDep, actor: Actor = Depends(reader)) -> Any:
        return Response(to_public(public, resource.get(session, actor=actor, id=id)).model_dump_json(),
                        media_type="application/json")

    router.add_api_route(
        f"{path}/{{id}}", get_item, methods=["GET"], response_model=public,
        summary=f"Get a {label}", name=f"get_{resource.table.name}",
    )

    def create_item(body: create, session: SessionDep,  # type: ignore[valid-type]  # the resource's create schema
                    actor: Actor = Depends(writer)) -> Any:
        data = body.model_dump()  # type: ignore[attr-defined]  # a BaseModel (the annotation is a variable)
        if create_fn is not None:
            return to_public(public, create_fn(session, actor, data))
        options = {"allow_power_overcommit": data.get("allow_power_overcommit", False)}
        obj, warnings = resource.create(session, actor=actor, data=data, options=options)
        return to_public(public, obj, warnings)

    router.add_api_route(
        path, create_item, methods=["POST"], response_model=public, status_code=status.HTTP_201_CREATED,
        summary=f"Create a {label}", name=f"create_{resource.table.name}",
    )

    def update_item(id: int, body: update, session: SessionDep,  # type: ignore[valid-type]  # its update schema
                    actor: Actor = Depends(writer)) -> Any:
        data = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]  # a BaseModel, as above
        for name, value in data.items():  # an explicit null for a required column: say so, before any service
            column = resource.table.columns.get(name)
            if value is None and column is not None and not column.nullable:
                raise ValidationError(f"{name} cannot be null", field=name)
        if update_fn is not None:
            return to_public(public, update_fn(session, actor, id, data))
        options = {"allow_power_overcommit": data.pop("allow_power_overcommit", False)}
        obj, warnings = resource.update(session, actor=actor, id=id, data=data, options=options)
        return to_public(public, obj, warnings)

    router.add_api_route(
        f"{path}/{{id}}", update_item, methods=["PATCH"], response_model=public,
        summary=f"Update a {label}", name=f"update_{resource.table.name}",
    )

    def delete_item(id: int, session: SessionDep, actor: Actor = Depends(writer)) -> Response:
        resource.delete(session, actor=actor, id=id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    router.add_api_route(
        f"{path}/{{id}}", delete_item, methods=["DELETE"], status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response, summary=f"Delete a {label}", name=f"delete_{resource.table.name}",
    )
    return router
