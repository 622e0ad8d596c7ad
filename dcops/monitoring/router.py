"""Monitoring API: device health and metric history, alerts and silences."""


from dcops.monitoring.alerts_router import router as alerts_router
from dcops.monitoring.health_router import router as health_router
from dcops.monitoring.metrics import metrics_router as root_router  # /metrics, for Prometheus
from dcops.routing import ApiRouter

router = ApiRouter(prefix="/monitoring")
router.include_router(health_router)
router.include_router(alerts_router)

__all__ = ["root_router", "router"]
