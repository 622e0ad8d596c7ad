"""What ``dcops serve`` runs for monitoring: the poller, the trap receiver and the periodic SNMP audit."""

import asyncio


async def run() -> None:
    """Run the poller, the trap receiver and the audit (off unless DCOPS_AUDIT_INTERVAL is set) until cancelled."""
    from dcops.monitoring.audit import run_periodic_audit
    from dcops.monitoring.poller import run_poller
    from dcops.monitoring.traps import run_trap_receiver

    await asyncio.gather(run_poller(), run_trap_receiver(), run_periodic_audit())
