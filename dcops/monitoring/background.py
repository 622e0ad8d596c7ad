"""What ``dcops serve`` runs for monitoring: the poller and the trap receiver, side by side."""

import asyncio


async def run() -> None:
    """Run the poller and the trap receiver until cancelled."""
    from dcops.monitoring.poller import run_poller
    from dcops.monitoring.traps import run_trap_receiver

    await asyncio.gather(run_poller(), run_trap_receiver())
