"""What the poller needs to poll a device, read from the inventory and the last recorded state before the poll."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from dcops.dcim.choices import CredentialKind, DeviceStatus
from dcops.dcim.models import Credential, Device
from dcops.monitoring.discovery import Discovery
from dcops.monitoring.sensor_state import stored_discoveries
from dcops.monitoring.snmp import SnmpTarget
from dcops.monitoring.state_models import DeviceState, MonitoringSetting
from dcops.security import decrypt_secrets

log = logging.getLogger("dcops.poller")

DEFAULT_INTERVAL_S = 60
POLLED_STATUSES = (DeviceStatus.ACTIVE, DeviceStatus.MAINTENANCE)
_VERSIONS = {CredentialKind.SNMP_V1: "1", CredentialKind.SNMP_V2C: "2c", CredentialKind.SNMP_V3: "3"}
_PRIV = {"aes128": "aes"}
#: columns of the last state a poll does not need (read as ORM attributes by name: mypy types them as values)
_UNNEEDED = ("samples", "facts", "exposition")


@dataclass
class Target:
    """Everything needed to poll one device, read from the database before the poll."""

    device_id: int | None
    name: str
    role: str
    snmp: SnmpTarget
    interval_s: int = DEFAULT_INTERVAL_S
    maintenance: bool = False
    v3_only: bool = False
    previous_counters: dict[str, tuple[int, int, float]] = field(default_factory=dict)
    previous_uptime: int | None = None
    previous_at: float | None = None
    table_rows: dict[str, int] = field(default_factory=dict)
    #: the last discovery result (which profiles apply and why); None: discover on the next poll
    discovery: Discovery | None = None


@dataclass
class PollerOptions:
    """Tuning of the poller (defaults fit 2,000 devices a minute on two cores)."""

    concurrency: int = 100
    timeout_s: float = 2.0
    retries: int = 1
    jitter: float = 0.25  # polls start within the first quarter of a cycle
    deadline: float = 0.9  # every poll ends by 90 % of the cycle
    batch: int = 200  # results per write transaction
    compact_every_s: float = 300.0
    refresh_s: float = 30.0  # how often the device list is re-read


# --- targets -----------------------------------------------------------------------------------------


def snmp_target(credential: Credential, host: str, port: int, *, timeout_s: float, retries: int) -> SnmpTarget:
    """Build the SNMP client's target for a stored credential (secrets decrypted in memory only)."""
    secrets = decrypt_secrets(credential.secret_blob) if credential.secret_blob else {}
    version = _VERSIONS.get(CredentialKind(credential.kind))
    if version is None:
        raise ValueError(f"credential '{credential.name}' is not an SNMP credential")
    if version != "3":
        return SnmpTarget(host=host, port=port, version=version, community=secrets.get("community", ""),
                          timeout=timeout_s, retries=retries)
    return SnmpTarget(host=host, port=port, version="3", username=credential.username,
                      auth_protocol=str(credential.auth_protocol), auth_key=secrets.get("auth_key", "") or "",
                      priv_protocol=_PRIV.get(str(credential.priv_protocol), str(credential.priv_protocol)),
                      priv_key=secrets.get("priv_key", "") or "", timeout=timeout_s, retries=retries)


def load_targets(session: Session, *, device_ids: Iterable[int] | None = None,
                 options: PollerOptions | None = None) -> list[Target]:
    """Return the pollable devices (active or in maintenance, with an address, an SNMP credential, enabled)."""
    options = options or PollerOptions()
    query = (
        select(Device, Credential, MonitoringSetting, DeviceState)
        .join(Credential, col(Credential.id) == col(Device.snmp_credential_id))
        .outerjoin(MonitoringSetting, col(MonitoringSetting.device_id) == col(Device.id))
        .outerjoin(DeviceState, col(DeviceState.device_id) == col(Device.id))
        .where(col(Device.status).in_(POLLED_STATUSES), col(Device.mgmt_address).is_not(None))
        .order_by(col(Device.id))
        # a target needs the counters and table sizes, not the last samples, facts or /metrics lines
        .options(*(defer(getattr(DeviceState, name)) for name in _UNNEEDED))
    )
    if device_ids is not None:
        query = query.where(col(Device.id).in_(list(device_ids)))
    targets = []
    for device, credential, setting, state in session.execute(query).all():
        if setting is not None and not setting.enabled:
            continue
        if credential.kind not in _VERSIONS:
            continue
        try:
            snmp = snmp_target(credential, device.mgmt_address, setting.snmp_port if setting else 161,
                               timeout_s=options.timeout_s, retries=options.retries)
        except Exception as exc:  # an undecryptable credential must not stop the others
            log.error("device %s: cannot use its SNMP credential: %s", device.name, exc)
            continue
        counters = {k: (int(v[0]), int(v[1]), float(v[2])) for k, v in (state.counters if state else {}).items()}
        targets.append(Target(
            device_id=device.id, name=device.name, role=str(device.role), snmp=snmp,
            interval_s=setting.interval_s if setting else DEFAULT_INTERVAL_S,
            maintenance=device.status == DeviceStatus.MAINTENANCE, v3_only=bool(setting and setting.v3_only),
            previous_counters=counters, previous_uptime=state.uptime_ticks if state else None,
            previous_at=state.last_success_at.timestamp() if state and state.last_success_at else None,
            table_rows=dict(state.table_rows) if state else {},
        ))
    _attach_discovery(session, targets)
    return targets


def _attach_discovery(session: Session, targets: list[Target]) -> None:
    """Give each target its stored discovery result (a device never discovered gets none)."""
    found = stored_discoveries(session, [t.device_id for t in targets if t.device_id is not None])
    for target in targets:
        target.discovery = found.get(target.device_id) if target.device_id is not None else None
