"""What the budget plan adds for planned migrations: each application's estimate, in its wave's fiscal year.

An application planned in a wave (or migrating, its request not approved yet) arrives in the wave's fiscal year
(or the year the what-if moves the wave to) and stays; one whose year is already past arrives in the plan's
first year. Applications in the data center are VMs already, counted by the plan as today's allocation;
national shared applications need nothing. The estimate lands in the cluster the plan covers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from dcops.capacity.forecast import Vector
from dcops.consolidation.choices import AppStatus, Hosting
from dcops.consolidation.models import AgencyApplication, MigrationWave
from dcops.exceptions import ValidationError
from dcops.tenancy.models import Agency

PENDING = (AppStatus.PLANNED.value, AppStatus.MIGRATING.value)


def arrivals(session: Session, request: Any, baseline_year: int) -> dict[str, list[tuple[int, Vector]]]:
    """Return, by agency code, the (fiscal year, estimate) of every planned or migrating application."""
    from dcops.consolidation.service import sync_all

    sync_all(session)  # an approved request's VMs count already: do not count its estimate twice
    waves = {w.id: w for w in session.execute(select(MigrationWave)).scalars()}
    names = {w.name for w in waves.values()}
    moved = dict(getattr(request, "wave_years", {}) or {})
    left_out = set(getattr(request, "exclude_waves", []) or [])
    unknown = sorted((set(moved) | left_out) - names)
    if unknown:
        raise ValidationError(f"wave_years/exclude_waves: no migration wave named {', '.join(unknown)}; waves: "
                              f"{', '.join(sorted(names)) or 'none yet'}", field="wave_years")
    rows = session.execute(
        select(AgencyApplication, col(Agency.code)).join(Agency, col(Agency.id) == col(AgencyApplication.agency_id))
        .where(col(AgencyApplication.status).in_(PENDING), col(AgencyApplication.hosting) != Hosting.NATIONAL.value)
        .order_by(col(AgencyApplication.id))).all()
    out: dict[str, list[tuple[int, Vector]]] = {}
    for app, code in rows:
        wave = waves.get(app.wave_id)
        if wave is not None and wave.name in left_out:
            continue
        year = moved.get(wave.name, wave.fiscal_year) if wave is not None else baseline_year + 1
        year = max(year, baseline_year + 1)
        out.setdefault(code, []).append((year, Vector(app.est_vcpus, app.est_ram_gib, app.est_disk_gib)))
    return out


def by_wave(session: Session, baseline_year: int, request: Any = None) -> dict[str, dict[str, Any]]:
    """Return per wave: its fiscal year in the plan and the summed estimate of its pending applications."""
    waves = {w.id: w for w in session.execute(select(MigrationWave)).scalars()}
    moved = dict(getattr(request, "wave_years", {}) or {})
    out: dict[str, dict[str, Any]] = {
        w.name: {"fiscal_year": max(moved.get(w.name, w.fiscal_year), baseline_year + 1), "applications": 0,
                 "vcpus": 0, "ram_gib": 0, "disk_gib": 0}
        for w in sorted(waves.values(), key=lambda w: (w.fiscal_year, w.name))}
    pending = select(AgencyApplication).where(col(AgencyApplication.status).in_(PENDING),
                                              col(AgencyApplication.hosting) != Hosting.NATIONAL.value)
    for app in session.execute(pending).scalars():
        wave = waves.get(app.wave_id)
        if wave is None:
            continue
        row = out[wave.name]
        row["applications"] += 1
        row["vcpus"] += app.est_vcpus
        row["ram_gib"] += app.est_ram_gib
        row["disk_gib"] += app.est_disk_gib
    return out
