"""``dcops plan``: show the budget plan as Rich tables, compare server models, export CSV/XLSX/JSON, growth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="Forecast and budget plan.", no_args_is_help=True)
growth_app = typer.Typer(help="Stored growth assumptions per agency.", no_args_is_help=True)
app.add_typer(growth_app, name="growth")

Years = Annotated[int, typer.Option("--years", help="fiscal years after the current one (1-10)")]
Models = Annotated[list[str], typer.Option("--model", help="device type slug or model name; repeat to compare")]
Growth = Annotated[float | None, typer.Option("--growth-percent", help="what-if: this growth for every agency")]
ClusterOpt = Annotated[str | None, typer.Option("--cluster", help="default: the cluster with most hypervisors")]
Ratio = Annotated[float | None, typer.Option(help="what-if allocation ratio")]
Reserve = Annotated[int | None, typer.Option("--ha-reserve-hosts", help="what-if HA reserve (hosts)")]


def rupiah(amount: int | float) -> str:
    """Format Rupiah the Indonesian way: Rp 1.234.567."""
    return "Rp " + f"{int(amount):,}".replace(",", ".")


def _request(model: str, years: int, cluster: str | None, growth: float | None, vcpu_ratio: float | None,
             ram_ratio: float | None, disk_ratio: float | None, reserve: int | None) -> Any:
    from dcops.capacity.planning import PlanRequest

    return PlanRequest(model=model, years=years, cluster=cluster, growth_percent=growth, vcpu_ratio=vcpu_ratio,
                       ram_ratio=ram_ratio, disk_ratio=disk_ratio, ha_reserve_hosts=reserve)


def _plans(requests: list[Any]) -> list[Any]:
    from dcops.capacity.planning import build_plan
    from dcops.cli import cli_actor
    from dcops.database import session_scope

    with session_scope() as session:
        return [build_plan(session, actor=cli_actor(), request=r) for r in requests]


@app.command("show")
def show(
    model: Models,
    years: Years = 3,
    cluster: ClusterOpt = None,
    growth_percent: Growth = None,
    vcpu_ratio: Ratio = None,
    ram_ratio: Ratio = None,
    disk_ratio: Ratio = None,
    ha_reserve_hosts: Reserve = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON for scripts")] = False,
) -> None:
    """Show the plan per fiscal year; with several --model, compare them side by side."""
    from dcops.capacity.export import plan_dict
    from dcops.capacity.planning import comparison_rows

    plans = _plans([_request(m, years, cluster, growth_percent, vcpu_ratio, ram_ratio, disk_ratio,
                             ha_reserve_hosts) for m in model])
    if as_json:
        data: Any = plan_dict(plans[0]) if len(plans) == 1 else {
            "summary": comparison_rows(plans), "plans": [plan_dict(p) for p in plans]}
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for plan in plans:
        _print_plan(plan)
    if len(plans) > 1:
        _print_comparison(comparison_rows(plans))


def _print_plan(plan: Any) -> None:
    from rich.table import Table

    from dcops.cli import console

    m = plan.model
    cap = plan.per_new_server
    title = (f"Budget plan {plan.baseline_year + 1}-{plan.baseline_year + plan.years} · cluster "
             f"{plan.cluster or '(none)'} · {m['model']} ({cap['vcpus']} vCPU, {cap['ram_gib']} GiB RAM, "
             f"{cap['disk_gib']} GiB disk per server, {rupiah(m['price_idr'])}) · N+{plan.ha_reserve_hosts}")
    table = Table(title=title, title_justify="left")
    for col in ("FY", "vCPU", "RAM GiB", "disk GiB", "binding", "hosts", "buy", "cost", "U", "kW", "room"):
        table.add_column(col, justify="left" if col in ("binding", "room") else "right")
    table.add_row(str(plan.baseline_year), *(f"{plan.baseline_demand[r]:,}" for r in ("vcpus", "ram_gib",
                                                                                        "disk_gib")),
                  "", str(len(plan.existing_hosts)), "", "", "", "", "baseline")
    for y in plan.fiscal_years:
        room = "holds" if y.room_holds else (
            f"short: {y.servers_unplaceable} server(s)"
            + (f", {y.rack_units_short} U" if y.rack_units_short else "")
            + (f", {y.power_kw_short:g} kW" if y.power_kw_short else ""))
        table.add_row(str(y.fiscal_year), *(f"{y.demand[r]:,}" for r in ("vcpus", "ram_gib", "disk_gib")),
                      y.binding_resource, str(y.hosts_total), str(y.servers_to_buy), rupiah(y.cost_idr),
                      str(y.rack_units_needed), f"{y.power_kw_needed:g}", room)
    t = plan.totals
    table.add_row("total", "", "", "", "", str(t["hosts_at_end"]), str(t["servers_to_buy"]), rupiah(t["cost_idr"]),
                  str(t["rack_units"]), f"{t['power_kw']:g}", "", style="bold")
    console.print(table)
    if plan.power_unknown:
        console.print(f"[yellow]power unknown (no figure, not counted in kW): {', '.join(plan.power_unknown)}[/]")


def _print_comparison(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from dcops.cli import console

    table = Table(title="Server models compared", title_justify="left")
    for col in ("model", "buy", "cost", "U", "kW", "hosts at end", "binding", "room holds"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["model"], str(r["servers_to_buy"]), rupiah(r["cost_idr"]), str(r["rack_units"]),
                      f"{r['power_kw']:g}", str(r["hosts_at_end"]), r["binding_resource"],
                      "yes" if r["room_holds"] else "no")
    console.print(table)


@app.command("export")
def export_cmd(
    model: Annotated[str, typer.Option("--model", help="device type slug or model name")],
    output: Annotated[Path, typer.Option("-o", "--output", help="file to write")],
    years: Years = 3,
    fmt: Annotated[str, typer.Option("--format", help="xlsx, csv or json")] = "xlsx",
    table: Annotated[str, typer.Option("--table", help="CSV only: summary or agencies")] = "summary",
    cluster: ClusterOpt = None,
    growth_percent: Growth = None,
    vcpu_ratio: Ratio = None,
    ram_ratio: Ratio = None,
    disk_ratio: Ratio = None,
    ha_reserve_hosts: Reserve = None,
) -> None:
    """Write the plan to a file for the budget planners (atomically)."""
    from dcops.capacity.export import FORMATS, render
    from dcops.cli import console
    from dcops.exceptions import ValidationError

    if fmt not in FORMATS:
        raise ValidationError(f"--format: choose one of {', '.join(FORMATS)}", field="format")
    if table not in ("summary", "agencies"):
        raise ValidationError("--table: choose summary or agencies", field="table")
    plan = _plans([_request(model, years, cluster, growth_percent, vcpu_ratio, ram_ratio, disk_ratio,
                            ha_reserve_hosts)])[0]
    body = render(plan, fmt, table)
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_bytes(body)
    tmp.replace(output)
    t = plan.totals
    console.print(f"wrote {output} ({len(body):,} bytes): {t['servers_to_buy']} server(s) to buy over "
                  f"{plan.years} year(s), {rupiah(t['cost_idr'])}")


@growth_app.command("list")
def growth_list(as_json: Annotated[bool, typer.Option("--json", help="print JSON for scripts")] = False) -> None:
    """List the stored growth assumptions."""
    from dcops.capacity.planning import list_assumptions
    from dcops.cli import cli_actor, print_rows
    from dcops.database import session_scope

    with session_scope() as session:
        rows = [a.model_dump(mode="json") for a in list_assumptions(session, actor=cli_actor())]
    print_rows(rows, ["agency_code", "percent", "vcpus_per_year", "ram_gib_per_year", "disk_gib_per_year", "note",
                      "updated_by"], title="Growth assumptions", as_json=as_json)


@growth_app.command("set")
def growth_set(
    code: Annotated[str, typer.Argument(help="agency code, e.g. DINKES")],
    percent: Annotated[float | None, typer.Option("--percent", help="percent per year")] = None,
    vcpus: Annotated[float | None, typer.Option("--vcpus-per-year")] = None,
    ram_gib: Annotated[float | None, typer.Option("--ram-gib-per-year")] = None,
    disk_gib: Annotated[float | None, typer.Option("--disk-gib-per-year")] = None,
    note: Annotated[str, typer.Option("--note", help="why, for the next planner")] = "",
) -> None:
    """Store agency CODE's growth: --percent, or amounts added per year."""
    from dcops.capacity.planning import GrowthAssumptionIn, set_assumption
    from dcops.cli import cli_actor, console
    from dcops.database import session_scope

    data = GrowthAssumptionIn(percent=percent, vcpus_per_year=vcpus, ram_gib_per_year=ram_gib,
                              disk_gib_per_year=disk_gib, note=note)
    with session_scope() as session:
        stored = set_assumption(session, actor=cli_actor(), code=code, data=data)
    console.print(f"growth assumption of {stored.agency_code} stored: {data.growth().describe()}")


@growth_app.command("clear")
def growth_clear(code: Annotated[str, typer.Argument(help="agency code")]) -> None:
    """Forget agency CODE's stored growth assumption (its history applies again)."""
    from dcops.capacity.planning import clear_assumption
    from dcops.cli import cli_actor, console
    from dcops.database import session_scope

    with session_scope() as session:
        clear_assumption(session, actor=cli_actor(), code=code)
    console.print(f"growth assumption of {code.upper()} cleared")
