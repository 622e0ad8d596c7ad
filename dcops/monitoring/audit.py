"""``dcops snmp audit``: probe devices over SNMP v1/v2c with the default communities and flag weak configuration.

Each device with a management address is asked for sysDescr.0 with ``public`` and ``private`` (and any extra
community given) over v1 and v2c. A device that answers a default community raises ``default_community``; a
device marked v3-only (``MonitoringSetting.v3_only``) that answers v1/v2c at all raises ``v3_only_answers_v1v2c``.
Findings feed the alert rules as facts, so a fixed device resolves its alert at the next audit.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import Session, col

from dcops.dcim.models import Device
from dcops.monitoring.snmp import SnmpClient, SnmpTarget
from dcops.monitoring.snmp.errors import SnmpError

DEFAULT_COMMUNITIES = ("public", "private")
SYS_DESCR = "1.3.6.1.2.1.1.1.0"


@dataclass
class AuditResult:
    """What one device answered."""

    device_id: int | None
    device: str
    address: str
    port: int
    v3_only: bool = False
    answered: list[tuple[str, str]] = field(default_factory=list)  # (version, community label)
    error: str = ""

    @property
    def default_communities(self) -> list[str]:
        return sorted({c for _, c in self.answered if c in DEFAULT_COMMUNITIES})

    @property
    def versions(self) -> list[str]:
        return sorted({v for v, _ in self.answered})

    @property
    def findings(self) -> list[str]:
        """Return the problems found, in words."""
        out = []
        if self.default_communities:
            out.append(f"answers default community {', '.join(self.default_communities)}")
        if self.v3_only and self.answered:
            out.append(f"v3-only but answers SNMP v{', v'.join(self.versions)}")
        return out


async def probe(address: str, port: int, communities: tuple[str, ...] = DEFAULT_COMMUNITIES, *,
                timeout: float = 1.0, client: SnmpClient | None = None) -> list[tuple[str, str]]:
    """Return the (version, community) pairs an agent answers."""
    own = client is None
    client = client or SnmpClient()
    answered = []
    try:
        for community in communities:
            for version in ("1", "2c"):
                target = SnmpTarget(host=address, port=port, version=version, community=community,
                                    timeout=timeout, retries=0)
                try:
                    await client.get(target, [SYS_DESCR])
                except SnmpError:
                    continue
                answered.append((version, community))
    finally:
        if own:
            client.close()
    return answered


def audit_targets(session: Session, names: list[str] | None = None) -> list[AuditResult]:
    """Return the devices to audit: those with a management address (optionally only ``names``)."""
    from dcops.monitoring.state_models import MonitoringSetting

    stmt = select(Device).where(col(Device.mgmt_address).is_not(None)).order_by(col(Device.name))
    if names:
        stmt = stmt.where(col(Device.name).in_(names))
    out = []
    for device in session.execute(stmt).scalars().all():
        setting = session.get(MonitoringSetting, device.id)
        out.append(AuditResult(device_id=device.id, device=device.name, address=str(device.mgmt_address),
                               port=setting.snmp_port if setting else 161, v3_only=bool(setting and setting.v3_only)))
    return out


async def run_audit(targets: list[AuditResult], *, extra_communities: tuple[str, ...] = (), timeout: float = 1.0,
                    concurrency: int = 50) -> list[AuditResult]:
    """Probe every target (bounded concurrency) and fill in what each answered."""
    gate = asyncio.Semaphore(concurrency)
    async with SnmpClient() as client:
        async def one(result: AuditResult) -> None:
            async with gate:
                try:
                    answered = await probe(result.address, result.port, DEFAULT_COMMUNITIES + extra_communities,
                                           timeout=timeout, client=client)
                except (OSError, ValueError) as exc:
                    result.error = str(exc)
                    return
                result.answered = [(v, c if c in DEFAULT_COMMUNITIES else "(other)") for v, c in answered]

        await asyncio.gather(*(one(t) for t in targets))
    return targets


def record(session: Session, results: list[AuditResult]) -> None:
    """Feed the findings to the alert rules (they fire, or resolve when fixed)."""
    from dcops.monitoring.alerting import record_events

    for r in results:
        if r.device_id is None or r.error:
            continue
        facts = {"default_community": ",".join(r.default_communities),
                 "answers_v1v2c": ",".join(f"v{v}" for v in r.versions)}
        record_events(session, device_id=r.device_id, events=[], facts=facts)


def audit(session: Session, *, names: list[str] | None = None, extra_communities: tuple[str, ...] = (),
          timeout: float = 1.0) -> list[AuditResult]:
    """Audit the inventory's devices, record the findings as alerts, and return the results."""
    targets = audit_targets(session, names)
    session.commit()  # do not hold a transaction (SQLite write lock) while probing the network
    results = asyncio.run(run_audit(targets, extra_communities=extra_communities, timeout=timeout))
    record(session, results)
    return results


async def audit_round(*, timeout: float = 1.0) -> list[AuditResult]:
    """Audit every device once without blocking the event loop (the periodic form)."""
    from dcops.database import session_scope

    def targets() -> list[AuditResult]:
        with session_scope() as session:
            return audit_targets(session)

    def save(results: list[AuditResult]) -> None:
        with session_scope() as session:
            record(session, results)

    results = await run_audit(await asyncio.to_thread(targets), timeout=timeout)
    await asyncio.to_thread(save, results)
    return results


def audit_all() -> int:
    """Audit every device's SNMP configuration once, from synchronous code; return how many were audited."""
    return len(asyncio.run(audit_round()))


async def run_periodic_audit(interval_s: float | None = None) -> None:
    """Audit every ``DCOPS_AUDIT_INTERVAL`` seconds until cancelled (0, the default, turns it off)."""
    import logging
    import os

    log = logging.getLogger("dcops.audit")
    interval = interval_s if interval_s is not None else float(os.environ.get("DCOPS_AUDIT_INTERVAL", "0"))
    if interval <= 0:
        return
    while True:
        try:
            results = await audit_round()
            flagged = [r.device for r in results if r.findings]
            log.info("SNMP audit of %d devices: %d flagged %s", len(results), len(flagged), flagged[:10])
        except Exception:
            log.exception("SNMP audit failed; trying again next interval")
        await asyncio.sleep(interval)
