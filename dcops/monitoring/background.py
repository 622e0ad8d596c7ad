"""What ``dcops serve`` runs for monitoring: the poller, the trap receiver, the periodic SNMP audit, the outbox.

With a broker configured (``DCOPS_BROKER_URL``) the poller, the audit and the outbox belong to ``dcops worker``
and ``dcops scheduler``; ``serve`` then keeps only the trap receiver.
"""

import asyncio
import logging

log = logging.getLogger("dcops.monitoring")
OUTBOX_EVERY_S = 10.0


async def _drain_outbox_forever() -> None:
    from dcops.monitoring.notify import drain_outbox

    while True:
        await asyncio.sleep(OUTBOX_EVERY_S)
        try:
            await asyncio.to_thread(drain_outbox)
        except Exception:
            log.exception("outbox drain failed; trying again later")


async def run() -> None:
    """Run the poller, the trap receiver and the audit (off unless DCOPS_AUDIT_INTERVAL is set) until cancelled."""
    from dcops.engine.dispatch import distributed
    from dcops.monitoring.audit import run_periodic_audit
    from dcops.monitoring.poller import run_poller
    from dcops.monitoring.traps import run_trap_receiver

    if distributed():
        await run_trap_receiver()
        return
    await asyncio.gather(run_poller(), run_trap_receiver(), run_periodic_audit(), _drain_outbox_forever())
