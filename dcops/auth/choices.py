"""Roles and the role groups that endpoints declare (defined in the platform, :mod:`dcops.actor`)."""

from dcops.actor import ADMIN, ADMIN_OPERATOR, AUDIT, EVERYONE, STAFF, Role
from dcops.changelog import ChangeAction

__all__ = ["ADMIN", "ADMIN_OPERATOR", "AUDIT", "EVERYONE", "STAFF", "ChangeAction", "Role"]
