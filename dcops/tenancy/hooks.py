"""What tenancy asks of the features above it: what each agency's objects consume of its quota."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from dcops.hooks import Hook
from dcops.tenancy.quota import QuotaUse

QUOTA_CONSUMERS: Hook[Callable[[Session, int, int | None], QuotaUse]] = Hook("quota use")
"""(session, agency id, VM id to leave out or None) -> what that feature's live objects allocate to the agency."""
