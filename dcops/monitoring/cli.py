"""Monitoring commands at the top level of ``dcops``: poll, poller, alerts, snmp audit."""

import typer

from dcops.monitoring.alerts_cli import app as alerts_app
from dcops.monitoring.poll_cli import app as poll_app

app = typer.Typer()
COMMAND = None
for _sub in (poll_app, alerts_app):
    app.registered_commands.extend(_sub.registered_commands)
    app.registered_groups.extend(_sub.registered_groups)
