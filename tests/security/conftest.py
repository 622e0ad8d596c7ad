"""Fixtures of the security tests: the app with the console mounted."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def web_app(db: str) -> Any:
    from tests.web.conftest import build_app

    return build_app()
