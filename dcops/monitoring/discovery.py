"""Discovery: which profiles apply to a device, decided by what the device answers.

It runs on a device's first poll and again whenever its sysObjectID or sysDescr changes: the profiles
whose role and identity (sysObjectID prefix or sysDescr pattern) fit are candidates, and those with probe
OIDs keep only if every probe answers a GETNEXT inside its subtree. The result names each profile with the
reason it applies; it is kept on the poll target between polls and stored per device.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dcops.monitoring import profiles as prof
from dcops.monitoring.snmp import SnmpClient, SnmpTarget, Varbind

log = logging.getLogger("dcops.poller")

PROBE_CHUNK = 20  # OIDs per GETNEXT request


@dataclass
class Discovery:
    """What discovery found for one device: its identity then, and each profile applied with why."""

    sys_object_id: str
    sys_descr: str
    role: str
    profiles: list[tuple[str, str]] = field(default_factory=list)
    at: float = 0.0

    def still_fits(self, *, role: str, sys_object_id: str, sys_descr: str, known: set[str]) -> bool:
        """Tell whether this result still holds (same identity and role, every profile still installed)."""
        return (self.sys_object_id == sys_object_id and self.sys_descr == sys_descr and self.role == role
                and all(name in known for name, _ in self.profiles))

    def as_dict(self) -> dict[str, Any]:
        """Return the result as JSON-able data (stored, shown by the API)."""
        return {"sys_object_id": self.sys_object_id, "sys_descr": self.sys_descr, "role": self.role,
                "profiles": [{"name": n, "reason": r} for n, r in self.profiles], "at": self.at}

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Discovery | None:
        """Rebuild a stored result (None when nothing usable is stored)."""
        if not raw or "profiles" not in raw:
            return None
        return cls(sys_object_id=str(raw.get("sys_object_id", "")), sys_descr=str(raw.get("sys_descr", "")),
                   role=str(raw.get("role", "")), at=float(raw.get("at", 0.0)),
                   profiles=[(str(p["name"]), str(p.get("reason", ""))) for p in raw["profiles"]])


async def answered_probes(client: SnmpClient, target: SnmpTarget, oids: Sequence[str]) -> set[str]:
    """Send GETNEXT for each probe OID; return those answered with an OID inside their subtree."""
    answered: set[str] = set()

    def check(asked: str, vb: Varbind) -> None:
        got = str(vb.oid).strip(".")
        if prof.present(vb) and got.startswith(asked + "."):
            answered.add(asked)

    for start in range(0, len(oids), PROBE_CHUNK):
        chunk = list(oids[start:start + PROBE_CHUNK])
        try:
            for asked, vb in zip(chunk, await client.get_next(target, chunk), strict=False):
                check(asked, vb)
        except Exception:  # an SNMPv1 agent fails the whole request past its last OID: ask one by one
            for asked in chunk:
                try:
                    for vb in await client.get_next(target, [asked]):
                        check(asked, vb)
                except Exception as exc:
                    if "timeout" in type(exc).__name__.lower():
                        raise
    return answered


async def discover(client: SnmpClient, target: SnmpTarget, profiles: Sequence[prof.Profile], *, role: str,
                   sys_object_id: str, sys_descr: str) -> Discovery:
    """Decide which profiles apply to a device from its identity and its answers to the probes."""
    probes = prof.probe_oids(profiles, role=role, sys_object_id=sys_object_id, sys_descr=sys_descr)
    answered = await answered_probes(client, target, probes) if probes else set()
    chosen = prof.detect_profiles(profiles, role=role, sys_object_id=sys_object_id, sys_descr=sys_descr,
                                  answered=answered)
    return Discovery(sys_object_id=sys_object_id, sys_descr=sys_descr, role=role, at=time.time(),
                     profiles=[(p.name, why) for p, why in chosen])


def profiles_of(discovery: Discovery, profiles: Sequence[prof.Profile]) -> list[prof.Profile]:
    """Return the installed profiles a discovery result names, in its order."""
    by_name = {p.name: p for p in profiles}
    return [by_name[name] for name, _ in discovery.profiles if name in by_name]


#: metrics the system profile gives every device: reading only these is "no data"
SYSTEM_METRICS = {"device_up", "device_uptime_seconds", "device_poll_duration_seconds", "snmp_bad_community_per_second"}


def no_data_reason(profiles: Sequence[prof.Profile], evaluation: prof.Evaluation, role: str,
                   sys_object_id: str) -> str | None:
    """Say why a reachable device gave nothing beyond the system group (None when it gave data)."""
    others = [p.name for p in profiles if p.name != "system"]
    if not others:
        return (f"no data: no profile beyond 'system' applies (role {role}, sysObjectID {sys_object_id or '?'}); "
                "add a profile for this device family")
    read = (evaluation.sensors or evaluation.interfaces
            or any(s.metric not in SYSTEM_METRICS for s in evaluation.samples)
            or any(k not in ("sys_descr", "sys_object_id", "sys_name") for k in evaluation.facts))
    if read:
        return None
    return f"no data: profiles {', '.join(others)} apply but the device answered none of their OIDs"
