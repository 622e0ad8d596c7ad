"""``dcops <object> list`` and ``dcops <object> show KEY`` for every inventory model, with ``--json``.

One generic pair of commands per model, driven by the model's :class:`~dcops.crud.Resource`, so
filters, search, ordering and secret handling are the API's own.
"""


import json
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.table import Table

from dcops.cli import JsonOpt, cli_actor, console, print_rows
from dcops.crud import MAX_LIMIT, ListQuery, Resource

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
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


def _parse_filters(pairs: list[str]) -> dict[str, Any]:
    from dcops.exceptions import ValidationError

    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValidationError(f"--filter takes field=value, not '{pair}'")
        key, value = pair.split("=", 1)
        out[key.strip()] = int(value) if value.strip().isdigit() else value.strip()
    return out


_PLURALS = {"agency": "Agencies", "vm": "Virtual machines", "prefix": "Prefixes", "ip": "IP addresses"}


def _add_view(view: View) -> None:
    plural = _PLURALS.get(view.command, view.command.replace("-", " ").capitalize() + "s")
    group = typer.Typer(help=f"{plural}: list and show (change them through the API, the console or `dcops import`).",
                        no_args_is_help=True)

    @group.command("list")
    def list_(
        q: Annotated[str | None, typer.Option("--search", "-q", help="text to search for")] = None,
        filters: Annotated[list[str] | None, typer.Option("--filter", "-f", help="field=value, repeatable")] = None,
        ordering: Annotated[str | None, typer.Option("--ordering", help="field, '-field' for descending")] = None,
        limit: Annotated[int, typer.Option("--limit", help=f"at most this many (max {MAX_LIMIT})")] = 200,
        as_json: JsonOpt = False,
    ) -> None:
        from dcops.database import session_scope

        resource = _resource(view)
        with session_scope() as session:
            rows, total = resource.get_all(session, actor=cli_actor(), query=ListQuery(
                limit=limit, ordering=ordering, q=q, filters=_parse_filters(filters or [])))
            data = [resource.snapshot(r) for r in rows]
        title = f"{resource.plural} ({len(data)} of {total})"
        print_rows(data, view.columns, title=title, as_json=as_json)

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
            data = resource.snapshot(obj)
        if as_json:
            typer.echo(json.dumps(data, default=str, indent=2))
            return
        table = Table(title=f"{resource.label} {key}", show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value")
        for name, value in data.items():
            table.add_row(name, "" if value is None else str(value))
        console.print(table)

    app.add_typer(group, name=view.command)


for _view in VIEWS:
    _add_view(_view)


@app.command("changelog")
def changelog(limit: Annotated[int, typer.Option("--limit")] = 50, as_json: JsonOpt = False) -> None:
    """The latest changes: who changed what, when."""
    from sqlalchemy import select

    from dcops.auth.models import ChangeLogEntry
    from dcops.database import session_scope

    with session_scope() as session:
        rows = session.execute(select(ChangeLogEntry).order_by(ChangeLogEntry.id.desc()).limit(limit)).scalars()
        data = [{"id": e.id, "time": e.time.isoformat(timespec="seconds"), "user": e.username, "action": e.action,
                 "object": f"{e.object_type} {e.object_repr}", "before": e.before, "after": e.after} for e in rows]
    print_rows(data, ["id", "time", "user", "action", "object"], title="Change log", as_json=as_json)
