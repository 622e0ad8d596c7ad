"""A worker's poll slices share one event loop and one SNMP client (dcops.monitoring.slices._PollLoop)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from dcops.monitoring import slices
from dcops.monitoring.targets import PollerOptions


def test_slices_run_in_several_threads_share_one_loop_and_one_client(monkeypatch: Any) -> None:
    seen: list[tuple[int, int, int]] = []
    both_in = threading.Barrier(2, timeout=10)

    async def fake_poll_targets(targets: Any, *, options: Any, deadline_s: float, client: Any) -> Any:
        seen.append((threading.get_ident(), id(asyncio.get_running_loop()), id(client)))
        await asyncio.sleep(0.05)
        return slices.SliceReport(devices=len(targets), polled=len(targets))

    monkeypatch.setattr(slices, "poll_targets", fake_poll_targets)
    loop = slices._PollLoop()
    reports: list[Any] = []
    callers: list[int] = []

    def one(n: int) -> None:
        callers.append(threading.get_ident())
        both_in.wait()  # the two slices are in flight together, as in a worker of concurrency 2
        reports.append(loop.run([object()] * n, options=PollerOptions(), deadline_s=5.0))

    threads = [threading.Thread(target=one, args=(n,)) for n in (3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(r.polled for r in reports) == [3, 4]
    assert len(seen) == 2
    assert len({s[0] for s in seen}) == 1 and seen[0][0] not in callers  # the loop's own thread, not a caller's
    assert len({s[1] for s in seen}) == 1 and len({s[2] for s in seen}) == 1  # one loop, one client


def test_an_error_in_a_slice_reaches_its_caller_and_the_loop_goes_on(monkeypatch: Any) -> None:
    calls = 0

    async def flaky(targets: Any, *, options: Any, deadline_s: float, client: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database gone")
        return slices.SliceReport(devices=1, polled=1)

    monkeypatch.setattr(slices, "poll_targets", flaky)
    loop = slices._PollLoop()
    with pytest.raises(RuntimeError, match="database gone"):
        loop.run([object()], options=PollerOptions(), deadline_s=5.0)
    assert loop.run([object()], options=PollerOptions(), deadline_s=5.0).polled == 1
