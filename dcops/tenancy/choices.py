"""Enumerations of tenancy."""

from enum import StrEnum


class AgencyKind(StrEnum):
    """The kind of regional government agency (see the glossary)."""

    SEKRETARIAT = "sekretariat"
    DINAS = "dinas"
    BADAN = "badan"
    KECAMATAN = "kecamatan"
    KELURAHAN = "kelurahan"
    OTHER = "other"
