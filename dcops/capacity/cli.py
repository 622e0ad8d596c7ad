"""``dcops request ...``, ``dcops headroom``, ``dcops rebalance`` and ``dcops plan ...``."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from dcops.capacity.plan_cli import app as plan_app
from dcops.cli import JsonOpt, cli_actor, console
from dcops.exceptions import ValidationError

app = typer.Typer()
COMMAND = None
request_app = typer.Typer(help="Capacity requests: file, preview, approve, reject, cancel.", no_args_is_help=True)
app.add_typer(request_app, name="request")
app.add_typer(plan_app, name="plan")

VM_HELP = "PREFIX:COUNT:VCPU:RAM_GIB:DISK_GIB[:ANTI_AFFINITY_GROUP], e.g. web:2:4:8:80:web (repeatable)"


def parse_vm(text: str) -> dict[str, Any]:
    """Turn ``web:2:4:8:80[:group]`` into a VM line."""
    parts = text.split(":")
    if len(parts) not in (5, 6) or not all(p.isdigit() for p in parts[1:5]):
        raise ValidationError(f"--vm '{text}': expected {VM_HELP}", field="vm")
    line: dict[str, Any] = {"name_prefix": parts[0], "count": int(parts[1]), "vcpus": int(parts[2]),
                            "ram_gib": int(parts[3]), "disk_gib": int(parts[4])}
    if len(parts) == 6 and parts[5]:
        line["anti_affinity_group"] = parts[5]
    return line


def _agency_id(session: Any, code: str) -> int:
    from dcops.capacity.service import agency_id_by_code

    return agency_id_by_code(session, code)


def _cluster_id(session: Any, name: str | None) -> int | None:
    from dcops.capacity.service import cluster_id_by_name

    return None if name is None else cluster_id_by_name(session, name)


def _print_preview(preview: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(preview.model_dump_json(indent=2))
        return
    table = Table(title="placement preview")
    for col in ("VM", "vCPU", "RAM GiB", "disk GiB", "cluster", "host"):
        table.add_column(col)
    for p in preview.placements:
        table.add_row(p.name, str(p.vcpus), str(p.ram_gib), str(p.disk_gib), p.cluster or "-", p.host or "-")
    console.print(table)
    for problem in preview.problems:
        console.print(f"[red]✗[/] {problem}", highlight=False)
    console.print("[green]fits[/]" if preview.fits else "[red]does not fit[/]")


def _print_request(session: Any, request: Any, as_json: bool, warnings: list[str] | None = None) -> None:
    from dcops.capacity.service import public as render

    public = render(session, request, warnings=warnings)
    if as_json:
        typer.echo(public.model_dump_json(indent=2))
        return
    console.print(f"request {public.id} for {public.agency_code}: [bold]{public.status}[/] "
                  f"({public.total_vms} VMs, {public.total_vcpus} vCPU, {public.total_ram_gib} GiB RAM, "
                  f"{public.total_disk_gib} GiB disk)", highlight=False)
    if public.vms:
        table = Table()
        for col in ("VM", "host", "IP", "state", "failure"):
            table.add_column(col)
        for vm in public.vms:
            table.add_row(vm.name, vm.host or "-", vm.ip_address or "-", vm.state, vm.failure or "")
        console.print(table)
    for e in public.events:
        console.print(f"  {e.at:%Y-%m-%d %H:%M} {e.username}: {e.from_status or '-'} → {e.to_status} {e.note}",
                      highlight=False)
    for w in public.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)


@request_app.command("file")
def file_(
    agency: Annotated[str, typer.Option("--agency", help="agency code, e.g. DINKES")],
    vm: Annotated[list[str], typer.Option("--vm", help=VM_HELP)],
    justification: Annotated[str, typer.Option("--justification", "-j")],
    cluster: Annotated[str | None, typer.Option("--cluster", help="preferred cluster name")] = None,
    preview_only: Annotated[bool, typer.Option("--preview", help="show the placement, file nothing")] = False,
    as_json: JsonOpt = False,
) -> None:
    """File a capacity request for an agency (or only preview it)."""
    from dcops.capacity import service
    from dcops.capacity.models import CapacityRequestCreate
    from dcops.database import session_scope

    with session_scope() as session:
        data = CapacityRequestCreate.model_validate({
            "agency_id": _agency_id(session, agency), "justification": justification,
            "cluster_id": _cluster_id(session, cluster), "items": [parse_vm(v) for v in vm]})
        if preview_only:
            _print_preview(service.preview_draft(session, actor=cli_actor(), data=data), as_json)
            return
        request, warnings = service.file_request(session, actor=cli_actor(), data=data)
        _print_request(session, request, as_json, warnings)


@request_app.command("list")
def list_(
    status: Annotated[str | None, typer.Option("--status")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List capacity requests, newest first."""
    from dcops.capacity import service
    from dcops.cli import print_rows
    from dcops.crud import ListQuery
    from dcops.database import session_scope

    with session_scope() as session:
        rows, _ = service.get_all(session, actor=cli_actor(), query=ListQuery(limit=limit, filters={"status": status}))
        out = [service.public(session, r, detail=False).model_dump(mode="json") for r in rows]
    print_rows(out, ["id", "agency_code", "status", "total_vms", "total_vcpus", "total_ram_gib", "total_disk_gib",
                     "requested_by", "created_at"], title="capacity requests", as_json=as_json)


