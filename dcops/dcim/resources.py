"""The DCIM tables as generic CRUD resources, each with its rules (:mod:`dcops.dcim.rules`)."""

from __future__ import annotations

from dcops.crud import Resource
from dcops.dcim.models import Cluster, Device, DeviceType, Manufacturer, Rack, Room, Site
from dcops.dcim.rules import check_device, check_device_type, check_rack, sync_rack_units

sites = Resource(Site, label="site", plural="sites", search=("name", "description"), orderings=("id", "name"),
                 filters=("agency_id",))
rooms = Resource(
    Room, label="room", plural="rooms", filters=("site_id",), unique=(("site_id", "name"),),
)
racks = Resource(
    Rack,
    label="rack",
    plural="racks",
    filters=("site_id", "room_id"),
    orderings=("id", "name", "site_id", "u_height", "power_budget_w"),
    unique=(("site_id", "name"),),
    check=check_rack,
)
manufacturers = Resource(Manufacturer, label="manufacturer", plural="manufacturers")
device_types = Resource(
    DeviceType,
    label="device type",
    plural="device types",
    repr_field="model",
    search=("model", "slug", "part_number"),
    filters=("manufacturer_id", "u_height"),
    orderings=("id", "model", "slug", "price_idr", "max_power_w"),
    unique=(("slug",), ("manufacturer_id", "model")),
    check=check_device_type,
)
clusters = Resource(Cluster, label="cluster", plural="clusters", filters=("site_id",))
devices = Resource(
    Device,
    label="device",
    plural="devices",
    search=("name", "serial", "asset_tag", "mgmt_address"),
    filters=("site_id", "rack_id", "role", "status", "cluster_id", "device_type_id", "name", "serial",
             "owner_agency_id"),
    orderings=("id", "name", "role", "status", "site_id", "rack_id", "position", "created_at"),
    unique=(("name",), ("asset_tag",)),
    exclude_fields=("allow_power_overcommit",),
    check=check_device,
    after_write=sync_rack_units,
)
