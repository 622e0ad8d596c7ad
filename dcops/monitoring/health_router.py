"""Device health, metric history, monitoring settings, interfaces and the poller's health: /monitoring/..."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Query

from dcops.auth.actor import Actor
from dcops.auth.choices import ADMIN_OPERATOR, STAFF
from dcops.auth.deps import Allow
from dcops.database import SessionDep, utcnow
from dcops.exceptions import NotFoundError, ValidationError
from dcops.monitoring import state
from dcops.monitoring.sensor_models import SensorThresholdIn
from dcops.monitoring.state_models import InterfaceUpdate, MonitoringSetting, MonitoringSettingUpdate
from dcops.routing import ApiRouter

router = ApiRouter(tags=["monitoring"])
Staff = Annotated[Actor, Depends(Allow(STAFF))]
Writer = Annotated[Actor, Depends(Allow(ADMIN_OPERATOR))]


@router.get("/devices/health", summary="Health of every monitored device")
def list_health(session: SessionDep, actor: Staff, site_id: int | None = None, role: str | None = None,
                reachable: bool | None = None) -> dict[str, Any]:
    """Up/down, last poll and key figures per device."""
    data = state.health_list(session, site_id=site_id, role=role, reachable=reachable)
    return {"data": data, "count": len(data)}


@router.get("/devices/{device_id}/health", summary="Latest values, interfaces, sensors and power of a device")
def get_health(device_id: int, session: SessionDep, actor: Staff) -> dict[str, Any]:
    """Everything the last poll of a device gave."""
    return state.device_health(session, device_id)


def _labels(values: list[str]) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValidationError(f"label '{item}' must look like name=value", field="label")
        out[key] = value
    return out


@router.get("/devices/{device_id}/history", summary="History of one metric of a device")
def get_history(
    device_id: int, session: SessionDep, actor: Staff,
    metric: str = Query(description="metric name, e.g. if_in_bps"),
    label: list[str] = Query(default=[], description="label filter name=value, repeatable (e.g. ifname=eth0)"),
    start: datetime | None = Query(default=None, description="default: end - 1 hour"),
    end: datetime | None = Query(default=None, description="default: now"),
    step: int = Query(default=60, ge=1, le=86400, description="seconds per point (values averaged)"),
) -> dict[str, Any]:
    """Points of a metric over a time range, from poll-resolution or 5-minute history."""
    from dcops.dcim.models import Device
    from dcops.monitoring.types import METRICS

    if session.get(Device, device_id) is None:
        raise NotFoundError(f"device {device_id} not found")
    if metric not in METRICS:
        raise ValidationError(f"unknown metric '{metric}'; one of: {', '.join(sorted(METRICS))}", field="metric")
    end = end or utcnow()
    start = start or end - timedelta(hours=1)
    series = state.history(session, device_id=device_id, metric=metric, labels=_labels(label), start=start,
                           end=end, step_s=step)
    return {"metric": metric, "start": start, "end": end, "step": step,
            "series": [{"labels": s.labels, "points": [[t.isoformat(), v] for t, v in s.points]} for s in series]}


@router.get("/devices/{device_id}/settings", summary="How a device is polled")
def get_settings(device_id: int, session: SessionDep, actor: Staff) -> MonitoringSetting:
    """Interval, SNMP port, v3-only flag and enabled flag of a device."""
    from dcops.dcim.models import Device

    if session.get(Device, device_id) is None:
        raise NotFoundError(f"device {device_id} not found")
    return state.get_settings(session, device_id)


@router.patch("/devices/{device_id}/settings", summary="Change how a device is polled")
def patch_settings(device_id: int, body: MonitoringSettingUpdate, session: SessionDep,
                   actor: Writer) -> MonitoringSetting:
    """Set the interval, SNMP port, v3-only flag or enabled flag of a device."""
    return state.update_settings(session, actor=actor, device_id=device_id, data=body.model_dump(exclude_unset=True))


@router.patch("/interfaces/{interface_id}", summary="Mark a port as unused (or not)")
def patch_interface(interface_id: int, body: InterfaceUpdate, session: SessionDep, actor: Writer) -> dict[str, Any]:
    """Flag an interface that must stay down: it coming up raises a security alert."""
    return state.set_interface_unused(session, actor=actor, interface_id=interface_id, unused=body.unused).model_dump()


@router.get("/devices/{device_id}/sensor-thresholds", summary="Threshold overrides of a device's sensors")
def list_sensor_thresholds(device_id: int, session: SessionDep, actor: Staff) -> dict[str, Any]:
    """The operator's limits per sensor (by description) or per class; they replace the device's own limits."""
    from dcops.dcim.models import Device
    from dcops.monitoring.sensor_state import overrides_of

    if session.get(Device, device_id) is None:
        raise NotFoundError(f"device {device_id} not found")
    data = [o.model_dump() for o in overrides_of(session, device_id)]
    return {"data": data, "count": len(data)}


@router.put("/devices/{device_id}/sensor-thresholds", summary="Set the limits of a sensor or a sensor class")
def put_sensor_threshold(device_id: int, body: SensorThresholdIn, session: SessionDep, actor: Writer) -> dict[str, Any]:
    """Create or replace an override: ``sensor`` empty means every sensor of ``sensor_class`` on the device."""
    from dcops.monitoring.sensor_state import set_override

    return set_override(session, device_id, body.model_dump(), actor=actor).model_dump()


@router.delete("/devices/{device_id}/sensor-thresholds/{override_id}", status_code=204,
               summary="Remove a threshold override")
def delete_sensor_threshold(device_id: int, override_id: int, session: SessionDep, actor: Writer) -> None:
    """The sensor goes back to the device's own limits (else the default of its class)."""
    from dcops.monitoring.sensor_state import delete_override

    delete_override(session, device_id, override_id, actor=actor)


@router.get("/poller", summary="The poller's own health")
def get_poller(session: SessionDep, actor: Staff) -> dict[str, Any]:
    """Heartbeat, devices, last cycle duration, polls, errors and overruns."""
    return state.poller_status(session)
