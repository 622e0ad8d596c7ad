"""IPAM API: /api/v1/ipam/..."""

from typing import Any

from fastapi import Depends, status

from dcops.auth.actor import Actor
from dcops.auth.choices import ADMIN_OPERATOR, EVERYONE
from dcops.auth.deps import Allow
from dcops.database import SessionDep
from dcops.ipam import models as m
from dcops.ipam import service
from dcops.routing import ApiRouter, crud_router

router = ApiRouter(prefix="/ipam")
router.include_router(
    crud_router(service.prefixes, path="/prefixes", public=m.PrefixPublic, create=m.PrefixCreate,
                update=m.PrefixUpdate, read=EVERYONE, write=ADMIN_OPERATOR, tags=["ipam"])
)
router.include_router(
    crud_router(service.ip_addresses, path="/ip-addresses", public=m.IPAddressPublic, create=m.IPAddressCreate,
                update=m.IPAddressUpdate, read=EVERYONE, write=ADMIN_OPERATOR, tags=["ipam"])
)


@router.post("/prefixes/{id}/available-ips", response_model=m.IPAddressPublic, status_code=status.HTTP_201_CREATED,
             tags=["ipam"], summary="Allocate the next free address")
def allocate(id: int, body: m.NextAddressRequest, session: SessionDep,
             actor: Actor = Depends(Allow(ADMIN_OPERATOR))) -> Any:
    """Allocate the lowest free address of the prefix (never its network or broadcast address)."""
    return m.IPAddressPublic.model_validate(
        service.allocate_next(session, actor=actor, prefix_id=id, request=body), from_attributes=True
    )
