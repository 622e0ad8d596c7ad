"""Who is acting: the roles of dcops and the identity every service call carries.

The platform (the generic CRUD service, its routes, the root CLI) needs these to check a write and to log
who made it; :mod:`dcops.auth` adds how an actor is authenticated (users, tokens, console sessions).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a user may do; ``agency-viewer`` is bound to one agency."""

    ADMIN = "admin"
    OPERATOR = "operator"
    ONCALL = "oncall"
    PLANNER = "planner"
    AUDITOR = "auditor"
    AGENCY_VIEWER = "agency-viewer"


EVERYONE = frozenset(Role)
STAFF = EVERYONE - {Role.AGENCY_VIEWER}
ADMIN = frozenset({Role.ADMIN})
ADMIN_OPERATOR = frozenset({Role.ADMIN, Role.OPERATOR})
AUDIT = frozenset({Role.ADMIN, Role.AUDITOR})


@dataclass(frozen=True, slots=True)
class Actor:
    """The user on whose behalf a service runs."""

    user_id: int | None
    username: str
    role: Role
    agency_id: int | None = None

    @property
    def scoped_agency(self) -> int | None:
        """Return the agency this actor is confined to, or None for data-center staff."""
        return self.agency_id if self.role is Role.AGENCY_VIEWER else None


SYSTEM = Actor(user_id=None, username="system", role=Role.ADMIN)