@request_app.command("show")
def show(id: int, as_json: JsonOpt = False) -> None:
    """Show a request, its VMs and its history."""
    from dcops.capacity import service
    from dcops.database import session_scope

    with session_scope() as session:
        request = service.sync_status(session, service.get(session, actor=cli_actor(), id=id), cli_actor())
        _print_request(session, request, as_json)


@request_app.command("preview")
def preview(id: int, as_json: JsonOpt = False) -> None:
    """Show where a filed request would go if approved now."""
    from dcops.capacity import service
    from dcops.database import session_scope

    with session_scope() as session:
        _print_preview(service.preview(session, actor=cli_actor(), id=id), as_json)


@request_app.command("approve")
def approve(id: int, note: Annotated[str, typer.Option("--note")] = "", as_json: JsonOpt = False) -> None:
    """Approve a request: reserve its capacity and launch its provisioning."""
    from dcops.capacity import flows
    from dcops.database import session_scope

    with session_scope() as session:
        request, warnings = flows.approve(session, actor=cli_actor(), id=id, note=note)
        _print_request(session, request, as_json, warnings)


@request_app.command("provision")
def provision(id: int, as_json: JsonOpt = False) -> None:
    """Launch the provisioning jobs of an approved request."""
    from dcops.capacity import flows
    from dcops.database import session_scope

    with session_scope() as session:
        request, warnings = flows.provision(session, actor=cli_actor(), id=id)
        _print_request(session, request, as_json, warnings)


@request_app.command("reject")
def reject(id: int, reason: Annotated[str, typer.Option("--reason")], as_json: JsonOpt = False) -> None:
    """Reject a request with a reason."""
    from dcops.capacity import service
    from dcops.database import session_scope

    with session_scope() as session:
        _print_request(session, service.reject(session, actor=cli_actor(), id=id, reason=reason), as_json)


@request_app.command("cancel")
def cancel(id: int, reason: Annotated[str, typer.Option("--reason")] = "", as_json: JsonOpt = False) -> None:
    """Cancel a request, releasing what its approval reserved."""
    from dcops.capacity import service
    from dcops.database import session_scope

    with session_scope() as session:
        _print_request(session, service.cancel(session, actor=cli_actor(), id=id, reason=reason), as_json)


def _bar(percent: float) -> str:
    colour = "green" if percent < 70 else "yellow" if percent < 90 else "red"
    return f"[{colour}]{percent:5.1f}%[/]"


@app.command("headroom")
def headroom(as_json: JsonOpt = False) -> None:
    """Allocated against capacity per cluster and host, with the HA reserve and the largest VM that still fits."""
    from dcops.capacity.headroom import headroom as compute
    from dcops.database import session_scope

    with session_scope() as session:
        result = compute(session)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    for c in result.clusters:
        table = Table(title=f"cluster {c.name} (HA reserve {c.ha_reserve_hosts} host(s)); largest standard VM "
                            f"that fits: {c.largest_standard_vm or 'none'} × {c.largest_standard_vm_count}")
        for col in ("host", "status", "VMs", "vCPU", "RAM GiB", "disk GiB", "measured CPU"):
            table.add_column(col)
        for h in c.hosts:
            table.add_row(h.name, h.status, str(h.vms),
                          *(f"{r.allocated:.0f}/{r.capacity:.0f} {_bar(r.percent)}" for r in (h.vcpus, h.ram_gib,
                                                                                           h.disk_gib)),
                          "-" if h.measured_cpu_percent is None else f"{h.measured_cpu_percent:.0f}%")
        r = c.resources
        table.add_row("[bold]usable (reserve held back)[/]", "", "",
                      *(f"{r[k]['allocated']:.0f}/{r[k]['usable']:.0f} {_bar(r[k]['percent'])}"
                        for k in ("vcpus", "ram_gib", "disk_gib")), "")
        console.print(table)
    for hint in result.hints:
        console.print(f"[cyan]right-sizing[/] {hint.agency_code}: {hint.hint}", highlight=False)


@app.command("rebalance")
def rebalance(
    goal: Annotated[str, typer.Option("--goal", help="free-hosts or fix")] = "free-hosts",
    as_json: JsonOpt = False,
) -> None:
    """Propose live migrations that free hosts or fix violations (nothing is executed)."""
    from dcops.capacity.headroom import rebalance as compute
    from dcops.database import session_scope

    if goal not in ("free-hosts", "fix"):
        raise ValidationError("--goal must be free-hosts or fix", field="goal")
    with session_scope() as session:
        plan = compute(session, goal=goal)
    if as_json:
        typer.echo(json.dumps(plan.model_dump(mode="json"), indent=2))
        return
    table = Table(title=f"rebalance ({goal}): hosts in use {plan.hosts_in_use_before} → {plan.hosts_in_use_after}")
    for col in ("step", "VM", "from", "to", "why"):
        table.add_column(col)
    for s in plan.steps:
        table.add_row(str(s.step), s.vm, s.from_host, s.to_host, s.reason)
    console.print(table)
    console.print(plan.note)
