"""Where and how to reach one SNMP agent: address, version, community or USM user and keys, timing."""

from __future__ import annotations

from dataclasses import dataclass

from dcops.monitoring.snmp.pdu import VERSIONS
from dcops.monitoring.snmp.usm import AUTH_PROTOCOLS, PRIV_PROTOCOLS


@dataclass(frozen=True)
class SnmpTarget:
    """Where and how to reach one agent. Secrets live here in clear only for the duration of a poll."""

    host: str
    port: int = 161
    version: str = "2c"  # "1", "2c", "3"
    community: str = ""
    username: str = ""
    auth_protocol: str = "none"  # none, md5, sha, sha224, sha256, sha384, sha512
    auth_key: str = ""
    priv_protocol: str = "none"  # none, des, aes (AES-128), aes192, aes256
    priv_key: str = ""
    timeout: float = 2.0
    retries: int = 1
    context: str = ""

    def __post_init__(self) -> None:
        if self.version not in VERSIONS:
            raise ValueError(f"SNMP version must be one of 1, 2c, 3, not {self.version!r}")
        if self.auth_protocol != "none" and self.auth_protocol not in AUTH_PROTOCOLS:
            raise ValueError(f"unknown auth protocol {self.auth_protocol!r}")
        if self.priv_protocol != "none" and self.priv_protocol not in PRIV_PROTOCOLS:
            raise ValueError(f"unknown priv protocol {self.priv_protocol!r}")
        if self.priv_protocol != "none" and self.auth_protocol == "none":
            raise ValueError("privacy needs an auth protocol")

    def __repr__(self) -> str:  # never show secrets in logs or tracebacks
        return f"SnmpTarget({self.host}:{self.port} v{self.version})"
