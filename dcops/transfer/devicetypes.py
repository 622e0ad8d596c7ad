"""Device types from files in the NetBox devicetype-library YAML format.

One file describes one model (``manufacturer``, ``model``, ``slug``, ``u_height``,
``is_full_depth``, ``part_number``, ``power-ports`` with ``maximum_draw``, ...). Keys dcops
does not use are ignored. The power a planner counts (``max_power_w``) comes from the power ports:
each port's ``allocated_draw`` where given, else its ``maximum_draw``; identical ports (same type and
figures) are redundant supplies and count once, different ports add up. A file with no figure leaves
the power unknown (NULL), never 0 W.
dcops-specific capacity keys (``cpu_sockets``, ``cpu_cores``, ``cpu_threads``, ``ram_gib``,
``storage_tb``, ``price_idr``, ``max_power_w``) may be added to the same file.

Like NetBox's own importer, good files are imported and bad ones are reported by name with
the reason; each file is its own transaction, and an existing slug is updated in place, so
importing a directory twice changes nothing the second time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError as PydanticValidationError
from sqlmodel import Session, select

from dcops.auth.actor import Actor
from dcops.dcim.models import DeviceType, DeviceTypeCreate, Manufacturer
from dcops.dcim.service import device_types, manufacturers
from dcops.exceptions import DcopsError, ValidationError

CAPACITY_KEYS = ("cpu_sockets", "cpu_cores", "cpu_threads", "ram_gib", "storage_tb", "price_idr", "max_power_w")


@dataclass
class DeviceTypeImport:
    """Per-file outcome of a device-type import."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # file name -> reason


def parse_device_type(text: str) -> dict[str, Any]:
    """Turn one devicetype-library document into DeviceType fields plus ``manufacturer`` (a name)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ValidationError(f"not valid YAML{f' at line {mark.line + 1}' if mark else ''}") from None
    if not isinstance(doc, dict):
        raise ValidationError("a device type file is a mapping with at least manufacturer, model and slug")
    missing = [k for k in ("manufacturer", "model", "slug") if not doc.get(k)]
    if missing:
        raise ValidationError(f"missing {', '.join(missing)}")
    height = doc.get("u_height", 1)
    if not isinstance(height, int | float) or height < 0:
        raise ValidationError(f"u_height must be a number of units, not {height!r}")
    values: dict[str, Any] = {
        "manufacturer": str(doc["manufacturer"]).strip(),
        "model": str(doc["model"]).strip(),
        "slug": str(doc["slug"]).strip(),
        "part_number": str(doc.get("part_number") or ""),
        # dcops places whole units; a half-unit device still takes the unit it sits in
        "u_height": math.ceil(height),
        "is_full_depth": bool(doc.get("is_full_depth", True)),
        "comments": str(doc.get("comments") or "")[:2000],
    }
    ports = doc.get("power-ports") or []
    if not isinstance(ports, list):
        raise ValidationError("power-ports must be a list")
    values["max_power_w"] = power_of(ports)
    for key in CAPACITY_KEYS:
        if doc.get(key) is not None:
            values[key] = doc[key]
    return values


def _watts(port: dict[str, Any], key: str) -> int | None:
    value = port.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValidationError(f"power port '{port.get('name', '?')}': {key} must be a number of watts, not {value!r}")
    return int(value) or None  # 0 in the library means "not filled in"


def power_of(ports: list[Any]) -> int | None:
    """Return the power (W) to count for a device with these power ports, or None when none gives a figure.

    Identical ports (same type, maximum and allocated draw) are redundant supplies: one of them carries
    the device, so they count once. Ports that differ (a separate supply for another module) add up.
    """
    groups: set[tuple[str, int | None, int | None]] = set()
    for port in ports:
        if not isinstance(port, dict):
            continue
        maximum, allocated = _watts(port, "maximum_draw"), _watts(port, "allocated_draw")
        if maximum is not None or allocated is not None:
            groups.add((str(port.get("type") or ""), maximum, allocated))
    if not groups:
        return None
    return sum(allocated if allocated is not None else maximum or 0 for _, maximum, allocated in groups)


def import_device_types(session: Session, *, actor: Actor, files: list[Path]) -> DeviceTypeImport:
    """Import each file in its own transaction; report bad files by name."""
    outcome = DeviceTypeImport()
    for path in files:
        try:
            values = parse_device_type(path.read_text(encoding="utf-8"))
            status = _save(session, actor, values)
            getattr(outcome, status).append(values["slug"])
        except (DcopsError, OSError, UnicodeDecodeError) as exc:
            session.rollback()
            outcome.failed[str(path)] = getattr(exc, "message", None) or str(exc)
        except PydanticValidationError as exc:
            session.rollback()
            outcome.failed[str(path)] = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
    return outcome


def _save(session: Session, actor: Actor, values: dict[str, Any]) -> str:
    vendor_name = values.pop("manufacturer")
    vendor = session.exec(select(Manufacturer).where(Manufacturer.name == vendor_name)).first()
    if vendor is None:
        vendor, _ = manufacturers.create(session, actor=actor, data={"name": vendor_name}, commit=False)
    values["manufacturer_id"] = vendor.id
    data = DeviceTypeCreate.model_validate(values)
    existing = session.exec(select(DeviceType).where(DeviceType.slug == data.slug)).first()
    if existing is None:
        device_types.create(session, actor=actor, data=data)
        return "created"
    changes = {k: v for k, v in data.model_dump().items() if k in values and getattr(existing, k) != v}
    if not changes:
        session.rollback()
        return "unchanged"
    assert existing.id is not None  # loaded from the database
    device_types.update(session, actor=actor, id=existing.id, data=changes)
    return "updated"
