"""The console's pages, one module per area; each page declares its roles with ``Page``."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    """Return every page router, in menu order."""
    import dcops.web.pages.alerts as alerts  # issue 13
    import dcops.web.pages.objects as objects  # issue 13
    import dcops.web.pages.people as people  # issue 13
    from dcops.web.pages import account, capacity, devices, health, importer, inventory, jobs, plan, racks

    return [account.router, health.router, racks.router, devices.router, capacity.router, jobs.router,
            plan.router, inventory.router, importer.router, alerts.router,
            objects.router, people.router]
