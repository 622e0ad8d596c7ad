"""What ``dcops serve`` runs for provisioning: the job runner and the periodic reconciler."""

from __future__ import annotations

import asyncio
import logging
import threading

log = logging.getLogger(__name__)

RECONCILE_EVERY_S = 600.0
latest_report: dict[str, object] = {}


async def _reconcile_forever() -> None:
    from dcops.database import session_scope
    from dcops.provisioning.reconcile import reconcile

    def once() -> dict[str, object]:
        with session_scope() as session:
            return reconcile(session).as_dict()

    while True:
        try:
            report = await asyncio.to_thread(once)
            latest_report.clear()
            latest_report.update(report)
            counts = report.get("counts") or {}
            if isinstance(counts, dict) and any(counts.values()):
                log.warning("reconcile: %s", counts)
        except Exception:
            log.exception("reconcile failed; trying again later")
        await asyncio.sleep(RECONCILE_EVERY_S)


def runner_concurrency() -> int:
    """Return the job runner's concurrency for the hypervisors dcops can reach now (``runner.concurrency``)."""
    from sqlalchemy import func, select

    from dcops.database import session_scope
    from dcops.provisioning.models import HypervisorAccess
    from dcops.provisioning.runner import concurrency

    with session_scope() as session:
        hosts = session.execute(select(func.count()).select_from(HypervisorAccess)).scalar_one()
    return concurrency(int(hosts))


async def run() -> None:
    """Run queued jobs and reconcile hypervisors until cancelled (with a broker, 'dcops worker' does both)."""
    from dcops.engine.dispatch import distributed
    from dcops.provisioning.jobs import work

    if distributed():
        return

    stop = threading.Event()

    async def run_jobs() -> None:
        while not stop.is_set():
            try:  # jobs still running at shutdown are failed by the restart rule when dcops comes back
                slots = await asyncio.to_thread(runner_concurrency)
                await asyncio.to_thread(work, stop, concurrency=slots, wait_running=False)
            except Exception:
                log.exception("job runner crashed; restarting it")
                await asyncio.sleep(5)

    runner = asyncio.create_task(run_jobs())
    reconciler = asyncio.create_task(_reconcile_forever())
    try:
        await asyncio.gather(runner, reconciler)
    finally:
        stop.set()
        reconciler.cancel()
        await asyncio.gather(runner, return_exceptions=True)
