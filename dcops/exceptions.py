"""Domain errors raised by services; mapped to HTTP in ``main.py`` and to exit codes in ``cli.py``.

    DcopsError                    base, never raised itself
    ├── NotFoundError             404: the object does not exist (or is outside the caller's agency)
    ├── ValidationError           422: input is well-formed but breaks a rule of its own fields
    ├── ConflictError             409: input clashes with the state of other objects
    │   ├── InUseError            409: delete refused, other objects still reference it
    │   └── CapacityError         409: no room (rack units, power, quota, hosts)
    ├── AuthenticationError       401: no, bad, expired or revoked credentials
    ├── PermissionDeniedError     403: authenticated, but the role may not do this
    ├── TooManyRequestsError      429: too many failed attempts; retry after ``retry_after`` seconds
    ├── PayloadTooLargeError      413: the upload is larger than the configured limit
    └── ConfigurationError        the process cannot start as configured
"""

from __future__ import annotations

from typing import Any


class DcopsError(Exception):
    """Base of every error dcops reports to its users."""

    status_code = 400
    exit_code = 1

    def __init__(self, message: str, *, field: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details


class NotFoundError(DcopsError):
    status_code = 404
    exit_code = 4


class ValidationError(DcopsError):
    status_code = 422
    exit_code = 2


class ConflictError(DcopsError):
    status_code = 409
    exit_code = 3


class InUseError(ConflictError):
    pass


class CapacityError(ConflictError):
    pass


class AuthenticationError(DcopsError):
    status_code = 401
    exit_code = 5


class PermissionDeniedError(DcopsError):
    status_code = 403
    exit_code = 6


class TooManyRequestsError(DcopsError):
    status_code = 429
    exit_code = 8

    def __init__(self, message: str, *, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = max(1, int(retry_after))


class PayloadTooLargeError(DcopsError):
    status_code = 413
    exit_code = 2


class ConfigurationError(DcopsError):
    status_code = 500
    exit_code = 7
