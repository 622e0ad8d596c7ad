"""Virtualization API: /api/v1/virtualization/virtual-machines"""


from dcops.auth.choices import ADMIN_OPERATOR, EVERYONE
from dcops.routing import ApiRouter, crud_router
from dcops.virtualization import models as m
from dcops.virtualization.service import virtual_machines

router = ApiRouter(prefix="/virtualization")
router.include_router(
    crud_router(virtual_machines, path="/virtual-machines", public=m.VirtualMachinePublic,
                create=m.VirtualMachineCreate, update=m.VirtualMachineUpdate, read=EVERYONE, write=ADMIN_OPERATOR,
                tags=["virtualization"])
)
