"""Tenancy API: /api/v1/tenancy/agencies"""


from dcops.auth.choices import ADMIN, EVERYONE
from dcops.routing import ApiRouter, crud_router
from dcops.tenancy import models as m
from dcops.tenancy.service import agencies

router = ApiRouter(prefix="/tenancy")
router.include_router(
    crud_router(agencies, path="/agencies", public=m.AgencyPublic, create=m.AgencyCreate, update=m.AgencyUpdate,
                read=EVERYONE, write=ADMIN, tags=["tenancy"])
)
