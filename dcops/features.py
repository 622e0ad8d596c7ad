"""Where each feature plugs its CLI commands into ``dcops`` (keeps cli.py free of feature imports)."""

from __future__ import annotations

import typer


def cli_apps() -> list[tuple[typer.Typer, str | None]]:
    """Return (Typer app, sub-command name or None to merge at the top level) for each feature."""
    apps: list[tuple[typer.Typer, str | None]] = []
    return apps
