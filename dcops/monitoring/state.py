"""Record poll results and read them back: the latest state per device, interfaces, the poller's own status.

Metric history (its reading and downsampling) is :mod:`dcops.monitoring.history`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from dcops.database import utcnow
from dcops.exceptions import NotFoundError, ValidationError
from dcops.monitoring.discovery import Discovery
from dcops.monitoring.history import (
    DOWNSAMPLE_STEP_S,
    DOWNSAMPLED_KEEP,
    MAX_POINTS,
    RAW_KEEP,
    Series,
    compact_history,
    history,
    parse_series_key,
    series_key,
)
from dcops.monitoring.profiles import InterfaceRow
from dcops.monitoring.state_models import DeviceState, Interface, MetricHistory, PollerStatus
from dcops.monitoring.types import PollResult, Sample

# history's names, read from here by older callers
__all__ = ["DOWNSAMPLED_KEEP", "DOWNSAMPLE_STEP_S", "MAX_POINTS", "RAW_KEEP", "Series", "compact_history", "history",
           "parse_series_key", "series_key"]


def _samples_json(samples: Iterable[Sample]) -> list[Any]:
    """Samples as stored: [metric, {label: value} in label order, value] (no Sample copies made on the way)."""
    return [[s.metric, dict(sorted(s.labels)) if len(s.labels) > 1 else dict(s.labels), s.value] for s in samples]


def _samples_from_json(raw: Iterable[Any]) -> list[Sample]:
    return [Sample(m, float(v), tuple(sorted(labels.items()))) for m, labels, v in raw]


# --- reading the latest state ------------------------------------------------------------------------


def previous_result(session: Session, device_id: int) -> PollResult | None:
    """Return the last recorded poll of a device as a PollResult, or None if it was never polled."""
    state = session.get(DeviceState, device_id)
    if state is None or state.last_poll_at is None:
        return None
    return _as_result(state, name="")


def _as_result(state: DeviceState, name: str) -> PollResult:
    return PollResult(
        device_id=state.device_id, device_name=name, at=state.last_poll_at or utcnow(), reachable=state.reachable,
        duration_s=state.duration_s, error=state.error, samples=_samples_from_json(state.samples),
        facts=dict(state.facts), counters={k: (int(v[0]), int(v[1]), float(v[2])) for k, v in state.counters.items()},
        varbinds=state.varbinds,
    )


def latest_samples(session: Session, device_ids: Iterable[int]) -> dict[int, list[Sample]]:
    """Return the samples of the last poll of each device (devices never polled are absent)."""
    ids = list(device_ids)
    if not ids:
        return {}
    rows = session.execute(select(col(DeviceState.device_id), col(DeviceState.samples))
                           .where(col(DeviceState.device_id).in_(ids))).all()
    return {device_id: _samples_from_json(samples) for device_id, samples in rows}


#: the host readings capacity's headroom uses for its right-sizing hints
MEASURED_METRICS = ("cpu_load_percent", "memory_used_percent")


def measured_use(session: Session, host_ids: list[int]) -> dict[int, dict[str, float]]:
    """Return the latest CPU load and memory use (percent) of each host polled (capacity's MEASURED_USE)."""
    out: dict[int, dict[str, float]] = {}
    for host_id, samples in latest_samples(session, host_ids).items():
        for sample in samples:
            if sample.metric in MEASURED_METRICS:
                out.setdefault(host_id, {})[sample.metric] = sample.value
    return out


# --- recording a poll ---------------------------------------------------------------------------------


@dataclass
class PollExtras:
    """What a poll gives besides the PollResult: interfaces, table sizes, raw sysUpTime, maintenance flag."""

    interfaces: list[InterfaceRow] | None = None
    table_rows: dict[str, int] | None = None
    uptime_ticks: int | None = None
    maintenance: bool = False
    discovery: Discovery | None = None  # a new discovery result to store


def record(session: Session, result: PollResult, extras: PollExtras | None = None) -> DeviceState:
    """Store one poll of an inventory device: latest state, interfaces and a history row (no commit)."""
    if result.device_id is None:
        raise ValidationError("only inventory devices are recorded (commissioning polls are not)")
    extras = extras or PollExtras()
    state = session.get(DeviceState, result.device_id)
    if state is None:
        state = DeviceState(device_id=result.device_id)
        session.add(state)
    apply_state(state, result, extras)
    values = {series_key(s): s.value for s in result.samples}
    session.add(MetricHistory(device_id=result.device_id, at=result.at, resolution_s=0, values=values))
    if extras.interfaces:
        _record_interfaces(session, result.device_id, extras.interfaces, result.at, extras.uptime_ticks)
    if result.reachable:
        from dcops.monitoring.sensor_state import record_sensors

        record_sensors(session, result, extras.discovery)
    return state


def apply_state(state: DeviceState, result: PollResult, extras: PollExtras) -> None:
    """Copy one poll onto a device's latest-state row (no history, no commit)."""
    state.last_poll_at = result.at
    state.duration_s = result.duration_s
    state.error = result.error[:500] if result.error else None
    state.maintenance = extras.maintenance
    state.varbinds = result.varbinds
    state.samples = _samples_json(result.samples)
    if result.reachable:
        state.reachable = True
        state.last_success_at = result.at
        state.consecutive_failures = 0
        state.facts = dict(result.facts)
        state.counters = {k: list(v) for k, v in result.counters.items()}
        if extras.table_rows is not None:
            state.table_rows = dict(extras.table_rows)
        if extras.uptime_ticks is not None:
            state.uptime_ticks = extras.uptime_ticks
    else:
        state.reachable = False
        state.consecutive_failures = (state.consecutive_failures or 0) + 1


def record_interfaces_batch(session: Session,
                            polls: Mapping[int, tuple[Sequence[InterfaceRow], datetime, int | None]]) -> None:
    """Update the interfaces of many devices: one read for all, writes only for the rows that changed."""
    by_device: dict[int, dict[int, Interface]] = {d: {} for d in polls}
    for iface in session.execute(select(Interface).where(col(Interface.device_id).in_(list(polls)))).scalars():
        by_device[iface.device_id][iface.ifindex] = iface
    for device_id, (rows, at, uptime_ticks) in polls.items():
        _record_interfaces(session, device_id, rows, at, uptime_ticks, existing=by_device[device_id])


def _record_interfaces(session: Session, device_id: int, rows: Sequence[InterfaceRow], at: datetime,
                       uptime_ticks: int | None, existing: dict[int, Interface] | None = None) -> None:
    if existing is None:
        existing = {i.ifindex: i for i in session.execute(
            select(Interface).where(col(Interface.device_id) == device_id)).scalars()}
    for row in rows:
        iface = existing.get(row.ifindex)
        if iface is None:
            iface = Interface(device_id=device_id, ifindex=row.ifindex)
            session.add(iface)
        values: dict[str, Any] = {"name": row.name[:200], "alias": row.alias[:200], "speed_bps": row.speed_bps,
                                  "admin_up": row.admin_up, "oper_up": row.oper_up}
        changed = iface.id is None or any(getattr(iface, k) != v for k, v in values.items())
        if changed:  # unchanged rows are not rewritten: most interfaces of most polls
            for key, value in values.items():
                setattr(iface, key, value)
            iface.updated_at = at
            if row.last_change_ticks is not None and uptime_ticks is not None and uptime_ticks >= row.last_change_ticks:
                iface.last_change = at - timedelta(seconds=(uptime_ticks - row.last_change_ticks) / 100)


def record_poller_status(session: Session, **values: Any) -> PollerStatus:
    """Update the poller's own health row (no commit)."""
    status = session.get(PollerStatus, 1)
    if status is None:
        status = PollerStatus(id=1)
        session.add(status)
    for key, value in values.items():
        setattr(status, key, value)
    return status


def get_interface(session: Session, interface_id: int) -> Interface:
    """Return an interface or raise NotFoundError."""
    iface = session.get(Interface, interface_id)
    if iface is None:
        raise NotFoundError(f"interface {interface_id} not found")
    return iface


# --- health views and settings (the API and CLI read these) -------------------------------------------

KEY_FIGURES = ("cpu_load_percent", "memory_used_percent", "ups_on_battery", "ups_battery_charge_percent",
               "ups_runtime_seconds", "pdu_power_watts", "device_uptime_seconds")


def _figures(samples: Iterable[Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    up = total = 0
    for metric, _labels, value in samples:
        if metric in KEY_FIGURES:
            out[metric] = float(value)
        elif metric == "temperature_celsius":
            out["temperature_max_celsius"] = max(out.get("temperature_max_celsius", float(value)), float(value))
        elif metric == "if_oper_up":
            total += 1
            up += int(value >= 1)
    if total:
        out["interfaces_up"], out["interfaces_total"] = float(up), float(total)
    return out


def health_list(session: Session, *, site_id: int | None = None, role: str | None = None,
                reachable: bool | None = None) -> list[dict[str, Any]]:
    """Return one line of health per device that has a credential or has been polled."""
    from dcops.dcim.models import Device

    query = (select(Device, DeviceState).outerjoin(DeviceState, col(DeviceState.device_id) == col(Device.id))
             .where(col(Device.snmp_credential_id).is_not(None) | col(DeviceState.device_id).is_not(None))
             .order_by(Device.name))
    if site_id is not None:
        query = query.where(col(Device.site_id) == site_id)
    if role is not None:
        query = query.where(col(Device.role) == role)
    out = []
    for device, state in session.execute(query).all():
        line = _health_line(device, state)
        if reachable is None or line["reachable"] is reachable:
            out.append(line)
    return out


def _health_line(device: Any, state: DeviceState | None) -> dict[str, Any]:
    return {
        "device_id": device.id, "name": device.name, "role": str(device.role), "site_id": device.site_id,
        "status": str(device.status),
        "state": "unknown" if state is None or state.last_poll_at is None else ("up" if state.reachable else "down"),
        "reachable": bool(state and state.reachable),
        "last_poll_at": state.last_poll_at if state else None,
        "last_success_at": state.last_success_at if state else None,
        "consecutive_failures": state.consecutive_failures if state else 0,
        "poll_duration_s": state.duration_s if state else None,
        "error": state.error if state else None,
        "figures": _figures(state.samples) if state else {},
    }


def device_health(session: Session, device_id: int) -> dict[str, Any]:
    """Return a device's latest values, facts, interfaces, sensors and UPS/PDU figures."""
    from dcops.dcim.models import Device

    device = session.get(Device, device_id)
    if device is None:
        raise NotFoundError(f"device {device_id} not found")
    state = session.get(DeviceState, device_id)
    line = _health_line(device, state)
    samples = [{"metric": m, "labels": labels, "value": v} for m, labels, v in (state.samples if state else [])]
    interfaces = session.execute(select(Interface).where(col(Interface.device_id) == device_id)
                                 .order_by(col(Interface.ifindex))).scalars().all()
    public_facts = {k: v for k, v in (state.facts if state else {}).items()}
    return line | {
        "facts": public_facts,
        "samples": samples,
        "interfaces": [i.model_dump() for i in interfaces],
        "sensors": [s for s in samples if s["metric"] in ("temperature_celsius", "fan_rpm")],
        "power": [s for s in samples if s["metric"].startswith(("ups_", "pdu_"))],
        "settings": get_settings(session, device_id).model_dump(),
    } | _sensor_health(session, device_id)


def _sensor_health(session: Session, device_id: int) -> dict[str, Any]:
    from dcops.monitoring.sensor_state import discovery_view, overrides_of, sensors_view

    return {"discovery": discovery_view(session, device_id), "sensor_readings": sensors_view(session, device_id),
            "sensor_thresholds": [o.model_dump() for o in overrides_of(session, device_id)]}


def get_settings(session: Session, device_id: int) -> Any:
    """Return the monitoring settings of a device (defaults when never set)."""
    from dcops.monitoring.state_models import MonitoringSetting

    return session.get(MonitoringSetting, device_id) or MonitoringSetting(device_id=device_id)


def update_settings(session: Session, *, actor: Any, device_id: int, data: dict[str, Any]) -> Any:
    """Change how a device is polled (interval, port, v3-only, enabled), with a change-log entry."""
    from dcops.auth.choices import ChangeAction
    from dcops.crud import record_change
    from dcops.dcim.models import Device
    from dcops.monitoring.state_models import MonitoringSetting

    device = session.get(Device, device_id)
    if device is None:
        raise NotFoundError(f"device {device_id} not found")
    setting = session.get(MonitoringSetting, device_id)
    before = setting.model_dump() if setting else None
    if setting is None:
        setting = MonitoringSetting(device_id=device_id)
        session.add(setting)
    for key, value in data.items():
        if value is not None:
            setattr(setting, key, value)
    session.flush()
    record_change(session, actor=actor, action=ChangeAction.UPDATE if before else ChangeAction.CREATE,
                  object_type="monitoring_setting", object_id=device_id, object_repr=device.name,
                  before=before, after=setting.model_dump())
    session.commit()
    return setting


def set_interface_unused(session: Session, *, actor: Any, interface_id: int, unused: bool) -> Interface:
    """Mark an interface as a port that must stay unused (or clear the mark), with a change-log entry."""
    from dcops.auth.choices import ChangeAction
    from dcops.crud import record_change

    iface = get_interface(session, interface_id)
    before = {"unused": iface.unused}
    iface.unused = unused
    record_change(session, actor=actor, action=ChangeAction.UPDATE, object_type="interface", object_id=interface_id,
                  object_repr=iface.name or str(iface.ifindex), before=before, after={"unused": unused})
    session.commit()
    return iface


def poller_status(session: Session) -> dict[str, Any]:
    """Return the poller's own health (as written by the last cycle)."""
    status = session.get(PollerStatus, 1)
    if status is None:
        return {"running": False, "heartbeat_at": None, "devices": 0}
    age = (utcnow() - status.heartbeat_at).total_seconds() if status.heartbeat_at else None
    stale_after = max(3 * (status.cycle_interval_s or 60), 120)
    return status.model_dump() | {"running": age is not None and age < stale_after, "heartbeat_age_s": age}
