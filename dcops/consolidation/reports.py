"""Read the inventory into the board, the showback and the plan's per-wave answers (pure parts do the sums)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from dcops.auth.actor import Actor
from dcops.auth.choices import ChangeAction
from dcops.capacity import planning
from dcops.capacity.planning import PlanRequest
from dcops.consolidation import board as board_mod
from dcops.consolidation import showback as sb
from dcops.consolidation.choices import IN, OUT, AppStatus, Hosting
from dcops.consolidation.models import (
    AgencyApplication,
    ApplicationVM,
    MigrationWave,
    ShowbackSettings,
    ShowbackSettingsBase,
)
from dcops.consolidation.plan_demand import by_wave
from dcops.consolidation.service import sync_all
from dcops.crud import record_change
from dcops.database import utcnow
from dcops.dcim.choices import DeviceRole, DeviceStatus
from dcops.dcim.models import Cluster, Device, DeviceType, Site
from dcops.exceptions import PermissionDeniedError
from dcops.monitoring.state_models import DeviceState
from dcops.tenancy.models import Agency
from dcops.virtualization.models import VirtualMachine, VMState

LIVE_VM = (VMState.DECOMMISSIONED.value, VMState.FAILED.value)
RUNNING_DEVICE = (DeviceStatus.ACTIVE.value, DeviceStatus.MAINTENANCE.value, DeviceStatus.STAGED.value)


def _agencies(session: Session, actor: Actor) -> list[Agency]:
    stmt = select(Agency).order_by(col(Agency.code))
    if actor.scoped_agency is not None:
        stmt = stmt.where(col(Agency.id) == actor.scoped_agency)
    return list(session.execute(stmt).scalars())


# --- board ----------------------------------------------------------------------------------


def board(session: Session, *, actor: Actor) -> board_mod.Board:
    """Return the consolidation board (an agency viewer's shows its own agency only)."""
    sync_all(session)
    agencies = _agencies(session, actor)
    codes = {a.id: a.code for a in agencies}
    waves = {w.id: w for w in session.execute(select(MigrationWave)).scalars()}
    apps = [board_mod.AppRow(codes[a.agency_id], a.name, AppStatus(a.status), Hosting(a.hosting),
                             waves[a.wave_id].name if a.wave_id in waves else None,
                             a.est_vcpus, a.est_ram_gib, a.est_disk_gib, a.est_vm_count)
            for a in session.execute(select(AgencyApplication).where(
                col(AgencyApplication.agency_id).in_(list(codes)))).scalars()]
    running = dict(session.execute(
        select(col(Agency.code), func.count(col(Device.id))).join(Device, col(Device.owner_agency_id) == col(Agency.id))
        .where(col(Device.role) == DeviceRole.SERVER.value, col(Device.status).in_(RUNNING_DEVICE),
               col(Agency.id).in_(list(codes)))
        .group_by(col(Agency.code))).all())
    wave_rows = [board_mod.WaveRow(w.name, w.fiscal_year, w.starts_on, w.ends_on) for w in waves.values()]
    if actor.scoped_agency is not None:  # an agency viewer sees the waves its own applications are in
        mine = {a.wave for a in apps}
        wave_rows = [w for w in wave_rows if w.name in mine]
    result = board_mod.build([(a.code, a.name) for a in agencies], apps, running, wave_rows)
    session.rollback()
    return result


# --- showback ----------------------------------------------------------------------------------


def settings(session: Session) -> ShowbackSettings:
    """Return the stored showback assumptions (the defaults until a planner changes one)."""
    row = session.execute(select(ShowbackSettings).order_by(col(ShowbackSettings.id))).scalars().first()
    return row or ShowbackSettings()


def update_settings(session: Session, *, actor: Actor, data: Any) -> ShowbackSettings:
    """Change showback assumptions (planners and admins); logged in the change log."""
    changes = data if isinstance(data, dict) else data.model_dump(exclude_unset=True)
    row = session.execute(select(ShowbackSettings).order_by(col(ShowbackSettings.id))
                          .with_for_update()).scalars().first()
    if row is None:
        row = ShowbackSettings()
        session.add(row)
        session.flush()
    before = {k: getattr(row, k) for k in ShowbackSettingsBase.model_fields}
    for key, value in changes.items():
        if value is not None and key in ShowbackSettingsBase.model_fields:
            setattr(row, key, value)
    ShowbackSettingsBase.model_validate({k: getattr(row, k) for k in ShowbackSettingsBase.model_fields})
    row.updated_by, row.updated_at = actor.username, utcnow()
    record_change(session, actor=actor, action=ChangeAction.UPDATE, object_type="showback settings",
                  object_id=row.id or 0, object_repr="showback assumptions", before=before,
                  after={k: getattr(row, k) for k in ShowbackSettingsBase.model_fields})
    session.commit()
    return row


def assumptions_of(row: ShowbackSettings, overrides: dict[str, Any] | None = None) -> sb.Assumptions:
    """Return the pure module's assumptions from the stored row and any what-if ``overrides``."""
    values = {f.name: getattr(row, f.name) for f in fields(sb.Assumptions)}
    return sb.Assumptions(**(values | {k: v for k, v in (overrides or {}).items() if v is not None}))


def _measured(session: Session) -> dict[int, float]:
    """Return per device the draw its rack's PDUs measure, shared among the rack's devices by nameplate."""
    rack_watts: dict[int, float] = defaultdict(float)
    for rack_id, samples in session.execute(
            select(col(Device.rack_id), col(DeviceState.samples))
            .join(DeviceState, col(DeviceState.device_id) == col(Device.id))
            .where(col(Device.role) == DeviceRole.PDU.value, col(Device.rack_id).is_not(None))):
        rack_watts[rack_id] += sum(float(v) for metric, _l, v in (samples or []) if metric == "pdu_power_watts")
    rows = session.execute(
        select(col(Device.id), col(Device.rack_id), col(DeviceType.max_power_w)).join(DeviceType)
        .where(col(Device.rack_id).in_([r for r, w in rack_watts.items() if w > 0]))).all()
    nameplate: dict[int, int] = defaultdict(int)
    for _id, rack_id, watts in rows:
        nameplate[rack_id] += watts
    return {d: rack_watts[r] * w / nameplate[r] for d, r, w in rows if nameplate[r] > 0}


def equipment(session: Session) -> list[sb.Equipment]:
    """Return the data center's running equipment (not agencies' own, not at an agency's premises)."""
    measured = _measured(session)
    rows = session.execute(
        select(Device, DeviceType, Cluster).join(DeviceType).join(Site, col(Site.id) == col(Device.site_id))
        .outerjoin(Cluster, col(Cluster.id) == col(Device.cluster_id))
        .where(col(Device.owner_agency_id).is_(None), col(Site.agency_id).is_(None),
               col(Device.status).in_(RUNNING_DEVICE)).order_by(col(Device.name))).all()
    out = []
    for device, dtype, cluster in rows:
        role = str(getattr(device.role, "value", device.role))
        vcpus = ram = disk = 0.0
        if role == DeviceRole.HYPERVISOR.value and cluster is not None:
            vcpus, ram = dtype.cpu_threads * cluster.vcpu_ratio, dtype.ram_gib * cluster.ram_ratio
            disk = dtype.storage_tb * sb.GIB_PER_TB * cluster.disk_ratio
        elif role == DeviceRole.STORAGE.value:
            disk = dtype.storage_tb * sb.GIB_PER_TB
        elif role == DeviceRole.HYPERVISOR.value:
            role = "other"  # a hypervisor in no cluster offers nothing to share out
        out.append(sb.Equipment(device.name, role, dtype.price_idr, dtype.max_power_w, measured.get(device.id or 0),
                                vcpus, ram, disk))
    return out


def showback(session: Session, *, actor: Actor, overrides: dict[str, Any] | None = None) -> sb.Showback:
    """Return cost per agency and application (an agency viewer's: its own, with no data-center total)."""
    sync_all(session)
    a = assumptions_of(settings(session), overrides)
    rates = sb.rates(equipment(session), a)
    agencies = list(session.execute(select(Agency).order_by(col(Agency.code))).scalars())
    codes = {x.id: x.code for x in agencies}
    app_of = dict(session.execute(select(col(ApplicationVM.vm_id), col(AgencyApplication.name)).join(
        AgencyApplication, col(AgencyApplication.id) == col(ApplicationVM.application_id))).all())
    usage = [sb.Usage(codes[vm.agency_id], app_of.get(vm.id), vm.vcpus, vm.ram_gib, vm.disk_gib)
             for vm in session.execute(select(VirtualMachine).where(
                 col(VirtualMachine.state).not_in(LIVE_VM))).scalars()]
    servers = session.execute(select(Device, DeviceType).join(DeviceType).where(
        col(Device.owner_agency_id).is_not(None), col(Device.role) == DeviceRole.SERVER.value)).all()
    server_cost = {d.id: sb.own_server_cost(t.price_idr, t.max_power_w * a.load_factor or None, a) for d, t in servers}
    own: dict[str, float] = defaultdict(float)
    for d, _t in servers:
        if str(getattr(d.status, "value", d.status)) in RUNNING_DEVICE:
            own[codes[d.owner_agency_id]] += server_cost[d.id]
    apps = list(session.execute(select(AgencyApplication).where(
        col(AgencyApplication.hosting) != Hosting.NATIONAL.value)).scalars())
    sharing: dict[int, int] = defaultdict(int)
    for app in apps:
        if app.server_device_id is not None:
            sharing[app.server_device_id] += 1
    app_rows = []
    for app in apps:
        if app.server_device_id in server_cost:
            own_idr = server_cost[app.server_device_id] / sharing[app.server_device_id]
        else:
            own_idr = sb.own_server_cost(None, None, a)
        app_rows.append({"agency": codes[app.agency_id], "name": app.name, "status": str(app.status),
                         "in_dc": AppStatus(app.status) in IN, "own_idr": own_idr,
                         "estimate": sb.Usage(codes[app.agency_id], app.name, app.est_vcpus, app.est_ram_gib,
                                              app.est_disk_gib)})
    result = sb.showback(rates, [(x.code, x.name) for x in agencies], usage, dict(own), app_rows)
    session.rollback()
    if actor.scoped_agency is not None:
        mine = codes.get(actor.scoped_agency)
        result.agencies = [line for line in result.agencies if line.code == mine]
        result.devices, result.pools = [], {}
        result.allocated_idr = sum(line.cost_idr for line in result.agencies)
        result.unallocated_idr = result.total_idr = 0.0
    return result


def showback_dict(result: sb.Showback) -> dict[str, Any]:
    """Return the showback as JSON-ready data, Rupiah rounded to whole numbers."""
    data = asdict(result)
    for line in data["agencies"]:
        for key in ("cost_idr", "own_servers_idr", "own_equivalent_idr", "saving_idr"):
            line[key] = round(line[key])
        for key in ("vcpus", "ram_gib", "disk_gib"):
            line[key] = round(line[key], 2)
    for device in data["devices"]:
        device["total_idr"] = round(device["amortisation_idr"] + device["energy_idr"])
        for key in ("amortisation_idr", "energy_idr"):
            device[key] = round(device[key])
        device["watts"] = round(device["watts"], 1)
    data["pools"] = {k: round(v) for k, v in data["pools"].items()}
    for key in ("allocated_idr", "unallocated_idr", "total_idr"):
        data[key] = round(data[key])
    return data


# --- the plan, per wave ----------------------------------------------------------------------


def _admit_plan(actor: Actor) -> None:
    if actor.scoped_agency is not None:
        raise PermissionDeniedError("the budget plan covers every agency; agency viewers may not read it")


def wave_needs(session: Session, *, actor: Actor, request: PlanRequest,
               now: datetime | None = None) -> dict[str, Any]:
    """Answer per wave: to bring it in during its fiscal year you need N more servers, Rp X, U and kW.

    Each wave's figures are the plan with every wave minus the same plan without that wave.
    """
    _admit_plan(actor)
    full = planning.build_plan(session, actor=actor, request=request, now=now)
    rows = []
    for name, info in by_wave(session, full.baseline_year, request).items():
        if name in request.exclude_waves:
            continue
        without = planning.build_plan(session, actor=actor, now=now, request=request.model_copy(
            update={"exclude_waves": [*request.exclude_waves, name]}))
        servers = full.totals["servers_to_buy"] - without.totals["servers_to_buy"]
        cost = full.totals["cost_idr"] - without.totals["cost_idr"]
        units = full.totals["rack_units"] - without.totals["rack_units"]
        kw = round(full.totals["power_kw"] - without.totals["power_kw"], 3)
        rows.append(info | {"wave": name, "servers": servers, "cost_idr": cost, "rack_units": units, "power_kw": kw,
                            "answer": f"to bring {name} in during FY{info['fiscal_year']} you need {servers} more "
                                      f"server(s) ({full.model['slug']}), Rp {f'{cost:,.0f}'.replace(',', '.')}, "
                                      f"{units} U and {kw:g} kW"})
    session.rollback()
    return {"model": full.model["slug"], "baseline_year": full.baseline_year, "totals": full.totals, "waves": rows}


def compare_schedules(session: Session, *, actor: Actor, request: PlanRequest,
                      schedules: list[dict[str, Any]], now: datetime | None = None) -> list[dict[str, Any]]:
    """What-if: one plan per wave schedule (``{"name", "wave_years", "exclude_waves"}``), side by side."""
    _admit_plan(actor)
    out = []
    for schedule in schedules:
        variant = request.model_copy(update={"wave_years": schedule.get("wave_years", {}),
                                             "exclude_waves": schedule.get("exclude_waves", [])})
        plan = planning.build_plan(session, actor=actor, request=variant, now=now)
        row = planning.comparison_rows([plan])[0]
        row["schedule"] = schedule.get("name", "")
        row["per_year"] = [{"fiscal_year": y.fiscal_year, "servers_to_buy": y.servers_to_buy, "cost_idr": y.cost_idr}
                           for y in plan.fiscal_years]
        out.append(row)
    return out


def application_rows(session: Session, *, actor: Actor, agency: str | None) -> list[dict[str, Any]]:
    """Return the board's application rows: the actor's agency, the agency coded ``agency``, or all still outside."""
    stmt = select(AgencyApplication, col(Agency.code)).join(Agency, col(Agency.id) == col(AgencyApplication.agency_id))
    if actor.scoped_agency is not None:
        stmt = stmt.where(col(Agency.id) == actor.scoped_agency)
    elif agency:
        stmt = stmt.where(col(Agency.code) == agency)
    else:  # the whole province: what is still to bring in
        stmt = stmt.where(col(AgencyApplication.status).in_([s.value for s in OUT]))
    waves = {w.id: w for w in session.execute(select(MigrationWave)).scalars()}
    rows = []
    for app, code in session.execute(stmt.order_by(col(Agency.code), col(AgencyApplication.name))):
        wave = waves.get(app.wave_id)
        rows.append({"id": app.id, "agency": code, "name": app.name, "status": str(app.status),
                     "hosting": str(app.hosting), "wave": wave.name if wave else "",
                     "fiscal_year": wave.fiscal_year if wave else None, "request": app.capacity_request_id,
                     "server": app.server_device_id,
                     "estimate": (app.est_vcpus, app.est_ram_gib, app.est_disk_gib, app.est_vm_count)})
    return rows


def default_server_model(session: Session) -> str | None:
    """Return the slug of the priciest priced server model (what wave needs are costed with), or None."""
    return session.execute(
        select(col(DeviceType.slug)).where(col(DeviceType.cpu_threads) > 0, col(DeviceType.price_idr) > 0)
        .order_by(col(DeviceType.price_idr).desc())).scalars().first()
