"""``dcops scheduler``: the leader that enqueues poll slices and periodic work (``dcops worker`` runs them)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True)
COMMAND = None
console = Console()


@app.command("scheduler")
def scheduler(
    tick: Annotated[float, typer.Option(help="seconds between two scheduling rounds")] = 5.0,
    slice_size: Annotated[int, typer.Option("--slice-size", help="devices per poll slice")] = 50,
) -> None:
    """Schedule polls and periodic work onto the broker (one leader; a second scheduler waits as standby)."""
    import logging
    import signal
    import threading

    from dcops.cli import prepare_database
    from dcops.config import get_settings
    from dcops.engine.scheduler import run

    if not get_settings().broker_url:
        console.print("[red]dcops scheduler needs DCOPS_BROKER_URL (e.g. amqp://guest:guest@127.0.0.1:5672//);"
                      " without a broker, 'dcops serve' (or 'dcops poller') does this work in one process[/red]")
        raise typer.Exit(2)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    prepare_database()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print("scheduler started (standby until it holds the leader lock); Ctrl-C stops it")
    try:
        run(stop, tick_s=tick, slice_size=slice_size)
    except KeyboardInterrupt:
        stop.set()
