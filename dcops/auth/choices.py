"""Roles and the role groups that endpoints declare."""

from enum import StrEnum


class Role(StrEnum):
    """What a user may do; ``agency-viewer`` is bound to one agency."""

    ADMIN = "admin"
    OPERATOR = "operator"
    ONCALL = "oncall"
    PLANNER = "planner"
    AUDITOR = "auditor"
    AGENCY_VIEWER = "agency-viewer"


class ChangeAction(StrEnum):
    """What a change-log entry records."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


EVERYONE = frozenset(Role)
STAFF = EVERYONE - {Role.AGENCY_VIEWER}
ADMIN = frozenset({Role.ADMIN})
ADMIN_OPERATOR = frozenset({Role.ADMIN, Role.OPERATOR})
AUDIT = frozenset({Role.ADMIN, Role.AUDITOR})
