"""An agency's quota use: plain numbers, summed over the features that consume quota."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuotaUse:
    """An agency's allocation against its quota (None in a limit: no limit)."""

    vcpus: int
    ram_gib: int
    disk_gib: int
    vms: int

    def __add__(self, other: QuotaUse) -> QuotaUse:
        return QuotaUse(self.vcpus + other.vcpus, self.ram_gib + other.ram_gib, self.disk_gib + other.disk_gib,
                        self.vms + other.vms)
