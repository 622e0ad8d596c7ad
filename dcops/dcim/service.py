"""DCIM services: sites, rooms, racks, device types, clusters, devices and credentials.

The module gathers the feature's public surface; the code lives by concept in :mod:`~dcops.dcim.racking`
(rack geometry and what a rack holds), :mod:`~dcops.dcim.rules` (the checks behind every write),
:mod:`~dcops.dcim.resources` (the CRUD resources), :mod:`~dcops.dcim.credentials` and
:mod:`~dcops.dcim.bulk` (many devices at once).
"""

from __future__ import annotations

from dcops.dcim.bulk import BulkOutcome, create_devices_bulk
from dcops.dcim.credentials import credentials, save_credential
from dcops.dcim.racking import (
    RackedDevice,
    RackSlot,
    check_rack_placement,
    free_positions,
    rack_device_ids,
    rack_occupancy,
    rack_pdus,
    rack_power_draw,
    rack_power_unknown,
    rack_usage,
    racked_devices,
    racks_of_site,
    sites_by_name,
    units_for,
    unknown_power_note,
)
from dcops.dcim.resources import clusters, device_types, devices, manufacturers, racks, rooms, sites
from dcops.dcim.rules import DeviceSurroundings, device_rules

__all__ = [
    "BulkOutcome", "DeviceSurroundings", "RackSlot", "RackedDevice", "check_rack_placement", "clusters",
    "create_devices_bulk", "credentials", "device_rules", "device_types", "devices", "free_positions",
    "manufacturers", "rack_device_ids", "rack_occupancy", "rack_pdus", "rack_power_draw", "rack_power_unknown",
    "rack_usage", "racked_devices", "racks", "racks_of_site", "rooms", "save_credential", "sites",
    "sites_by_name", "units_for", "unknown_power_note",
]
