"""The consolidation board (pure): applications in and out of the data center, per agency, per wave, overall.

Rules, stated once:

- An application is *in* when its status is ``in_dc`` or ``retired``; *out* when ``outside``, ``planned`` or
  ``migrating``. National shared applications count in neither (the agency needs no hosting for them).
- ``percent`` consolidated = in / (in + out), 100 % for an agency with nothing to bring in.
- An agency is ``done`` when every application is in and none of its servers still runs; ``not_started`` when
  none is in and none is planned or migrating; ``in_progress`` otherwise; ``unrecorded`` when it has no
  application and no server on record.
- A wave needs the estimates of its applications not yet in (planned and migrating).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from dcops.consolidation.choices import IN, OUT, AppStatus, Hosting

STATES = ("done", "in_progress", "not_started", "unrecorded")


@dataclass(frozen=True)
class AppRow:
    """What the board needs of one application."""

    agency_code: str
    name: str
    status: AppStatus
    hosting: Hosting
    wave: str | None = None
    vcpus: int = 0
    ram_gib: int = 0
    disk_gib: int = 0
    vms: int = 0


@dataclass(frozen=True)
class WaveRow:
    name: str
    fiscal_year: int
    starts_on: date | None = None
    ends_on: date | None = None


@dataclass
class AgencyLine:
    """One agency on the board."""

    code: str
    name: str
    applications: int = 0
    in_dc: int = 0
    outside: int = 0
    planned: int = 0
    migrating: int = 0
    retired: int = 0
    national: int = 0
    servers_running: int = 0
    percent: float = 100.0
    state: str = "unrecorded"


@dataclass
class WaveLine:
    """One migration wave: its applications and what those not yet in need."""

    name: str
    fiscal_year: int
    starts_on: date | None
    ends_on: date | None
    applications: int = 0
    planned: int = 0
    migrating: int = 0
    done: int = 0
    agencies: list[str] = field(default_factory=list)
    vcpus: int = 0
    ram_gib: int = 0
    disk_gib: int = 0
    vms: int = 0


@dataclass
class Board:
    """The whole board: per agency, per wave, overall and the count of agencies in each state."""

    agencies: list[AgencyLine]
    waves: list[WaveLine]
    totals: dict[str, float | int]
    states: dict[str, int]


def build(agencies: list[tuple[str, str]], apps: list[AppRow], servers_running: dict[str, int],
          waves: list[WaveRow]) -> Board:
    """Compute the board from agencies (code, name), applications, running agency servers and waves."""
    lines = {code: AgencyLine(code, name, servers_running=servers_running.get(code, 0)) for code, name in agencies}
    for app in apps:
        line = lines.get(app.agency_code)
        if line is None:
            continue
        if app.hosting == Hosting.NATIONAL:
            line.national += 1
            continue
        line.applications += 1
        status = AppStatus(app.status)
        if status in IN:
            line.in_dc += 1
        if status in OUT:
            line.outside += 1
        if status == AppStatus.PLANNED:
            line.planned += 1
        elif status == AppStatus.MIGRATING:
            line.migrating += 1
        elif status == AppStatus.RETIRED:
            line.retired += 1
    for line in lines.values():
        line.percent = round(100.0 * line.in_dc / line.applications, 1) if line.applications else 100.0
        line.state = _state(line)
    wave_lines = {w.name: WaveLine(w.name, w.fiscal_year, w.starts_on, w.ends_on) for w in waves}
    for app in apps:
        wl = wave_lines.get(app.wave or "")
        if wl is None or app.hosting == Hosting.NATIONAL:
            continue
        wl.applications += 1
        status = AppStatus(app.status)
        if app.agency_code not in wl.agencies:
            wl.agencies.append(app.agency_code)
        if status in IN:
            wl.done += 1
            continue
        wl.planned += status == AppStatus.PLANNED
        wl.migrating += status == AppStatus.MIGRATING
        wl.vcpus += app.vcpus
        wl.ram_gib += app.ram_gib
        wl.disk_gib += app.disk_gib
        wl.vms += app.vms
    rows = sorted(lines.values(), key=lambda a: (STATES.index(a.state), -a.percent, a.code))
    in_dc = sum(a.in_dc for a in rows)
    total = sum(a.applications for a in rows)
    totals: dict[str, float | int] = {
        "agencies": len(rows), "applications": total, "in_dc": in_dc, "outside": total - in_dc,
        "planned": sum(a.planned for a in rows), "migrating": sum(a.migrating for a in rows),
        "retired": sum(a.retired for a in rows), "servers_running": sum(a.servers_running for a in rows),
        "percent": round(100.0 * in_dc / total, 1) if total else 100.0,
    }
    states = {s: sum(1 for a in rows if a.state == s) for s in STATES}
    return Board(rows, sorted(wave_lines.values(), key=lambda w: (w.fiscal_year, w.starts_on or date.min, w.name)),
                 totals, states)


def _state(line: AgencyLine) -> str:
    if line.applications == 0 and line.servers_running == 0:
        return "unrecorded" if line.national == 0 else "done"
    if line.outside == 0 and line.servers_running == 0:
        return "done"
    if line.in_dc == 0 and line.planned == 0 and line.migrating == 0:
        return "not_started"
    return "in_progress"
