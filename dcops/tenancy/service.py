"""Agency rules: the hierarchy of kecamatan and kelurahan, and quota use."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from dcops.crud import Resource
from dcops.exceptions import ValidationError
from dcops.tenancy.choices import AgencyKind
from dcops.tenancy.hooks import QUOTA_CONSUMERS
from dcops.tenancy.models import Agency
from dcops.tenancy.quota import QuotaUse

__all__ = ["QuotaUse", "agencies", "agency_codes", "quota_shortfalls", "quota_use"]


def _check_agency(
    session: Session, agency: Agency, before: dict[str, Any] | None, options: dict[str, Any]
) -> list[str]:
    if agency.parent_id is None:
        if agency.kind == AgencyKind.KELURAHAN:
            raise ValidationError("a kelurahan needs its kecamatan as parent_id", field="parent_id")
        return []
    if agency.id is not None and agency.parent_id == agency.id:
        raise ValidationError("an agency cannot be its own parent", field="parent_id")
    parent = session.get(Agency, agency.parent_id)
    assert parent is not None
    if agency.kind == AgencyKind.KELURAHAN and parent.kind != AgencyKind.KECAMATAN:
        raise ValidationError(
            f"a kelurahan's parent must be a kecamatan; '{parent.code}' is a {parent.kind}", field="parent_id"
        )
    seen = {agency.id}
    node: Agency | None = parent
    while node is not None and node.parent_id is not None:
        if node.parent_id in seen:
            raise ValidationError("parent_id would make a cycle in the agency hierarchy", field="parent_id")
        seen.add(node.id)
        node = session.get(Agency, node.parent_id)
    return []


agencies = Resource(
    Agency,
    label="agency",
    plural="agencies",
    repr_field="code",
    search=("code", "name", "contact_name"),
    filters=("kind", "parent_id", "code"),
    orderings=("id", "code", "name", "kind"),
    scope="id",
    unique=(("code",), ("name",)),
    check=_check_agency,
)


def agency_codes(session: Session) -> dict[int, str]:
    """Return every agency's code by its id."""
    return {i: code for i, code in session.exec(select(col(Agency.id), Agency.code)).all() if i is not None}


def quota_use(session: Session, agency_id: int, exclude_vm: int | None = None) -> QuotaUse:
    """Sum what an agency's live objects allocate, as counted by each feature that consumes quota (VMs)."""
    total = QuotaUse(0, 0, 0, 0)
    for consumer in QUOTA_CONSUMERS.all():
        total = total + consumer(session, agency_id, exclude_vm)
    return total


def quota_shortfalls(agency: Agency, use: QuotaUse, *, vcpus: int, ram_gib: int, disk_gib: int, vms: int) -> list[str]:
    """Name each quota the extra demand would exceed, with how much is missing."""
    problems: list[str] = []
    for label, limit, used, extra, unit in (
        ("vCPU", agency.quota_vcpus, use.vcpus, vcpus, ""),
        ("RAM", agency.quota_ram_gib, use.ram_gib, ram_gib, " GiB"),
        ("disk", agency.quota_disk_gib, use.disk_gib, disk_gib, " GiB"),
        ("VM count", agency.quota_vms, use.vms, vms, ""),
    ):
        if limit is not None and extra and used + extra > limit:
            problems.append(
                f"{label}: {used}{unit} of {limit}{unit} used, {extra}{unit} more asked "
                f"({used + extra - limit}{unit} over)"
            )
    return problems
