"""The reconciler: compare the domains on each hypervisor with the VMs dcops records; report, never delete."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from dcops.database import utcnow
from dcops.dcim.models import Device
from dcops.provisioning import service
from dcops.provisioning.preflight import PreflightError, list_domains
from dcops.virtualization.models import VirtualMachine, VMState

EXPECTED = {VMState.RUNNING: "running", VMState.STOPPED: "shut off"}
IN_FLIGHT = {VMState.PROVISIONING}


@dataclass(frozen=True)
class Finding:
    """One disagreement: an orphan (on the host only), a ghost (in dcops only), drift, or an unreachable host."""

    kind: str
    host: str
    vm: str
    dcops_state: str
    host_state: str
    detail: str


@dataclass
class Report:
    """What one reconciliation found, host by host."""

    at: datetime
    hosts_checked: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "hosts_checked": self.hosts_checked,
                "findings": [asdict(f) for f in self.findings],
                "counts": {k: sum(1 for f in self.findings if f.kind == k)
                           for k in ("orphan", "ghost", "drift", "unreachable")}}


def compare(host: str, on_host: dict[str, str], recorded: list[tuple[str, str]]) -> list[Finding]:
    """Compare a host's domains (name -> state) with dcops' VMs on it ((name, state)); pure."""
    out: list[Finding] = []
    known = dict(recorded)
    for name, state in sorted(on_host.items()):
        db_state = known.get(name)
        if db_state is None or db_state in (VMState.DECOMMISSIONED, VMState.FAILED, VMState.REQUESTED):
            detail = "not in dcops" if db_state is None else f"dcops records it as {db_state}"
            out.append(Finding("orphan", host, name, db_state or "", state, detail))
        elif db_state in EXPECTED and EXPECTED[VMState(db_state)] != state:
            out.append(Finding("drift", host, name, db_state, state,
                               f"dcops says {db_state}, the host says {state}"))
    for name, db_state in sorted(recorded):
        if db_state in EXPECTED and name not in on_host:
            out.append(Finding("ghost", host, name, db_state, "", "in dcops, no such domain on the host"))
    return out


def reconcile(session: Session) -> Report:
    """Check every registered hypervisor and return what disagrees."""
    report = Report(at=utcnow())
    for access in service.list_hypervisors(session):
        device = session.get(Device, access.device_id)
        assert device is not None
        report.hosts_checked.append(device.name)
        try:
            on_host = list_domains(service.target_for(session, access), access.libvirt_uri)
        except PreflightError as exc:
            report.findings.append(Finding("unreachable", device.name, "", "", "", exc.message))
            continue
        # VMs recorded on this host, and VMs recorded anywhere with a name found here (moved or failed)
        rows = session.execute(
            select(col(VirtualMachine.name), col(VirtualMachine.state), col(VirtualMachine.host_id))
            .where((col(VirtualMachine.host_id) == device.id) | col(VirtualMachine.name).in_(list(on_host)))).all()
        recorded = [(name, str(state)) for name, state, host_id in rows
                    if host_id == device.id and state not in IN_FLIGHT]
        report.findings += compare(device.name, on_host, recorded)
    return report
