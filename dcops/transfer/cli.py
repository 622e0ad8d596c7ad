"""``dcops import`` and ``dcops export``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dcops.cli import JsonOpt, cli_actor, console, err_console, prepare_database
from dcops.transfer.formats import format_for, read_rows, write_rows

app = typer.Typer()
COMMAND = None

KINDS_HELP = "racks, devices, agencies, vms or device-types"
FormatOpt = Annotated[str | None, typer.Option("--format", "-f", help="csv or yaml (default: from the file name)")]


@app.command("import")
def import_(
    kind: Annotated[str, typer.Argument(help=KINDS_HELP)],
    path: Annotated[Path, typer.Argument(help="CSV or YAML file ('-' for stdin); a file or folder for device-types")],
    fmt: FormatOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check every row, write nothing")] = False,
    allow_power_overcommit: Annotated[bool, typer.Option(
        "--allow-power-overcommit", help="accept rack power budget overruns with a warning")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Import objects from a file, all or nothing; every bad row is listed with its line."""
    from dcops.database import session_scope
    from dcops.transfer.service import ImportRefused, import_rows, kind_named

    prepare_database()
    if kind == "device-types":
        _import_device_types(path, as_json)
        return
    spec = kind_named(kind)
    text = sys.stdin.read() if str(path) == "-" else _read(path)
    rows = read_rows(text, format_for(None if str(path) == "-" else path.name, fmt or ("csv" if str(path) == "-"
                                                                                        else None)))
    show_bar = not as_json and len(rows) >= 500 and err_console.is_terminal
    try:
        with session_scope() as session, _progress(show_bar, len(rows), f"checking {spec.name}") as advance:
            result = import_rows(session, actor=cli_actor(), kind=spec, rows=rows, dry_run=dry_run,
                                 options={"allow_power_overcommit": allow_power_overcommit}, progress=advance)
    except ImportRefused as exc:
        bad = exc.result.errors
        if as_json:
            typer.echo(json.dumps({"kind": spec.name, "created": 0, "errors": [e.__dict__ for e in bad]}, indent=2))
        else:
            table = Table(title=f"{len(bad)} bad row(s) in {path}: nothing was imported")
            table.add_column("line", justify="right")
            table.add_column("reason")
            for e in bad:
                table.add_row(str(e.line), e.message)
            err_console.print(table)
        raise typer.Exit(exc.exit_code) from None
    summary = {"kind": spec.name, "dry_run": dry_run, ("would_create" if dry_run else "created"): result.created,
               "warnings": result.warnings}
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    verb = "would create" if dry_run else "created"
    console.print(f"{spec.name}: {verb} {result.created} from {path}" + (" (dry run: nothing written)" if dry_run
                                                                          else ""))


def _read(path: Path) -> str:
    from dcops.exceptions import ValidationError

    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None


class _progress:  # noqa: N801 - used as a context manager
    """A Rich progress bar on stderr for long imports; a no-op otherwise."""

    def __init__(self, show: bool, total: int, label: str) -> None:
        self.show, self.total, self.label = show, total, label
        self.bar: Progress | None = None

    def __enter__(self) -> Callable[[int], None] | None:
        if not self.show:
            return None
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=err_console, transient=True)
        self.bar.start()
        task = self.bar.add_task(self.label, total=self.total)
        bar = self.bar
        return lambda done: bar.update(task, completed=done)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _import_device_types(path: Path, as_json: bool) -> None:
    from dcops.database import session_scope
    from dcops.exceptions import ValidationError
    from dcops.transfer.devicetypes import import_device_types
    from dcops.transfer.service import iter_files

    if not path.exists():
        raise ValidationError(f"{path} does not exist")
    files = iter_files(path, (".yaml", ".yml"))
    if not files:
        raise ValidationError(f"no .yaml or .yml files under {path}")
    with session_scope() as session:
        outcome = import_device_types(session, actor=cli_actor(), files=files)
    if as_json:
        typer.echo(json.dumps(outcome.__dict__, indent=2))
    else:
        console.print(f"device types: {len(outcome.created)} created, {len(outcome.updated)} updated, "
                      f"{len(outcome.unchanged)} unchanged, {len(outcome.failed)} failed")
        for name, reason in outcome.failed.items():
            err_console.print(f"[red]error:[/] {name}: {reason}", highlight=False, soft_wrap=True)
    if outcome.failed:
        raise typer.Exit(2)


@app.command("export")
def export(
    kind: Annotated[str, typer.Argument(help="racks, devices, agencies or vms")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write (default: stdout)")] = None,
    fmt: FormatOpt = None,
) -> None:
    """Export objects as CSV or YAML that `dcops import` reads back."""
    from dcops.database import session_scope
    from dcops.transfer.service import export_records, kind_named

    spec = kind_named(kind)
    chosen = format_for(output.name if output else None, fmt or (None if output else "csv"))
    with session_scope() as session:
        records = export_records(session, actor=cli_actor(), kind=spec)
    text = write_rows(records, spec.columns, chosen, kind=spec.name)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"{len(records)} {spec.name} written to {output}")
