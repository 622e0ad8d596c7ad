"""Import every table model so that ``SQLModel.metadata`` is complete (Alembic, tests)."""

from sqlmodel import SQLModel

from dcops.auth.models import ApiToken, ChangeLogEntry, User
from dcops.dcim.models import Cluster, Credential, Device, DeviceType, Manufacturer, Rack, RackUnit, Room, Site
from dcops.features import import_models  # noqa: E402
from dcops.ipam.models import IPAddress, Prefix
from dcops.tenancy.models import Agency
from dcops.virtualization.models import VirtualMachine

import_models()  # tables of the features beyond the core
metadata = SQLModel.metadata

__all__ = [
    "Agency", "ApiToken", "ChangeLogEntry", "Cluster", "Credential", "Device", "DeviceType", "IPAddress",
    "Manufacturer", "Prefix", "Rack", "RackUnit", "Room", "Site", "User", "VirtualMachine", "metadata",
]
