"""Quota use and shortfalls, and the agency hierarchy's rules on change and delete, at the service."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from dcops.actor import SYSTEM
from dcops.exceptions import InUseError, ValidationError
from dcops.tenancy.hooks import QUOTA_CONSUMERS
from dcops.tenancy.models import Agency
from dcops.tenancy.quota import QuotaUse
from dcops.tenancy.service import agencies, agency_codes, quota_shortfalls, quota_use
from dcops.virtualization.service import vm_quota_use


def test_quota_use_sums_the_agencys_live_vms_only(session: Session, factory: Any) -> None:
    agency, other, cluster = factory.agency(), factory.agency(), factory.cluster()
    kept = factory.vm(agency, cluster, vcpus=2, ram_gib=4, disk_gib=40)
    factory.vm(agency, cluster, vcpus=8, ram_gib=16, disk_gib=100)
    factory.vm(agency, cluster, vcpus=32, ram_gib=64, disk_gib=500, state="decommissioned")
    factory.vm(other, cluster, vcpus=16, ram_gib=32, disk_gib=200)

    assert quota_use(session, agency.id) == QuotaUse(vcpus=10, ram_gib=20, disk_gib=140, vms=2)
    assert quota_use(session, agency.id, exclude_vm=kept.id) == QuotaUse(vcpus=8, ram_gib=16, disk_gib=100, vms=1)
    assert quota_use(session, factory.agency().id) == QuotaUse(0, 0, 0, 0)


def test_virtualization_provides_the_vm_count_to_tenancy() -> None:
    assert vm_quota_use in QUOTA_CONSUMERS.all()


def test_quota_use_adds_up_every_consumer(session: Session, factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    agency, cluster = factory.agency(), factory.cluster()
    factory.vm(agency, cluster, vcpus=2, ram_gib=4, disk_gib=40)
    QUOTA_CONSUMERS.all()  # providers loaded before the list is replaced
    monkeypatch.setattr(QUOTA_CONSUMERS, "_implementations",
                        [vm_quota_use, lambda s, agency_id, exclude: QuotaUse(1, 2, 3, 0)])

    assert quota_use(session, agency.id) == QuotaUse(vcpus=3, ram_gib=6, disk_gib=43, vms=1)


def _agency(vcpus: int | None = None, ram: int | None = None, disk: int | None = None, vms: int | None = None
            ) -> Agency:
    return Agency(code="DINKES", name="Dinas Kesehatan", quota_vcpus=vcpus, quota_ram_gib=ram,
                  quota_disk_gib=disk, quota_vms=vms)


def test_shortfalls_name_each_quota_exceeded_with_how_much() -> None:
    use = QuotaUse(vcpus=6, ram_gib=12, disk_gib=90, vms=3)

    problems = quota_shortfalls(_agency(vcpus=8, ram=16, disk=100, vms=3), use, vcpus=4, ram_gib=4, disk_gib=20,
                                vms=1)

    assert problems == [
        "vCPU: 6 of 8 used, 4 more asked (2 over)",
        "disk: 90 GiB of 100 GiB used, 20 GiB more asked (10 GiB over)",
        "VM count: 3 of 3 used, 1 more asked (1 over)",
    ]


def test_no_limit_and_an_exact_fill_are_not_shortfalls() -> None:
    use = QuotaUse(vcpus=6, ram_gib=12, disk_gib=90, vms=3)

    assert quota_shortfalls(_agency(), use, vcpus=1000, ram_gib=1000, disk_gib=1000, vms=1000) == []
    assert quota_shortfalls(_agency(vcpus=8, ram=16, disk=100, vms=4), use, vcpus=2, ram_gib=4, disk_gib=10,
                            vms=1) == []
    assert quota_shortfalls(_agency(vcpus=0), QuotaUse(0, 0, 0, 0), vcpus=0, ram_gib=0, disk_gib=0, vms=0) == []


def test_a_parent_with_children_cannot_be_deleted(session: Session, factory: Any) -> None:
    kecamatan = factory.agency(code="KEC-BARAT", kind="kecamatan")
    factory.agency(code="KEL-SUKAJADI", kind="kelurahan", parent_id=kecamatan.id)

    with pytest.raises(InUseError, match="KEL-SUKAJADI"):
        agencies.delete(session, actor=SYSTEM, id=kecamatan.id)
    assert agencies.get_by(session, actor=SYSTEM, code="KEC-BARAT") is not None


def test_a_kelurahan_cannot_move_under_a_dinas(session: Session, factory: Any) -> None:
    kecamatan = factory.agency(code="KEC-TIMUR", kind="kecamatan")
    dinas = factory.agency(code="DISDUK", kind="dinas")
    kelurahan = factory.agency(code="KEL-MEKAR", kind="kelurahan", parent_id=kecamatan.id)

    with pytest.raises(ValidationError, match="'DISDUK' is a dinas"):
        agencies.update(session, actor=SYSTEM, id=kelurahan.id, data={"parent_id": dinas.id})
    session.expire_all()
    assert agencies.get(session, actor=SYSTEM, id=kelurahan.id).parent_id == kecamatan.id


def test_a_deep_hierarchy_without_a_cycle_is_accepted(session: Session, factory: Any) -> None:
    top = factory.agency(code="SETDA", kind="sekretariat")
    middle = factory.agency(code="BAGORG", kind="other", parent_id=top.id)
    bottom = factory.agency(code="SUBBAG", kind="other", parent_id=middle.id)

    with pytest.raises(ValidationError, match="cycle"):
        agencies.update(session, actor=SYSTEM, id=top.id, data={"parent_id": bottom.id})
    moved, _ = agencies.update(session, actor=SYSTEM, id=bottom.id, data={"parent_id": top.id})

    assert moved.parent_id == top.id
    assert agency_codes(session) == {top.id: "SETDA", middle.id: "BAGORG", bottom.id: "SUBBAG"}
