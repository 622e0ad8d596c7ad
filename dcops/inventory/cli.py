"""``dcops <object> list`` and ``dcops <object> show KEY`` for every inventory model, with ``--json``.

One generic pair of commands per model, driven by the model's :class:`~dcops.crud.Resource`, so
filters, search, ordering and secret handling are the API's own.
"""


import json
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.table import Table

from dcops.cli import JsonOpt, cli_actor, console, local_time, print_rows
from dcops.crud import ListQuery, Resource
from dcops.listing import MAX_LIMIT

app = typer.Typer()
COMMAND = None


@dataclass(frozen=True)
class View:
    command: str
    resource_path: str  # "module:attribute", imported lazily so `dcops --help` stays fast
    columns: list[str]
    key: str  # the natural key `show` takes


VIEWS = [
    View("site", "dcops.dcim.service:sites", ["id", "name", "description"], "name"),
    View("rack", "dcops.dcim.service:racks", ["id", "name", "site_id", "room_id", "u_height", "power_budget_w"],
         "name"),
    View("device-type", "dcops.dcim.service:device_types",
         ["id", "slug", "model", "u_height", "max_power_w", "cpu_threads", "ram_gib", "storage_tb", "price_idr"],
         "slug"),
    View("cluster", "dcops.dcim.service:clusters",
         ["id", "name", "site_id", "vcpu_ratio", "ram_ratio", "disk_ratio", "ha_reserve_hosts"], "name"),
    View("device", "dcops.dcim.service:devices",
         ["id", "name", "role", "status", "site_id", "rack_id", "position", "face", "cluster_id", "mgmt_address"],
         "name"),
    View("credential", "dcops.dcim.service:credentials",
         ["id", "name", "kind", "username", "auth_protocol", "priv_protocol"], "name"),
    View("agency", "dcops.tenancy.service:agencies",
         ["id", "code", "name", "kind", "parent_id", "quota_vcpus", "quota_ram_gib", "quota_disk_gib", "quota_vms"],
         "code"),
    View("vm", "dcops.virtualization.service:virtual_machines",
         ["id", "name", "agency_id", "cluster_id", "host_id", "vcpus", "ram_gib", "disk_gib", "ip_address", "state"],
         "name"),
    View("prefix", "dcops.ipam.service:prefixes", ["id", "cidr", "vlan_id", "agency_id", "purpose", "gateway"], "cidr"),
    View("ip", "dcops.ipam.service:ip_addresses", ["id", "address", "prefix_id", "agency_id", "vm_id", "dns_name"],
         "address"),
]


def _resource(view: View) -> Resource[Any]:
    import importlib

    module, attr = view.resource_path.split(":")
    resource: Resource[Any] = getattr(importlib.import_module(module), attr)
    return resource


def _referenced(resource: Resource[Any], column: str) -> Resource[Any] | None:
    """The resource a ``*_id`` column points at (through its foreign key), if it is one."""
    import importlib

    from dcops.crud import registered

    for view in VIEWS:  # every inventory resource registered, whichever one this command started from
        importlib.import_module(view.resource_path.split(":")[0])
    col = resource.table.columns.get(column)
    if col is None or not col.foreign_keys:
        return None
    return registered().get(next(iter(col.foreign_keys)).column.table.name)


def _parse_filters(session: Any, resource: Resource[Any], pairs: list[str]) -> dict[str, Any]:
    """``field=value`` pairs; a reference may be given by name (``rack=A01``) as well as by id (``rack_id=3``)."""
    from dcops.exceptions import ValidationError

    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValidationError(f"--filter takes field=value, not '{pair}'; "
                                  f"filter by one of: {', '.join(_filter_names(resource))}")
        key, value = (p.strip() for p in pair.split("=", 1))
        target = _referenced(resource, f"{key}_id") if f"{key}_id" in resource.filters else None
        if target is not None:
            found = target.get_by(session, actor=cli_actor(), **{target.repr_field: value})
            if found is None and value.isdigit():
                found = target.get_by(session, actor=cli_actor(), id=int(value))
            if found is None:
                raise ValidationError(f"no {target.label} named '{value}'", field=key)
            key, value = f"{key}_id", found.id
        elif key not in resource.filters:
            raise ValidationError(f"cannot filter {resource.plural} by '{key}'; "
                                  f"filter by one of: {', '.join(_filter_names(resource))}", field=key)
        out[key] = int(value) if isinstance(value, str) and value.isdigit() else value
    return out


