"""SNMP errors, one hierarchy.

    SnmpError                    anything that went wrong talking to an agent
    ├── SnmpTimeout              no (valid) answer within timeout * (retries + 1); a wrong community looks like this
    ├── SnmpAuthError            the agent refused our USM credentials (report: unknownUserNames, wrongDigests, ...)
    ├── SnmpResponseError        the agent answered with an error-status (tooBig, noSuchName, genErr, ...)
    └── DecodeError              a datagram is not a well-formed SNMP message (the client drops and counts these)
"""

from __future__ import annotations


class SnmpError(Exception):
    """Something went wrong talking to an SNMP agent."""


class SnmpTimeout(SnmpError):
    """No valid answer arrived in time."""


class SnmpAuthError(SnmpError):
    """The agent rejected the USM credentials; the message names the reason."""


class SnmpResponseError(SnmpError):
    """The agent answered with a non-zero error-status."""

    def __init__(self, status: int, index: int, message: str | None = None) -> None:
        self.status = status
        self.index = index
        self.name = ERROR_STATUS.get(status, f"error-{status}")
        super().__init__(message or f"agent answered {self.name} (index {index})")


class DecodeError(SnmpError, ValueError):
    """A datagram is not a well-formed SNMP message."""


ERROR_STATUS = {
    0: "noError", 1: "tooBig", 2: "noSuchName", 3: "badValue", 4: "readOnly", 5: "genErr", 6: "noAccess",
    7: "wrongType", 8: "wrongLength", 9: "wrongEncoding", 10: "wrongValue", 11: "noCreation",
    12: "inconsistentValue", 13: "resourceUnavailable", 14: "commitFailed", 15: "undoFailed",
    16: "authorizationError", 17: "notWritable", 18: "inconsistentName",
}
