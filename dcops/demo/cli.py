"""``dcops demo``: load the demo data center and serve it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from dcops.cli import HostOpt, JsonOpt, PortOpt, console, err_console, prepare_database, run_server

app = typer.Typer()
COMMAND = None


def use_demo_folder(data_dir: Path | None) -> Path:
    """Point this process's settings at the demo's own folder and SQLite database; return the folder."""
    from dcops.config import get_settings
    from dcops.database import dispose_engines

    production = get_settings()
    folder = (data_dir or production.data_dir / "demo").expanduser().resolve()
    url = f"sqlite:///{folder / 'dcops.db'}"
    if url == production.database_url or folder == production.data_dir.expanduser().resolve():
        from dcops.exceptions import DcopsError

        raise DcopsError(f"{folder} is the data directory of 'dcops serve'; the demo needs a folder of its own")
    os.environ.update({"DCOPS_DATA_DIR": str(folder), "DCOPS_DATABASE_URL": url,
                       "DCOPS_SECRET_KEY_FILE": str(folder / "secret.key")})
    get_settings.cache_clear()
    dispose_engines()
    return folder


@app.command()
def demo(
    host: HostOpt = None,
    port: PortOpt = None,
    serve: bool = typer.Option(True, "--serve/--no-serve", help="serve the API after loading the demo"),
    monitoring: bool = typer.Option(True, "--monitoring/--no-monitoring",
                                    help="start simulated SNMP agents (snmpsim) for the demo devices while serving"),
    data_dir: Path | None = typer.Option(None, "--data-dir",
                                         help="the demo's own folder (default: <data dir>/demo)"),
    as_json: JsonOpt = False,
) -> None:
    """Load (idempotently) a demo provincial data center, print the demo users, and serve it.

    The demo keeps its database, secret key and simulator files in its own folder, never in the
    database 'dcops serve' uses.
    """
    from dcops.config import get_settings
    from dcops.database import session_scope
    from dcops.demo.build import build_demo

    folder = use_demo_folder(data_dir)
    (err_console if as_json else console).print(
        f"demo data in {folder} (its own database; 'dcops serve' never uses it)", highlight=False, soft_wrap=True)
    prepare_database()
    with session_scope() as session:
        summary = build_demo(session)
    settings = get_settings()
    base = f"http://{host or settings.host}:{port or settings.port}"
    if as_json:
        typer.echo(json.dumps({"created": summary.created, "url": base,
                               "users": [u.__dict__ for u in summary.users]}, indent=2))
    else:
        created = ", ".join(f"{n} {k}" for k, n in summary.created.items()) or "nothing new (already loaded)"
        console.print(f"demo data center loaded: {created}")
        # plain lines, not a table: a token must never be cut or wrapped, whatever the terminal width
        typer.echo("demo users (a new password and API token on every run; tokens last 30 days):")
        for u in summary.users:
            who = f"{u.role} of {u.agency}" if u.agency else u.role
            typer.echo(f"  {u.username:<14} {who:<24} password: {u.password}  token: {u.token}")
        admin = summary.users[0]
        console.print(f"console:  {base}/  (log in with a demo user and its password; /health?kiosk=1 for a wall)",
                      soft_wrap=True, highlight=False)
        console.print(f"API docs: {base}/docs  (press Authorize and paste a token)", soft_wrap=True)
        console.print(f"try:      curl -H 'Authorization: Bearer {admin.token}' {base}/api/v1/dcim/racks",
                      soft_wrap=True, highlight=False)
        console.print(f"log in:   curl -X POST {base}/api/v1/auth/login -H 'Content-Type: application/json' "
                      f"-d '{{\"username\": \"{admin.username}\", \"password\": \"{admin.password}\"}}'",
                      soft_wrap=True, highlight=False)
    if not serve:
        return
    simulator = None
    if monitoring:
        from dcops.demo.monitoring import start_simulation

        with session_scope() as session:
            simulator = start_simulation(session, settings.data_dir)
        console.print(f"monitoring: simulated SNMP agents for every device on udp://127.0.0.1:{simulator.port}; "
                      "the poller polls them every 20 s", soft_wrap=True, highlight=False)
    try:
        run_server(host, port)
    finally:
        if simulator is not None:
            simulator.stop()
