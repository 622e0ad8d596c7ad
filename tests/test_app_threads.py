"""The API's thread pool is sized by ``DCOPS_API_THREADS`` (requests beyond it wait in the event loop)."""

from __future__ import annotations

import pytest
from anyio.to_thread import current_default_thread_limiter
from fastapi.testclient import TestClient

from dcops.config import get_settings
from dcops.main import create_app


@pytest.mark.parametrize("threads", [3, 8])
def test_the_request_thread_pool_has_the_configured_size(monkeypatch, threads):
    monkeypatch.setenv("DCOPS_API_THREADS", str(threads))
    get_settings.cache_clear()
    try:
        with TestClient(create_app()) as client:
            assert client.portal is not None
            assert client.portal.call(lambda: current_default_thread_limiter().total_tokens) == threads
    finally:
        get_settings.cache_clear()
