"""Coverage benchmark: what dcops reads from recordings of real devices, beside what LibreNMS found in them.

Run: ``python -m tests.benchmarks.bench_coverage [CORPUS] [--only GLOB] [--devices] [--json FILE]``
(CORPUS defaults to ``$DCOPS_SNMP_CORPUS``, e.g. ``../shared/snmp-corpus``).

The recordings are copied to a temporary directory (snmpsim writes index files beside them) and served by
one snmpsim process on loopback (community = recording name). Every device is polled once with the role
``index.tsv`` gives it, through the poller's own path (:func:`dcops.monitoring.poller.poll_target`:
discovery, profile selection, GET/GETBULK reads, evaluation). Printed per class and per device:

- sensors: LibreNMS's against dcops' (matched by class and value OID, else by description), and how many
  values agree within 1 % or 0.5 of the unit (LibreNMS's runtime is in minutes, dcops' in seconds).
  A LibreNMS sensor whose value OID the recording does not hold (or that has no OID) is "not in the
  recording": counted apart, listed, out of the denominator. Where LibreNMS's value is in another unit than
  its class (the MIB's UNITS clause says so), :data:`REFERENCE_ERRATA` names the object and the factor; such
  values are compared after the conversion and counted apart ("errata"), so both figures are printed;
  A LibreNMS sensor whose recorded value is an "unknown" sentinel (2147483647, 4294967295, or -1 where the
  profile, from the MIB, declares -1 as "n/a") is a reading the issue says to drop: it is counted apart as
  "unknown", listed, and out of the denominator (the figure counting them as misses is printed too);
- ports: LibreNMS's ports against dcops' interfaces (a device is "within" at 5 %);
- UPS: on-battery, charge and runtime read; PDU: total power read. Each is counted only on devices whose
  recording holds it: an OID that some profile reads for that metric, or a LibreNMS sensor of its class.
  Devices of the role whose recording holds none of it are listed with what the recording does hold;
- the alerts the rules raise on these healthy devices (one snapshot, as if it held for every ``for``).

The reference is the expected files of the corpus; the same run measures both, so the ratios stand.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import fnmatch
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: LibreNMS sensor class -> dcops class (classes not listed are not compared)
CLASS_MAP = {"temperature": "temperature", "fanspeed": "fan", "fan": "fan", "voltage": "voltage",
             "current": "current", "power": "power", "humidity": "humidity", "frequency": "frequency",
             "load": "load", "charge": "charge", "runtime": "runtime", "state": "state",
             "power_consumed": "energy"}
#: the classes the issue's "Done when" counts
HEADLINE = ("temperature", "fan", "voltage", "current", "power")
UPS_METRICS = ("ups_on_battery", "ups_battery_charge_percent", "ups_runtime_seconds")
LEGACY = {"temperature_celsius": "temperature", "fan_rpm": "fan"}
#: headline metric -> the LibreNMS sensor class that also shows the recording holds it
METRIC_CLASS = {"ups_battery_charge_percent": "charge", "ups_runtime_seconds": "runtime", "pdu_power_watts": "power"}
#: (value OID prefix, factor, why): LibreNMS's value x factor is the value in its class's unit; each one is
#: a MIB object whose UNITS/DESCRIPTION gives another unit than the one LibreNMS files the value under
REFERENCE_ERRATA = (
    ("1.3.6.1.4.1.6027.3.11.1.3.1.1.18", 0.001, "DELL-NETWORKING-IF-EXTENSION-MIB lane 1 bias: UNITS \"mA\""),
    ("1.3.6.1.4.1.6027.3.11.1.3.1.1.19", 0.001, "DELL-NETWORKING-IF-EXTENSION-MIB lane 2 bias: UNITS \"mA\""),
    ("1.3.6.1.4.1.6027.3.11.1.3.1.1.20", 0.001, "DELL-NETWORKING-IF-EXTENSION-MIB lane 3 bias: UNITS \"mA\""),
    ("1.3.6.1.4.1.6027.3.11.1.3.1.1.21", 0.001, "DELL-NETWORKING-IF-EXTENSION-MIB lane 4 bias: UNITS \"mA\""),
    ("1.3.6.1.4.1.3808.1.1.1.4.2.4", 0.1, "CPS-MIB upsAdvanceOutputCurrent: tenths of an ampere"),
)


@dataclasses.dataclass
class Found:
    """One sensor dcops read: class, description, OID (None when the old poller gives none), value."""

    cls: str
    descr: str
    oid: str | None
    value: float


def corpus_dir(arg: str | None) -> Path:
    """Return the corpus folder from the argument or DCOPS_SNMP_CORPUS."""
    raw = arg or os.environ.get("DCOPS_SNMP_CORPUS", "")
    if not raw:
        raise SystemExit("give the corpus folder as argument or in DCOPS_SNMP_CORPUS")
    path = Path(raw).resolve()
    if not (path / "index.tsv").is_file():
        raise SystemExit(f"{path} is not the SNMP corpus (no index.tsv)")
    return path


def devices_of(corpus: Path, only: str | None) -> list[tuple[str, str]]:
    """Return (name, role) of the corpus devices (those matching the glob ``only``)."""
    with (corpus / "index.tsv").open() as f:
        rows = [(r["name"], r["role"]) for r in csv.DictReader(f, delimiter="\t")]
    return [(n, r) for n, r in rows if only is None or any(fnmatch.fnmatch(n, g) for g in only.split(","))]


def _sensors(result: Any) -> list[Found]:
    readings = getattr(result, "sensors", None)
    if readings:
        return [Found(r.sensor_class, r.descr, r.oid.strip("."), r.value) for r in readings]
    out = []  # the poller before sensors: temperature_celsius / fan_rpm samples named by description only
    for s in result.samples:
        if s.metric in LEGACY:
            out.append(Found(LEGACY[s.metric], s.label("sensor"), None, s.value))
    return out


def recorded_oids(corpus: Path, name: str) -> set[str]:
    """Return the OIDs a recording holds."""
    with (corpus / "recordings" / f"{name}.snmprec").open(errors="replace") as f:
        return {line.split("|", 1)[0].strip(".") for line in f if "|" in line}


def recorded_values(corpus: Path, name: str) -> dict[str, str]:
    """Return OID -> the raw value text of a recording."""
    out: dict[str, str] = {}
    with (corpus / "recordings" / f"{name}.snmprec").open(errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("|", 2)
            if len(parts) == 3:
                out[parts[0].strip(".")] = parts[2]
    return out


def declared_unknown() -> dict[str, frozenset[float]]:
    """Return value OID (a table column, or a scalar) -> the raw values a shipped profile declares "unknown"."""
    from dcops.monitoring.profiles import load_profiles

    out: dict[str, frozenset[float]] = {}
    for profile in load_profiles():
        for scalar in profile.scalars:
            skip = set(scalar.skip) | set(scalar.sensor.skip if scalar.sensor is not None else ())
            if skip:
                out[scalar.oid.strip(".")] = frozenset(skip)
        for table in profile.tables:
            for spec in table.sensors:
                if spec.skip and spec.value in table.columns:
                    out[table.columns[spec.value].strip(".")] = frozenset(spec.skip)
    return out


def is_unknown(oid: str, raw: str | None, declared: dict[str, frozenset[float]]) -> bool:
    """Tell whether a recorded raw value is a sentinel the issue says to drop: 2147483647 or 4294967295
    anywhere, -1 where a profile declares it (its MIB says -1 is "unknown" / "n/a")."""
    from dcops.monitoring.sensors import SENTINELS

    try:
        value = float(str(raw).strip())
    except ValueError:
        return False
    if value in SENTINELS:
        return True
    if value != -1.0:
        return False
    arcs = oid.split(".")
    return any(value in declared.get(".".join(arcs[:n]), ()) for n in range(len(arcs), 6, -1))


def _erratum(oid: str) -> float | None:
    return next((factor for prefix, factor, _ in REFERENCE_ERRATA if oid == prefix or oid.startswith(prefix + ".")),
                None)


def _close(ours: float, theirs: float, cls: str) -> bool:
    if cls == "runtime":
        ours = ours / 60.0  # LibreNMS keeps runtime in minutes
    return abs(ours - theirs) <= max(0.01 * abs(theirs), 0.5)


def match_sensors(expected: list[dict[str, Any]], found: list[Found], recorded: set[str] | None = None,
                  absent: list[str] | None = None, unknown: Callable[[str], bool] | None = None,
                  dropped: list[str] | None = None) -> dict[str, Counter[str]]:
    """Return class -> counts of LibreNMS sensors ("librenms"), matched ("found") and in tolerance ("value",
    of which "errata" after a :data:`REFERENCE_ERRATA` conversion); with ``recorded`` (the recording's OIDs),
    sensors whose OID it lacks count as "absent" only (described into ``absent``); with ``unknown`` (OID ->
    whether its recorded value is an "unknown" sentinel), such sensors count as "unknown" only (into
    ``dropped``)."""
    out: dict[str, Counter[str]] = defaultdict(Counter)
    by_oid = {(f.cls, f.oid): f for f in found if f.oid}
    used: set[int] = set()
    for exp in expected:
        cls = CLASS_MAP.get(exp.get("sensor_class", ""))
        if cls is None:
            continue
        oid = str(exp.get("sensor_oid") or "").strip(".")
        if recorded is not None and oid not in recorded:
            out[cls]["absent"] += 1
            if absent is not None:
                absent.append(f"{cls} '{exp.get('sensor_descr')}' ({oid or 'no OID'}; LibreNMS value "
                              f"{exp.get('sensor_current')})")
            continue
        if unknown is not None and oid and unknown(oid):
            out[cls]["unknown"] += 1
            if dropped is not None:
                dropped.append(f"{cls} '{exp.get('sensor_descr')}' ({oid}; LibreNMS value {exp.get('sensor_current')})")
            continue
        out[cls]["librenms"] += 1
        hit = by_oid.get((cls, oid))
        if hit is None or id(hit) in used:
            descr = str(exp.get("sensor_descr") or "").strip().casefold()
            hit = next((f for f in found if f.cls == cls and id(f) not in used
                        and f.descr.strip().casefold() == descr), None)
        if hit is None:
            continue
        used.add(id(hit))
        out[cls]["found"] += 1
        current = exp.get("sensor_current")
        if current is None:
            continue
        factor = _erratum(oid)
        if _close(hit.value, float(current), cls):
            out[cls]["value"] += 1
        elif factor is not None and _close(hit.value, float(current) * factor, cls):
            out[cls]["value"] += 1
            out[cls]["errata"] += 1
    for f in found:
        out[f.cls]["dcops"] += 1
    return out


def _alerts(result: Any, role: str) -> list[str]:
    """Run the rules on one poll as a steady state (the previous poll equal); return 'rule subject: summary'."""
    from dcops.monitoring import evaluate as ev
    from dcops.monitoring.rules import default_rules

    rules = [dataclasses.replace(r, for_polls=1, for_s=0.0) for r in default_rules()]
    try:
        from dcops.monitoring.alerting import poll_snapshot
    except ImportError:
        poll_snapshot = None
    if poll_snapshot is not None:
        snap = poll_snapshot(result, previous=result, role=role, inventory={"unused_ports": set()})
    else:
        samples = ev.samples_by_metric(result.samples)
        samples["device_up"] = {"": 1.0}
        snap = ev.Snapshot(at=result.at, device=result.device_name, samples=samples, previous=samples,
                           facts=dict(result.facts), previous_facts=dict(result.facts),
                           inventory={"unused_ports": set()})
    states, transitions = ev.evaluate(rules, snap, {})
    return [f"{t.rule.severity} {t.rule.name} [{t.subject}]: {t.summary}" for t in transitions
            if t.to == "firing" and t.rule.severity in ("critical", "warning")]


async def _poll_all(devices: list[tuple[str, str]], host: str, port: int, concurrency: int) -> dict[str, Any]:
    from dcops.monitoring.poller import Target, poll_target
    from dcops.monitoring.profiles import load_profiles
    from dcops.monitoring.snmp import SnmpClient, SnmpTarget

    profiles = load_profiles()
    out: dict[str, Any] = {}
    semaphore = asyncio.Semaphore(concurrency)
    async with SnmpClient() as client:
        async def one(name: str, role: str) -> None:
            snmp = SnmpTarget(host=host, port=port, version="2c", community=name, timeout=10.0, retries=1)
            target = Target(device_id=None, name=name, role=role, snmp=snmp)
            async with semaphore:
                out[name] = await poll_target(client, target, deadline_s=120.0, all_profiles=profiles)
        await asyncio.gather(*(one(n, r) for n, r in devices))
    return out


def measure(corpus: Path, *, only: str | None = None, concurrency: int = 8) -> dict[str, Any]:
    """Serve the corpus, poll every device, compare with LibreNMS; return the figures (see the module doc)."""
    from tests.monitoring.agents import start_snmpsim

    devices = devices_of(corpus, only)
    if not devices:
        raise SystemExit(f"no device of the corpus matches {only!r}")
    work = Path(tempfile.mkdtemp(prefix="dcops-corpus-"))
    data = work / "data"
    data.mkdir()
    for name, _ in devices:
        shutil.copy(corpus / "recordings" / f"{name}.snmprec", data / f"{name}.snmprec")
    agent = start_snmpsim(data, work / "agent", community=devices[0][0], timeout=120)
    try:
        started = time.monotonic()
        polls = asyncio.run(_poll_all(devices, agent.host, agent.port, concurrency))
        elapsed = time.monotonic() - started
    finally:
        agent.stop()
        shutil.rmtree(work, ignore_errors=True)
    return _figures(corpus, devices, polls, elapsed)


def metric_oids(metrics: tuple[str, ...]) -> dict[str, set[str]]:
    """Return metric -> every OID (scalar) or column (table) any shipped profile reads it from."""
    from dcops.monitoring.profiles import load_profiles

    out: dict[str, set[str]] = {m: set() for m in metrics}
    for profile in load_profiles():
        for scalar in profile.scalars:
            if scalar.metric in out:
                out[scalar.metric].add(scalar.oid.strip("."))
        for table in profile.tables:
            for spec in table.samples:
                if spec.metric not in out:
                    continue
                names = [src.column for src in spec.sources if src.column] + list(spec.ratio or ())
                out[spec.metric].update(table.columns[n].strip(".") for n in names if n in table.columns)
                out[spec.metric].update(src.oid.strip(".") for src in spec.sources if src.oid)
    return out


def holds(recorded: set[str], oids: set[str], expected: list[dict[str, Any]], cls: str | None) -> bool:
    """Tell whether a recording holds a metric: one of its OIDs (or a row of one of its columns), or a LibreNMS
    sensor of the class ``cls``."""
    if cls is not None and any(CLASS_MAP.get(e.get("sensor_class", "")) == cls for e in expected):
        return True
    return any(o in recorded or any(r.startswith(o + ".") for r in recorded) for o in oids)


def what_it_holds(recorded: set[str]) -> str:
    """Describe a recording's OIDs in a few words: how many, its vendor subtrees, how many of mib-2."""
    system = "1.3.6.1.2.1.1."
    others = [o for o in recorded if not o.startswith(system)]
    if not others:
        return f"only the system group ({len(recorded)} OIDs)"
    vendor = Counter(".".join(o.split(".")[:10]) for o in others if o.startswith("1.3.6.1.4.1."))
    mib2 = sum(1 for o in others if o.startswith("1.3.6.1.2.1."))
    subtrees = ", ".join(f"{t} ({n})" for t, n in vendor.most_common(3)) or "none"
    ups_mib = sum(1 for o in others if o.startswith("1.3.6.1.2.1.33."))
    return f"{len(recorded)} OIDs; vendor subtrees {subtrees}; other mib-2 OIDs {mib2}, of UPS-MIB {ups_mib}"


def _figures(corpus: Path, devices: list[tuple[str, str]], polls: dict[str, Any], elapsed: float) -> dict[str, Any]:
    classes: dict[str, Counter[str]] = defaultdict(Counter)
    per_device = []
    ports = Counter()
    ups = Counter()
    pdu = Counter()
    alerts: list[str] = []
    absent: list[str] = []
    not_recorded: list[str] = []
    unknown_sensors: list[str] = []
    sources = metric_oids(UPS_METRICS + ("pdu_power_watts",))
    declared = declared_unknown()
    for name, role in devices:
        expected = json.loads((corpus / "expected" / f"{name}.json").read_text())
        result, extras = polls[name]
        recorded = recorded_oids(corpus, name)
        missing: list[str] = []
        dropped: list[str] = []
        raw = recorded_values(corpus, name)
        counts = match_sensors(expected.get("sensors") or [], _sensors(result), recorded, missing,
                               lambda oid, raw=raw: is_unknown(oid, raw.get(oid), declared), dropped)
        absent += [f"{name}: {m}" for m in missing]
        unknown_sensors += [f"{name}: {m}" for m in dropped]
        for cls, c in counts.items():
            classes[cls].update(c)
        theirs_ports = len(expected.get("ports") or [])
        ours_ports = len(extras.interfaces or [])
        ports["librenms"] += theirs_ports
        ports["dcops"] += ours_ports
        ports["devices"] += 1
        ports["within"] += int(abs(ours_ports - theirs_ports) <= 0.05 * theirs_ports)
        metrics = {s.metric for s in result.samples}
        wanted = UPS_METRICS if role == "ups" else ("pdu_power_watts",) if role == "pdu" else ()
        held = [m for m in wanted if holds(recorded, sources[m], expected.get("sensors") or [], METRIC_CLASS.get(m))]
        tally = ups if role == "ups" else pdu
        if wanted:
            tally["devices"] += 1
            if held:
                tally["with_data"] += 1
                tally["all"] += int(all(m in metrics for m in held))
            for m in wanted:
                tally[m] += int(m in metrics)
                tally[m + ":held"] += int(m in held)
            lacking = [m for m in wanted if m not in held]
            if lacking:
                not_recorded.append(f"{name} ({role}): {', '.join(lacking)} not in the recording: "
                                    f"{what_it_holds(recorded)}")
        raised = _alerts(result, role) if result.reachable else []
        alerts += [f"{name}: {a}" for a in raised]
        per_device.append({
            "name": name, "role": role, "os": expected.get("os"), "reachable": result.reachable,
            "error": result.error, "profiles": result.facts.get("profiles", ""),
            "sensors": {cls: dict(c) for cls, c in counts.items()},
            "ports": [theirs_ports, ours_ports], "alerts": len(raised),
        })
    return {"devices": len(devices), "elapsed_s": round(elapsed, 1),
            "classes": {cls: dict(c) for cls, c in sorted(classes.items())},
            "ports": dict(ports), "ups": dict(ups), "pdu": dict(pdu), "alerts": alerts, "per_device": per_device,
            "absent": absent, "unknown": unknown_sensors, "not_recorded": not_recorded}


def _pct(a: int, b: int) -> str:
    return f"{100.0 * a / b:5.1f} %" if b else "    - "


def headline(fig: dict[str, Any]) -> Counter[str]:
    """Sum the headline classes: LibreNMS sensors in the recordings, found, in tolerance, of which errata."""
    head: Counter[str] = Counter()
    for cls in HEADLINE:
        head.update(fig["classes"].get(cls, {}))
    return head


def report(fig: dict[str, Any], *, devices: bool = False) -> str:
    """Render the figures as the benchmark prints them."""
    lines = [f"{fig['devices']} devices polled in {fig['elapsed_s']} s", "",
             "LibreNMS = its sensors whose OID the recording holds; in tol = values within 1 % or 0.5 of the unit"
             " (errata: of those, after REFERENCE_ERRATA's unit conversion); absent = LibreNMS sensors not in the"
             " recording", "",
             f"{'class':<12} {'LibreNMS':>8} {'found':>6} {'found %':>8} {'in tol':>6} {'in tol %':>8} {'errata':>6}"
             f" {'absent':>6} {'unknown':>7} {'dcops':>6}"]
    for cls, c in fig["classes"].items():
        lib, found, value = c.get("librenms", 0), c.get("found", 0), c.get("value", 0)
        lines.append(f"{cls:<12} {lib:>8} {found:>6} {_pct(found, lib):>8} {value:>6} {_pct(value, lib):>8} "
                     f"{c.get('errata', 0):>6} {c.get('absent', 0):>6} {c.get('unknown', 0):>7} {c.get('dcops', 0):>6}")
    h = headline(fig)
    lib, strict = h["librenms"], h["value"] - h["errata"]
    lines.append(f"{'HEADLINE':<12} {lib:>8} {h['found']:>6} {_pct(h['found'], lib):>8} {h['value']:>6} "
                 f"{_pct(h['value'], lib):>8} {h['errata']:>6} {h['absent']:>6} {h['unknown']:>7}   "
                 "(temperature fan voltage current power; goal 95 %)")
    lines.append(f"  without the errata: {strict}/{lib} = {_pct(strict, lib).strip()} in tolerance; counting the "
                 f"{h['absent']} absent as misses: {h['value']}/{lib + h['absent']} = "
                 f"{_pct(h['value'], lib + h['absent']).strip()}")
    lines.append(f"  counting the {h['unknown']} \"unknown\" sentinel readings as misses: without the errata "
                 f"{strict}/{lib + h['unknown']} = {_pct(strict, lib + h['unknown']).strip()}, with them "
                 f"{h['value']}/{lib + h['unknown']} = {_pct(h['value'], lib + h['unknown']).strip()}")
    lines += [f"  errata: {why} ({prefix}, x{factor})" for prefix, factor, why in REFERENCE_ERRATA]
    p = fig["ports"]
    lines += ["", f"ports: LibreNMS {p.get('librenms', 0)}, dcops {p.get('dcops', 0)}; devices within 5 %: "
              f"{p.get('within', 0)}/{p.get('devices', 0)}"]
    u, d = fig["ups"], fig["pdu"]
    parts = ", ".join(f"{label} {u.get(m, 0)}/{u.get(m + ':held', 0)}" for label, m in
                      (("on-battery", UPS_METRICS[0]), ("charge", UPS_METRICS[1]), ("runtime", UPS_METRICS[2])))
    lines.append(f"UPS ({u.get('devices', 0)}, {u.get('with_data', 0)} whose recording holds UPS data): {parts} "
                 f"(read/in the recording); every metric its recording holds: {u.get('all', 0)}/"
                 f"{u.get('with_data', 0)}")
    lines.append(f"PDU ({d.get('devices', 0)}, {d.get('with_data', 0)} whose recording holds PDU data): total power "
                 f"{d.get('pdu_power_watts', 0)}/{d.get('pdu_power_watts:held', 0)}")
    lines += [f"  {n}" for n in fig.get("not_recorded", [])]
    lines += ["", f"LibreNMS sensors whose recorded value is an \"unknown\" sentinel (dropped by dcops, out of "
              f"the denominator): {len(fig.get('unknown', []))}"]
    lines += [f"  {a}" for a in fig.get("unknown", [])]
    lines += ["", f"LibreNMS sensors not in the recordings: {len(fig.get('absent', []))}"]
    lines += [f"  {a}" for a in fig.get("absent", [])]
    lines += ["", f"alerts raised on healthy devices (critical/warning): {len(fig['alerts'])}"]
    lines += [f"  {a}" for a in fig["alerts"]]
    if devices:
        lines += ["", "per device (class: LibreNMS/found/in tolerance; ports LibreNMS/dcops):"]
        for dev in fig["per_device"]:
            sens = " ".join(f"{cls}:{c.get('librenms', 0)}/{c.get('found', 0)}/{c.get('value', 0)}"
                            for cls, c in sorted(dev["sensors"].items()) if c.get("librenms"))
            extra = f" error={dev['error']}" if dev["error"] else ""
            lines.append(f"  {dev['name']:<32} {dev['role']:<9} ports {dev['ports'][0]}/{dev['ports'][1]} {sens}"
                         f" [{dev['profiles']}]{extra}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", nargs="?")
    parser.add_argument("--only", help="comma-separated globs of recording names (e.g. 'cisco*,ios*')")
    parser.add_argument("--devices", action="store_true", help="print one line per device")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    fig = measure(corpus_dir(args.corpus), only=args.only, concurrency=args.concurrency)
    print(report(fig, devices=args.devices))
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
