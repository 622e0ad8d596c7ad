"""Enumerations of the DCIM models."""

from enum import StrEnum


class DeviceRole(StrEnum):
    """What a device does in the data center."""

    HYPERVISOR = "hypervisor"
    STORAGE = "storage"
    SWITCH = "switch"
    ROUTER = "router"
    FIREWALL = "firewall"
    UPS = "ups"
    PDU = "pdu"
    SERVER = "server"  # a physical server that is not a hypervisor: typically an agency's own, outside the DC
    OTHER = "other"


class DeviceStatus(StrEnum):
    """Where a device is in its lifecycle."""

    PLANNED = "planned"
    STAGED = "staged"
    ACTIVE = "active"
    MAINTENANCE = "maintenance"
    FAILED = "failed"
    DECOMMISSIONED = "decommissioned"


class RackFace(StrEnum):
    """The side of a rack a device is mounted from."""

    FRONT = "front"
    REAR = "rear"


class CredentialKind(StrEnum):
    """What a credential authenticates."""

    SNMP_V1 = "snmp_v1"
    SNMP_V2C = "snmp_v2c"
    SNMP_V3 = "snmp_v3"
    SSH_KEY = "ssh_key"


class AuthProtocol(StrEnum):
    """SNMPv3 authentication protocols."""

    NONE = "none"
    MD5 = "md5"
    SHA = "sha"
    SHA224 = "sha224"
    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"


class PrivProtocol(StrEnum):
    """SNMPv3 privacy (encryption) protocols."""

    NONE = "none"
    DES = "des"
    AES128 = "aes128"
    AES192 = "aes192"
    AES256 = "aes256"
