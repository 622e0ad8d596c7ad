"""The ``device_not_polled`` rule: a pollable device not recorded within 2 of its intervals raises an alert.

The check runs in the scheduler's periodic work. It sends the event ``device_not_polled`` for each late device
(the alert fires once and stays open), and ``device_polled`` for a device whose alert is open but which has been
recorded again since, which resolves it.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from dcops.database import session_scope, utcnow

RULE = "device_not_polled"
#: a device enrolled but never polled counts as late this long after the check first saw it
_first_seen: dict[int, object] = {}


def late_devices(now: object = None) -> tuple[list[int], list[int]]:
    """Return (device ids not recorded within 2 intervals, device ids recorded in time)."""
    from dcops.dcim.models import Credential, Device
    from dcops.monitoring.poller import POLLED_STATUSES
    from dcops.monitoring.state_models import DeviceState, MonitoringSetting

    now = now or utcnow()
    with session_scope() as session:
        rows = session.execute(
            select(Device.id, MonitoringSetting.interval_s, MonitoringSetting.enabled, DeviceState.last_poll_at)
            .join(Credential, Credential.id == Device.snmp_credential_id)  # type: ignore[arg-type]
            .outerjoin(MonitoringSetting, MonitoringSetting.device_id == Device.id)  # type: ignore[arg-type]
            .outerjoin(DeviceState, DeviceState.device_id == Device.id)  # type: ignore[arg-type]
            .where(Device.status.in_(POLLED_STATUSES), Device.mgmt_address.is_not(None))  # type: ignore
        ).all()
    late, fresh = [], []
    for device_id, interval, enabled, last in rows:
        if enabled is False:
            continue
        window = timedelta(seconds=2 * (interval or 60))
        since = last or _first_seen.setdefault(device_id, now)
        (late if now - since > window else fresh).append(device_id)  # type: ignore[operator]
    return late, fresh


def check() -> int:
    """Raise or clear ``device_not_polled``; return how many devices are late."""
    from dcops.monitoring.alert_models import OPEN_STATES, Alert
    from dcops.monitoring.alerting import record_events

    late, fresh = late_devices()
    with session_scope() as session:
        open_ids = set(session.execute(select(Alert.device_id).where(
            Alert.rule == RULE, Alert.state.in_(OPEN_STATES))).scalars())  # type: ignore[attr-defined]
    with session_scope() as session:
        for device_id in late:
            if device_id not in open_ids:
                record_events(session, device_id=device_id, events=[(RULE, "snmp")])
        for device_id in fresh:
            if device_id in open_ids:
                record_events(session, device_id=device_id, events=[("device_polled", "snmp")])
    return len(late)
