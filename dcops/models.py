"""Import every table model so that ``SQLModel.metadata`` is complete (Alembic, tests)."""

from sqlmodel import SQLModel

from dcops.auth.models import ApiToken, ChangeLogEntry, User
from dcops.dcim.models import Cluster, Credential, Device, DeviceType, Manufacturer, Rack, RackUnit, Room, Site
from dcops.ipam.models import IPAddress, Prefix
from dcops.tenancy.models import Agency
from dcops.virtualization.models import VirtualMachine

metadata = SQLModel.metadata

__all__ = [
    "Agency", "ApiToken", "ChangeLogEntry", "Cluster", "Credential", "Device", "DeviceType", "IPAddress",
    "Manufacturer", "Prefix", "Rack", "RackUnit", "Room", "Site", "User", "VirtualMachine", "metadata",
]
