"""Long imports run in a worker thread (the server keeps answering) and uploads have a size limit (413)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

IMPORT = "/api/v1/import"


def test_healthz_answers_while_an_import_is_still_running(client, admin, factory, monkeypatch):
    """Event-based: the import is held inside its work until /healthz has answered."""
    import dcops.transfer.router as transfer_router

    factory.site(name="DC1")
    started, release = threading.Event(), threading.Event()
    real = transfer_router.import_rows

    def held_import(*args: Any, **kwargs: Any) -> Any:
        started.set()
        release.wait(120)
        return real(*args, **kwargs)

    monkeypatch.setattr(transfer_router, "import_rows", held_import)
    outcome: dict[str, Any] = {}

    def run_import() -> None:
        body = "site,name,u_height\n" + "".join(f"DC1,R{i:03d},42\n" for i in range(200))
        outcome["r"] = client.post(f"{IMPORT}/racks", content=body.encode(),
                                   headers=admin | {"Content-Type": "text/csv"})

    importer = threading.Thread(target=run_import)
    importer.start()
    assert started.wait(60), "the import never started"
    health: dict[str, Any] = {}
    probe = threading.Thread(target=lambda: health.setdefault("r", client.get("/healthz")))
    probe.start()
    probe.join(60)  # a safety net against a hang, not a speed limit: a blocked loop never answers
    answered_during_import = "r" in health and importer.is_alive()
    release.set()
    importer.join(120)
    probe.join(60)
    assert answered_during_import, "/healthz did not answer while the import was running"
    assert health["r"].status_code == 200
    assert outcome["r"].status_code == 200 and outcome["r"].json()["created"] == 200, outcome["r"].text


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from dcops.config import get_settings

    monkeypatch.setattr(get_settings(), "max_upload_mib", 1)


def test_a_raw_body_over_the_limit_answers_413_naming_it(client, admin, small_limit):
    body = b"site,name\n" + b"DC1,R1\n" * (2**20 // 7 + 10)
    r = client.post(f"{IMPORT}/racks", content=body, headers=admin | {"Content-Type": "text/csv"})
    assert r.status_code == 413, r.text
    assert "1 MiB" in r.json()["detail"] and "DCOPS_MAX_UPLOAD_MIB" in r.json()["detail"]


def test_a_streamed_body_without_length_over_the_limit_answers_413(client, admin, small_limit):
    def chunks() -> Any:
        for _ in range(40):
            yield b"x" * 65536

    r = client.post(f"{IMPORT}/racks", content=chunks(), headers=admin | {"Content-Type": "text/csv"})
    assert r.status_code == 413, r.text


def test_a_multipart_file_over_the_limit_answers_413(client, admin, small_limit):
    files = {"file": ("racks.csv", b"site,name\n" + b"DC1,R1\n" * 200_000, "text/csv")}
    r = client.post(f"{IMPORT}/racks", files=files, headers=admin)
    assert r.status_code == 413 and "1 MiB" in r.json()["detail"]


def test_a_file_under_the_limit_still_imports(client, admin, factory, small_limit):
    factory.site(name="DC1")
    files = {"file": ("racks.csv", b"site,name,u_height\nDC1,R1,42\n", "text/csv")}
    r = client.post(f"{IMPORT}/racks", files=files, headers=admin)
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
