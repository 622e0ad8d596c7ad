"""The ``dcops`` command: the root Typer app; features add their sub-commands here."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from dcops.exceptions import DcopsError

# SQLAlchemy, pydantic and the features are imported only by the commands that use them: 'dcops --help'
# starts in a fraction of a second (see dcops.cli_index).


def get_settings() -> Any:
    """The process settings (imported on first use: pydantic-settings is not needed for --help)."""
    from dcops.config import get_settings as settings

    return settings()


def _clean_flag_help() -> None:
    """Show no type after a flag in --help (``--json`` rather than ``--json <bool>``)."""
    from typer.core import TyperOption

    original = TyperOption.display_type_rich
    if getattr(original, "_dcops", False):
        return

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        return None if self.is_flag else original(self, ctx)

    display_type_rich._dcops = True  # type: ignore[attr-defined]  # a marker on a function object
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]  # a deliberate patch of typer


_clean_flag_help()

app = typer.Typer(name="dcops", help="Control plane of the central data center.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")

def _width(stream: Any) -> int | None:
    """Full width when piped (Rich would cut tables to 80 columns): $COLUMNS, or wide enough for any row."""
    import os

    if stream.isatty():
        return None
    return int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else 4000


console = Console(width=_width(sys.stdout))
err_console = Console(stderr=True, width=_width(sys.stderr))

_ISO_TIME = None


def local_time(value: Any) -> Any:
    """Write a UTC time (a datetime or an ISO string with a zone) in the data center's zone: ``2026-11-23 19:05 WIB``.

    Anything else comes back unchanged. The zone is the ``timezone`` setting (Asia/Jakarta, WIB, by default).
    """
    import re
    from datetime import datetime
    from zoneinfo import ZoneInfo

    global _ISO_TIME
    if _ISO_TIME is None:
        _ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
    if isinstance(value, str) and _ISO_TIME.match(value):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    zone = get_settings().timezone
    names = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}
    local = value.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M} {names.get(zone, local.tzname() or zone)}"

HostOpt = Annotated[str | None, typer.Option("--host", help="listen address (default 127.0.0.1)")]
PortOpt = Annotated[int | None, typer.Option("--port", help="listen port (default 8000)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]


def print_rows(rows: list[dict[str, Any]], columns: list[str], *, title: str, as_json: bool) -> None:
    """Print rows as a Rich table (times in WIB), or as JSON with ``--json`` (times in UTC, ISO 8601)."""
    if as_json:
        typer.echo(json.dumps(rows, default=str, indent=2))
        return
    from rich.table import Table

    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(local_time(row.get(c))) for c in columns))
    console.print(table)


def cli_actor() -> Any:
    """The actor of commands run on the server itself: an administrator named after the OS user."""
    import getpass

    from dcops.actor import Actor, Role

    return Actor(user_id=None, username=f"cli:{getpass.getuser()}", role=Role.ADMIN)


def prepare_database() -> None:
    """Apply migrations and make sure the secret key exists."""
    from dcops.database import upgrade
    from dcops.security import ensure_secret_key

    settings = get_settings()
    assert settings.secret_key_file is not None
    ensure_secret_key(settings.secret_key_file)
    upgrade()


WorkersOpt = Annotated[int, typer.Option(
    "--workers", min=1, help="API processes; more than 1 needs DCOPS_BACKGROUND=false (background work then runs "
                             "in 'dcops worker' and 'dcops scheduler')")]


def check_workers(workers: int) -> None:
    """Refuse several API processes that would each run the background services (pollers, trap port, jobs)."""
    if workers > 1 and get_settings().background:
        err_console.print(f"--workers {workers}: every API process would run its own poller, trap receiver and job "
                          "runner. Set DCOPS_BACKGROUND=false and run the background work apart: 'dcops worker' "
                          "and 'dcops scheduler' (with DCOPS_BROKER_URL), or one 'dcops poller' and 'dcops worker'.")
        raise typer.Exit(2)


def run_server(host: str | None, port: int | None, workers: int = 1) -> None:
    """Serve the API (and, as they arrive, the console and background services)."""
    import uvicorn

    settings = get_settings()
    uvicorn.run("dcops.main:serve_app", factory=True, host=host or settings.host, port=port or settings.port,
                log_level=settings.log_level, workers=workers,
                proxy_headers=False)  # dcops.proxy honours trusted proxies only


@app.command()
def serve(host: HostOpt = None, port: PortOpt = None, workers: WorkersOpt = 1) -> None:
    """Apply migrations and serve dcops."""
    check_workers(workers)
    prepare_database()
    run_server(host, port, workers)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "heads") -> None:
    """Apply schema migrations up to REVISION (default: the newest)."""
    from dcops.database import upgrade

    upgrade(revision=revision)
    console.print(f"database at [bold]{_safe_url()}[/] is at revision {revision}")


def _safe_url() -> str:
    from sqlalchemy.engine import make_url

    return make_url(get_settings().database_url).render_as_string(hide_password=True)


_registered: set[str] = set()


def _register(sub_app: typer.Typer, name: str | None, module: str) -> None:
    if module in _registered:
        return
    _registered.add(module)
    if name is None:
        app.registered_commands.extend(sub_app.registered_commands)
        app.registered_groups.extend(sub_app.registered_groups)
    else:
        app.add_typer(sub_app, name=name)


def _register_features() -> None:
    """Add the sub-commands of each feature (importing every feature)."""
    from dcops import features

    for module in features._modules("cli"):
        if hasattr(module, "app"):
            _register(module.app, getattr(module, "COMMAND", None), module.__name__)


def _command_name(argv: list[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def _register_lazily(argv: list[str]) -> None:
    """Import only the feature that provides the command in ``argv`` (all of them when the index is stale)."""
    import importlib

    from dcops.cli_index import load_index

    index = load_index()
    name = _command_name(argv)
    core = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    core |= {g.name for g in app.registered_groups if g.name}
    if index is None:
        _register_features()
        return
    if name in core:
        return
    entry = next((c for c in index["commands"] if c["name"] == name), None)
    if entry is not None:
        module = importlib.import_module(entry["module"])
        _register(module.app, getattr(module, "COMMAND", None), module.__name__)
    elif name is None:  # the command list (--help): names and help lines from the index
        for item in index["commands"]:
            if item["group"]:
                app.add_typer(typer.Typer(help=item["help"]), name=item["name"])
            else:
                app.command(name=item["name"], help=item["help"])(_not_loaded)
    else:
        _register_features()  # an unknown command: let click name the real ones


def _not_loaded() -> None:  # pragma: no cover - listed in --help only, never run
    raise DcopsError("internal error: a command listed from the index was run without its feature")


def main() -> None:
    """Entry point: run the CLI, turning errors into one line and a non-zero exit."""
    from click import ClickException

    _register_lazily(sys.argv[1:])
    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:  # typer.Exit(n) comes back as a return value here
            sys.exit(code)
    except DcopsError as exc:
        err_console.print(f"[red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except ClickException as exc:  # usage errors and the like
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:
        _report(exc)


def _report(exc: Exception) -> None:
    """Print a validation or database error as one line (those libraries are loaded only if they were used)."""
    pydantic_errors = sys.modules.get("pydantic_core")
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if pydantic_errors is not None and isinstance(exc, pydantic_errors.ValidationError):
        msgs = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        err_console.print(f"[red]error:[/] {msgs}", highlight=False, soft_wrap=True)
        sys.exit(2)
    if sa_exc is not None and isinstance(exc, sa_exc.OperationalError):
        err_console.print(f"[red]error:[/] database unreachable or busy ({_safe_url()}): {exc.orig}",
                          highlight=False, soft_wrap=True)
        sys.exit(8)
    err_console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
    sys.exit(1)
