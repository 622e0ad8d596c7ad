"""``dcops poll`` (one poll, printed) and ``dcops poller`` (the poller alone, for production)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Annotated, Any

import typer
from rich.table import Table

from dcops.cli import JsonOpt, console, prepare_database

app = typer.Typer()

Secret = dict(show_default=False, hide_input=True)


def _parse_target(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep:
        return value, 161
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return host, int(port)
    except ValueError:
        raise typer.BadParameter(f"'{value}' is not HOST:PORT") from None


def _print_result(result: Any, as_json: bool, discovery: dict[str, Any] | None = None) -> None:
    samples = [{"metric": s.metric, "labels": dict(s.labels), "value": s.value} for s in result.samples]
    sensors = [r.as_dict() for r in getattr(result, "sensors", [])]
    if as_json:
        typer.echo(json.dumps({
            "device": result.device_name, "device_id": result.device_id, "at": result.at.isoformat(),
            "reachable": result.reachable, "duration_s": round(result.duration_s, 4), "varbinds": result.varbinds,
            "error": result.error, "facts": result.facts, "discovery": discovery, "sensors": sensors,
            "samples": samples}, indent=2, default=str))
        return
    state = "[green]up[/green]" if result.reachable else "[red]down[/red]"
    console.print(f"{result.device_name}: {state}, {result.varbinds} varbinds in {result.duration_s * 1000:.0f} ms"
                  + (f" ({result.error})" if result.error else ""))
    if result.facts:
        facts = Table(title="facts")
        facts.add_column("fact")
        facts.add_column("value")
        for key, value in sorted(result.facts.items()):
            facts.add_row(key, value)
        console.print(facts)
    if discovery:
        found = Table(title="discovery: profiles applied")
        found.add_column("profile")
        found.add_column("why")
        for item in discovery.get("profiles", []):
            found.add_row(item["name"], item["reason"])
        console.print(found)
    if sensors:
        _print_sensors(sensors)
    table = Table(title="samples")
    for col in ("metric", "labels", "value"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for s in sorted(samples, key=lambda x: (x["metric"], sorted(x["labels"].items()))):
        labels = ", ".join(f"{k}={v}" for k, v in s["labels"].items())
        table.add_row(s["metric"], labels, f"{s['value']:.6g}")
    console.print(table)


def _print_sensors(sensors: list[dict[str, Any]]) -> None:
    from dcops.monitoring.sensors import UNITS, severity_of
    from dcops.monitoring.sensors import SensorReading as Reading

    table = Table(title="sensors")
    for col in ("class", "description", "value", "state", "limits (device)", "OID"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for item in sorted(sensors, key=lambda x: (x["sensor_class"], x["descr"])):
        reading = Reading.from_dict(item)
        if reading.sensor_class == "state":
            value = reading.state_name or f"{reading.value:g}"
        else:
            value = f"{reading.value:.6g} {UNITS.get(reading.sensor_class, '')}".strip()
        limits = " ".join(f"{k}={item[k]:g}" for k in ("low", "low_warn", "high_warn", "high")
                          if item.get(k) is not None)
        table.add_row(reading.sensor_class, reading.descr, value, severity_of(reading), limits, reading.oid)
    console.print(table)


async def _poll_address(host: str, port: int, *, role: str, name: str, snmp: dict[str, Any]) -> tuple[Any, Any]:
    from dcops.monitoring.poller import Target, poll_target
    from dcops.monitoring.snmp import SnmpClient, SnmpTarget

    target = Target(device_id=None, name=name, role=role, snmp=SnmpTarget(host=host, port=port, **snmp))
    async with SnmpClient() as client:
        result, _ = await poll_target(client, target)
    return result, target.discovery.as_dict() if target.discovery else None


@app.command()
def poll(
    device: Annotated[str | None, typer.Argument(help="device name or id (default: every pollable device)")] = None,
    once: Annotated[bool, typer.Option("--once", help="poll once and print what was read")] = True,
    target: Annotated[str | None, typer.Option("--target", help="HOST:PORT not in the inventory (commissioning)")]
    = None,
    community: Annotated[str | None, typer.Option("--community", envvar="DCOPS_SNMP_COMMUNITY", **Secret,
                                                  help="v1/v2c community (or env DCOPS_SNMP_COMMUNITY)")] = None,
    version: Annotated[str, typer.Option("--version", help="1 or 2c with --community")] = "2c",
    v3_user: Annotated[str | None, typer.Option("--v3-user", help="SNMPv3 user")] = None,
    auth_protocol: Annotated[str, typer.Option("--auth-protocol", help="none, md5, sha, sha256, sha512...")] = "none",
    auth_key: Annotated[str, typer.Option("--auth-key", envvar="DCOPS_SNMP_AUTH_KEY", **Secret,
                                          help="v3 auth passphrase (or env DCOPS_SNMP_AUTH_KEY)")] = "",
    priv_protocol: Annotated[str, typer.Option("--priv-protocol", help="none, des, aes, aes192, aes256")] = "none",
    priv_key: Annotated[str, typer.Option("--priv-key", envvar="DCOPS_SNMP_PRIV_KEY", **Secret,
                                          help="v3 privacy passphrase (or env DCOPS_SNMP_PRIV_KEY)")] = "",
    role: Annotated[str, typer.Option("--role", help="role used to choose profiles with --target")] = "other",
    timeout: Annotated[float, typer.Option("--timeout", help="seconds per request")] = 2.0,
    retries: Annotated[int, typer.Option("--retries")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Poll a device (or an address, for commissioning) once and print what it read."""
    if target is not None:
        host, port = _parse_target(target)
        if v3_user:
            snmp = dict(version="3", username=v3_user, auth_protocol=auth_protocol, auth_key=auth_key,
                        priv_protocol=priv_protocol, priv_key=priv_key, timeout=timeout, retries=retries)
        elif community:
            snmp = dict(version=version, community=community, timeout=timeout, retries=retries)
        else:
            raise typer.BadParameter("--target needs --community (or env DCOPS_SNMP_COMMUNITY) or --v3-user")
        try:
            result, found = asyncio.run(_poll_address(host, port, role=role, name=target, snmp=snmp))
        except ValueError as exc:  # a protocol name the client does not know
            raise typer.BadParameter(str(exc)) from None
        _print_result(result, as_json, found)
        raise typer.Exit(0 if result.reachable else 1)
    from dcops.database import session_scope
    from dcops.monitoring.device_reads import device_id_of
    from dcops.monitoring.poller import PollerOptions, load_targets, poll_device

    prepare_database()
    options = PollerOptions(timeout_s=timeout, retries=retries)
    with session_scope() as session:
        ids = [device_id_of(session, device)] if device else [t.device_id for t in load_targets(session)]
    results = [asyncio.run(poll_device(i, options=options)) for i in ids if i is not None]
    if device:
        from dcops.monitoring.sensor_state import discovery_view

        with session_scope() as session:
            found = discovery_view(session, ids[0]) if ids[0] is not None else None
        _print_result(results[0], as_json, found)
        raise typer.Exit(0 if results[0].reachable else 1)
    rows = [{"device": r.device_name, "up": r.reachable, "varbinds": r.varbinds,
             "ms": round(r.duration_s * 1000), "profiles": r.facts.get("profiles", ""),
             "sensors": len(getattr(r, "sensors", [])), "error": r.error or ""} for r in results]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{len(rows)} devices polled")
    columns = ("device", "up", "varbinds", "ms", "profiles", "sensors", "error")
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns))
    console.print(table)


@app.command()
def poller(
    concurrency: Annotated[int, typer.Option("--concurrency", help="polls in flight at most")] = 100,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds per SNMP request")] = 2.0,
    retries: Annotated[int, typer.Option("--retries")] = 1,
) -> None:
    """Run the SNMP poller alone (production: beside 'dcops serve' with DCOPS_BACKGROUND=false)."""
    from dcops.config import get_settings
    from dcops.monitoring.poller import PollerOptions, run_poller

    logging.basicConfig(level=get_settings().log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    prepare_database()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_poller(PollerOptions(concurrency=concurrency, timeout_s=timeout, retries=retries)))
