"""Enumerations of agency applications and their migration into the data center."""

from enum import StrEnum


class Purpose(StrEnum):
    """What an application is for (SPBE: public service or government administration)."""

    PUBLIC_SERVICE = "public-service"
    ADMINISTRATION = "administration"


class Criticality(StrEnum):
    """How much the agency suffers when the application stops."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class DataClass(StrEnum):
    """Data classification: open, internal (terbatas), confidential (rahasia), secret (sangat rahasia)."""

    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    SECRET = "secret"


class Hosting(StrEnum):
    """Where an application runs."""

    AGENCY_SERVER = "agency-server"  # the agency's own server, outside the data center
    DC_VMS = "dc-vms"  # VMs in the data center
    NATIONAL = "national"  # a national shared application (SPBE: SIPD, SRIKANDI...): nothing to host


class AppStatus(StrEnum):
    """Where an application is on its way in: outside -> planned -> migrating -> in_dc -> retired."""

    OUTSIDE = "outside"
    PLANNED = "planned"
    MIGRATING = "migrating"
    IN_DC = "in_dc"
    RETIRED = "retired"  # in the data center, and the agency server it ran on is switched off


#: the moves an application may make by hand (in_dc also follows its capacity request)
TRANSITIONS: dict[AppStatus, frozenset[AppStatus]] = {
    AppStatus.OUTSIDE: frozenset({AppStatus.PLANNED, AppStatus.IN_DC}),
    AppStatus.PLANNED: frozenset({AppStatus.OUTSIDE, AppStatus.PLANNED, AppStatus.MIGRATING, AppStatus.IN_DC}),
    AppStatus.MIGRATING: frozenset({AppStatus.PLANNED, AppStatus.IN_DC}),
    AppStatus.IN_DC: frozenset({AppStatus.RETIRED}),
    AppStatus.RETIRED: frozenset(),
}

IN = frozenset({AppStatus.IN_DC, AppStatus.RETIRED})
OUT = frozenset({AppStatus.OUTSIDE, AppStatus.PLANNED, AppStatus.MIGRATING})
