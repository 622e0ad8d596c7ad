"""Who is acting: the identity every service call carries."""

from __future__ import annotations

from dataclasses import dataclass

from dcops.auth.choices import Role


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