def _filter_names(resource: Resource[Any]) -> list[str]:
    names = []
    for name in resource.filters:
        names.append(name)
        if name.endswith("_id") and _referenced(resource, name) is not None:
            names.append(name[:-3])
    return names


def _with_names(session: Any, resource: Resource[Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add the name of every referenced object beside its id (``rack`` beside ``rack_id``), one query per kind."""
    from dcops.inventory.service import names_by_id

    for column in resource.table.columns:
        target = _referenced(resource, column.name) if column.name.endswith("_id") else None
        if target is None:
            continue
        ids = {r[column.name] for r in rows if r.get(column.name) is not None}
        if not ids:
            continue
        names = names_by_id(session, target, ids)
        for r in rows:
            ref = r.get(column.name)
            r[column.name[:-3]] = None if ref is None else names.get(ref)
    return rows


def _display(columns: list[str]) -> list[str]:
    """Table columns: names instead of ids for references."""
    return [c[:-3] if c.endswith("_id") else c for c in columns]


_PLURALS = {"agency": "Agencies", "vm": "Virtual machines", "prefix": "Prefixes", "ip": "IP addresses"}


def _add_view(view: View) -> None:
    plural = _PLURALS.get(view.command, view.command.replace("-", " ").capitalize() + "s")
    group = typer.Typer(help=f"{plural}: list and show (change them through the API, the console or `dcops import`).",
                        no_args_is_help=True)

    @group.command("list")
    def list_(
        q: Annotated[str | None, typer.Option("--search", "-q", help="text to search for")] = None,
        filters: Annotated[list[str] | None, typer.Option(
            "--filter", "-f", help="field=value, repeatable; a reference by name: rack=A01")] = None,
        ordering: Annotated[str | None, typer.Option("--ordering", help="field, '-field' for descending")] = None,
        limit: Annotated[int, typer.Option("--limit", help=f"at most this many (max {MAX_LIMIT})")] = 200,
        as_json: JsonOpt = False,
    ) -> None:
        from dcops.database import session_scope

        resource = _resource(view)
        with session_scope() as session:
            rows, total = resource.get_all(session, actor=cli_actor(), query=ListQuery(
                limit=limit, ordering=ordering, q=q, filters=_parse_filters(session, resource, filters or [])))
            data = _with_names(session, resource, [resource.snapshot(r) for r in rows])
        title = f"{resource.plural} ({len(data)} of {total})"
        print_rows(data, _display(view.columns), title=title, as_json=as_json)

    @group.command("show")
    def show(key: Annotated[str, typer.Argument(help=f"the {view.key} (or the id)")], as_json: JsonOpt = False) -> None:
        from dcops.database import session_scope
        from dcops.exceptions import NotFoundError

        resource = _resource(view)
        with session_scope() as session:
            obj = resource.get_by(session, actor=cli_actor(), **{view.key: key})
            if obj is None and key.isdigit():
                obj = resource.get_by(session, actor=cli_actor(), id=int(key))
            if obj is None:
                raise NotFoundError(f"no {resource.label} with {view.key} '{key}'")
            data = _with_names(session, resource, [resource.snapshot(obj)])[0]
        if as_json:
            typer.echo(json.dumps(data, default=str, indent=2))
            return
        table = Table(title=f"{resource.label} {key}", show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value")
        for name, value in data.items():
            table.add_row(name, "" if value is None else str(local_time(value)))
        console.print(table)

    app.add_typer(group, name=view.command)


for _view in VIEWS:
    _add_view(_view)


@app.command("changelog")
def changelog(limit: Annotated[int, typer.Option("--limit")] = 50, as_json: JsonOpt = False) -> None:
    """The latest changes: who changed what, when."""
    from dcops.changelog import get_page
    from dcops.database import session_scope

    with session_scope() as session:
        rows, _ = get_page(session, limit=limit)
        data = [{"id": e.id, "time": e.time.isoformat(timespec="seconds"), "user": e.username, "action": e.action,
                 "object": f"{e.object_type} {e.object_repr}", "before": e.before, "after": e.after} for e in rows]
    print_rows(data, ["id", "time", "user", "action", "object"], title="Change log", as_json=as_json)
