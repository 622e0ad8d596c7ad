"""``dcops alerts list|show|ack|resolve|silence|silences`` and ``dcops snmp audit``."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dcops.cli import JsonOpt, cli_actor, console, local_time, prepare_database, print_rows
from dcops.crud import ListQuery
from dcops.database import session_scope, utcnow

if TYPE_CHECKING:
    from sqlmodel import Session

app = typer.Typer()
alerts_app = typer.Typer(help="Alerts: list, acknowledge, resolve, silence.", no_args_is_help=True)
snmp_app = typer.Typer(help="SNMP security checks.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")
app.add_typer(snmp_app, name="snmp")

COLUMNS = ["id", "state", "severity", "rule", "device_name", "subject", "summary", "started_at", "acknowledged_by"]


def _row(alert: Any) -> dict[str, Any]:
    from dcops.crud import jsonable

    return {c.name: jsonable(getattr(alert, c.name)) for c in alert.__table__.columns if c.name != "open_key"}



def _device_id(session: Session, name: str | None) -> int | None:
    """Return the id of the device named ``name`` (None for no name); a wrong name is a usage error."""
    from dcops.monitoring.device_reads import device_id_named

    if not name:
        return None
    device_id = device_id_named(session, name)
    if device_id is None:
        raise typer.BadParameter(f"no device named '{name}'", param_hint="--device")
    return device_id


@alerts_app.command("list")
def list_alerts(
    state: Annotated[str | None, typer.Option(help="pending, firing, acknowledged or resolved")] = None,
    severity: Annotated[str | None, typer.Option(help="critical, warning or info")] = None,
    device: Annotated[str | None, typer.Option(help="device name")] = None,
    rule: Annotated[str | None, typer.Option(help="rule name")] = None,
    all_: Annotated[bool, typer.Option("--all", help="include resolved alerts")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List open alerts (or filter them), newest first."""
    from dcops.monitoring.alerting import alerts

    prepare_database()
    with session_scope() as session:
        device_id = _device_id(session, device)
        filters = {"state": state, "severity": severity, "device_id": device_id, "rule": rule}
        rows, _ = alerts.get_all(session, actor=cli_actor(), query=ListQuery(limit=limit, filters=filters))
        if not (all_ or state):
            rows = [r for r in rows if r.state != "resolved"]
        print_rows([_row(r) for r in rows], COLUMNS, title="alerts", as_json=as_json)


@alerts_app.command("show")
def show(alert_id: int, as_json: JsonOpt = False) -> None:
    """Show one alert and its history."""
    from dcops.monitoring.alerting import alerts, events_of

    prepare_database()
    with session_scope() as session:
        alert = alerts.get(session, actor=cli_actor(), id=alert_id)
        history = [{"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "message": e.message}
                   for e in events_of(session, actor=cli_actor(), id=alert_id)]
        if as_json:
            typer.echo(json.dumps({**_row(alert), "events": history}, indent=2, default=str))
            return
        for key, value in _row(alert).items():
            console.print(f"[bold]{key}[/bold]: {local_time(value)}", highlight=False)
        print_rows(history, ["at", "kind", "actor", "message"], title="history", as_json=False)


@alerts_app.command("ack")
def ack(alert_id: int, comment: Annotated[str, typer.Option("--comment", "-m", "-c", help="what you are doing")] = "",
        as_json: JsonOpt = False) -> None:
    """Acknowledge a firing alert."""
    from dcops.monitoring.alerting import acknowledge

    prepare_database()
    with session_scope() as session:
        alert = acknowledge(session, actor=cli_actor(), id=alert_id, comment=comment)
        _done(alert, as_json, "acknowledged")


@alerts_app.command("resolve")
def resolve_cmd(alert_id: int, comment: Annotated[str, typer.Option("--comment", "-m", "-c")] = "",
                as_json: JsonOpt = False) -> None:
    """Resolve an open alert by hand."""
    from dcops.monitoring.alerting import resolve

    prepare_database()
    with session_scope() as session:
        alert = resolve(session, actor=cli_actor(), id=alert_id, comment=comment)
        _done(alert, as_json, "resolved")


def _done(alert: Any, as_json: bool, word: str) -> None:
    if as_json:
        typer.echo(json.dumps(_row(alert), indent=2, default=str))
    else:
        console.print(f"alert {alert.id} ({alert.rule} {alert.device_name} {alert.subject}) {word}")


@alerts_app.command("silence")
def silence(
    comment: Annotated[str, typer.Option("--comment", "-m", "-c", help="why (required)")],
    device: Annotated[str | None, typer.Option(help="device name")] = None,
    rule: Annotated[str | None, typer.Option(help="rule name")] = None,
    severity: Annotated[str | None, typer.Option(help="critical, warning or info")] = None,
    hours: Annotated[float, typer.Option(min=0.01, max=24 * 90, help="how long")] = 2.0,
    as_json: JsonOpt = False,
) -> None:
    """Withhold notifications for matching alerts for a while (the alerts still record)."""
    from dcops.monitoring.alerting import create_silence

    prepare_database()
    with session_scope() as session:
        device_id = _device_id(session, device)
        now = utcnow()
        obj = create_silence(session, actor=cli_actor(), data={
            "device_id": device_id, "rule": rule, "severity": severity, "starts_at": now,
            "ends_at": now + timedelta(hours=hours), "comment": comment})
        if as_json:
            typer.echo(json.dumps({"id": obj.id, "ends_at": obj.ends_at.isoformat()}))
        else:
            console.print(f"silence {obj.id} until {local_time(obj.ends_at)}")


@alerts_app.command("silences")
def list_silences(as_json: JsonOpt = False) -> None:
    """List the silences still in force."""
    from dcops.monitoring import device_reads
    from dcops.monitoring.alerting import silences

    prepare_database()
    with session_scope() as session:
        rows, _ = silences.get_all(session, actor=cli_actor(), query=ListQuery(limit=1000))
        now = utcnow()
        names = device_reads.device_names(session, {s.device_id for s in rows if s.device_id})
        shown = [{"id": s.id, "device_id": s.device_id, "device": names.get(s.device_id or 0), "rule": s.rule,
                  "severity": s.severity, "ends_at": s.ends_at.isoformat(), "created_by": s.created_by,
                  "comment": s.comment}
                 for s in rows if s.ends_at > now]
        print_rows(shown, ["id", "device", "rule", "severity", "ends_at", "created_by", "comment"],
                   title="silences", as_json=as_json)


@snmp_app.command("audit")
def audit_cmd(
    devices: Annotated[list[str] | None, typer.Argument(help="device names (default: every device with an address)")]
    = None,
    timeout: Annotated[float, typer.Option(min=0.1, max=30)] = 1.0,
    as_json: JsonOpt = False,
) -> None:
    """Probe devices with the default communities public/private over v1/v2c; flag v3-only devices answering."""
    from dcops.monitoring.audit import audit

    prepare_database()
    with session_scope() as session:
        results = audit(session, names=devices or None, timeout=timeout)
    rows = [{"device": r.device, "address": f"{r.address}:{r.port}", "v3_only": r.v3_only,
             "answers": ", ".join(f"v{v} {c}" for v, c in r.answered), "findings": "; ".join(r.findings),
             "error": r.error} for r in results]
    print_rows(rows, ["device", "address", "v3_only", "answers", "findings", "error"], title="SNMP audit",
               as_json=as_json)
    if any(r.findings for r in results):
        raise typer.Exit(1)
