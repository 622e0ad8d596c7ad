"""Fixtures shared by the capacity tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def no_auto_provision(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Approving a request reserves only (DCOPS_AUTO_PROVISION=false): no provisioning job starts."""
    from dcops.config import get_settings

    monkeypatch.setenv("DCOPS_AUTO_PROVISION", "false")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
