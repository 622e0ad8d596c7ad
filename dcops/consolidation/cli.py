"""``dcops consolidation ...``: the board, applications, starting a migration, cost per agency, XLSX exports."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

COMMAND = "consolidation"
app = typer.Typer(help="Agency applications, migration waves, the consolidation board and cost per agency.",
                  no_args_is_help=True)
Json = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
Lang = Annotated[str, typer.Option("--lang", help="XLSX headers: id (Indonesian) or en")]


def _rp(amount: float) -> str:
    return "Rp " + f"{round(amount):,}".replace(",", ".")


@app.command("board")
def board_cmd(as_json: Json = False) -> None:
    """Show per agency what is in the data center and what is still outside, and the waves."""
    from rich.table import Table

    from dcops.cli import cli_actor, console
    from dcops.consolidation import reports
    from dcops.database import session_scope

    with session_scope() as session:
        b = reports.board(session, actor=cli_actor())
    if as_json:
        typer.echo(json.dumps(asdict(b), indent=2, ensure_ascii=False, default=str))
        return
    t = b.totals
    console.print(f"{t['percent']:g} % consolidated: {t['in_dc']} of {t['applications']} applications in the data "
                  f"center, {t['servers_running']} agency servers still running; agencies: "
                  + ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in b.states.items()))
    table = Table("agency", "state", "apps", "in DC", "outside", "planned", "migrating", "servers", "%")
    for a in b.agencies:
        table.add_row(a.code, a.state, str(a.applications), str(a.in_dc), str(a.outside), str(a.planned),
                      str(a.migrating), str(a.servers_running), f"{a.percent:g}")
    console.print(table)
    waves = Table("wave", "FY", "apps", "done", "vCPU", "RAM GiB", "disk GiB", "agencies")
    for w in b.waves:
        waves.add_row(w.name, str(w.fiscal_year), str(w.applications), str(w.done), str(w.vcpus), str(w.ram_gib),
                      str(w.disk_gib), ", ".join(w.agencies))
    console.print(waves)


@app.command("apps")
def apps_cmd(agency: Annotated[str | None, typer.Option("--agency", help="agency code")] = None,
             status: Annotated[str | None, typer.Option("--status", help="outside, planned, migrating, in_dc, "
                                                        "retired")] = None,
             as_json: Json = False) -> None:
    """List applications (filter by agency code and status)."""
    from rich.table import Table

    from dcops.capacity.service import agency_id_by_code
    from dcops.cli import cli_actor, console
    from dcops.consolidation import service
    from dcops.crud import ListQuery
    from dcops.database import session_scope
    from dcops.exceptions import NotFoundError

    with session_scope() as session:
        agency_id = None
        if agency:
            try:
                agency_id = agency_id_by_code(session, agency)
            except NotFoundError:
                raise typer.BadParameter(f"no agency with code {agency}", param_hint="--agency") from None
        rows, _ = service.get_all(session, actor=cli_actor(), query=ListQuery(
            limit=1000, ordering="agency_id", filters={"agency_id": agency_id, "status": status}))
        out = [service.public(session, a, events=False) for a in rows]
    if as_json:
        typer.echo(json.dumps([o.model_dump(mode="json") for o in out], indent=2, ensure_ascii=False))
        return
    table = Table("id", "agency", "application", "status", "wave", "vCPU", "RAM", "disk", "VMs", "request")
    for o in out:
        table.add_row(str(o.id), o.agency_code, o.name, str(o.status), o.wave or "", str(o.est_vcpus),
                      str(o.est_ram_gib), str(o.est_disk_gib), str(o.est_vm_count), str(o.capacity_request_id or ""))
    console.print(table)


@app.command("start")
def start_cmd(id: Annotated[int, typer.Argument(help="application id")],
              cluster_id: Annotated[int | None, typer.Option("--cluster-id")] = None) -> None:
    """Start migrating an application: file a capacity request from its estimate."""
    from dcops.cli import cli_actor, console
    from dcops.consolidation import service
    from dcops.database import session_scope

    with session_scope() as session:
        got, request = service.start(session, actor=cli_actor(), id=id, cluster_id=cluster_id)
        console.print(f"{got.name}: migrating; capacity request {request.id} filed (approve it with "
                      f"'dcops request approve {request.id}')")


@app.command("showback")
def showback_cmd(as_json: Json = False) -> None:
    """Show the yearly cost per agency, the unallocated part and the total, with the assumptions."""
    from rich.table import Table

    from dcops.cli import cli_actor, console
    from dcops.consolidation import reports
    from dcops.database import session_scope

    with session_scope() as session:
        s = reports.showback(session, actor=cli_actor())
    if as_json:
        typer.echo(json.dumps(reports.showback_dict(s), indent=2, ensure_ascii=False))
        return
    table = Table("agency", "DC cost / year", "own servers / year", "saving / year")
    for a in s.agencies:
        if a.cost_idr or a.own_servers_idr:
            table.add_row(a.code, _rp(a.cost_idr), _rp(a.own_servers_idr), _rp(a.saving_idr))
    console.print(table)
    console.print(f"unallocated (idle) {_rp(s.unallocated_idr)}; data center total {_rp(s.total_idr)} per year")
    console.print("assumptions: " + ", ".join(f"{k}={v}" for k, v in asdict(s.assumptions).items()))


@app.command("export")
def export_cmd(what: Annotated[str, typer.Argument(help="board or showback")],
               output: Annotated[Path, typer.Option("-o", "--output", help="XLSX file to write")],
               lang: Lang = "id") -> None:
    """Write the board or the cost per agency (for RKA) as XLSX."""
    from dcops.cli import cli_actor, console
    from dcops.consolidation import reports, xlsx
    from dcops.database import session_scope

    if what not in ("board", "showback") or lang not in ("id", "en"):
        raise typer.BadParameter("give board or showback, and --lang id or en")
    with session_scope() as session:
        body: Any = (xlsx.board_workbook(reports.board(session, actor=cli_actor()), lang) if what == "board"
                     else xlsx.showback_workbook(reports.showback(session, actor=cli_actor()), lang))
    output.write_bytes(body)
    console.print(f"wrote {output} ({len(body):,} bytes)")
