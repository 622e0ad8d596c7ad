"""What the console reads of monitoring (device health, open alerts, the poller's heartbeat), for the pages.

The reads are monitoring's own, in :mod:`dcops.monitoring.health_views`; pages import them from here.
"""

from __future__ import annotations

from dcops.monitoring.health_views import (
    HEALTH_ORDER,
    SEVERITY_ORDER,
    Grouped,
    PollerHealth,
    SiteHealth,
    alert_counts,
    alerting_devices,
    device_health,
    health_of,
    latest,
    open_alerts,
    poller_health,
    sites_health,
)

__all__ = ["HEALTH_ORDER", "SEVERITY_ORDER", "Grouped", "PollerHealth", "SiteHealth", "alert_counts",
           "alerting_devices", "device_health", "health_of", "latest", "open_alerts", "poller_health",
           "sites_health"]
