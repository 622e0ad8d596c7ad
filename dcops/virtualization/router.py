"""Virtualization API: /api/v1/virtualization/virtual-machines"""

from fastapi import APIRouter

from dcops.auth.choices import ADMIN_OPERATOR, EVERYONE
from dcops.routing import crud_router
from dcops.virtualization import models as m
from dcops.virtualization.service import virtual_machines

router = APIRouter(prefix="/virtualization")
router.include_router(
    crud_router(virtual_machines, path="/virtual-machines", public=m.VirtualMachinePublic,
                create=m.VirtualMachineCreate, update=m.VirtualMachineUpdate, read=EVERYONE, write=ADMIN_OPERATOR,
                tags=["virtualization"])
)
