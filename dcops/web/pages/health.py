"""The health overview: devices by health per site, open alerts with acknowledge/silence, the poller's health."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Depends, Form, Request
from fastapi.responses import Response

from dcops.auth.choices import STAFF, Role
from dcops.database import SessionDep, utcnow
from dcops.monitoring import alerting
from dcops.monitoring.alert_views import silenced_until
from dcops.routing import ApiRouter
from dcops.web import status
from dcops.web.auth import Page, Viewer
from dcops.web.render import redirect, release, render

router = ApiRouter()
RESPONDERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.ONCALL})
REFRESH_S = 15


def _values(session: SessionDep) -> dict[str, Any]:
    alerts = status.open_alerts(session)
    return {
        "silenced": silenced_until(session, alerts),
        "sites": status.sites_health(session), "alerts": alerts, "alert_counts": status.alert_counts(alerts),
        "poller": status.poller_health(session), "health_order": status.HEALTH_ORDER, "refresh_s": REFRESH_S,
        "responders": RESPONDERS,
    }


@router.get("/health")
def overview(request: Request, session: SessionDep, viewer: Viewer = Depends(Page(STAFF))) -> Response:
    """Show the health overview (``?kiosk=1``: large type for a wall display)."""
    return render(request, "health.html", session, active="health", title="Health overview", **_values(session))


@router.get("/health/panel")
def panel(request: Request, session: SessionDep, viewer: Viewer = Depends(Page(STAFF))) -> Response:
    """Return the overview's body alone, for htmx's periodic refresh."""
    kiosk = request.query_params.get("kiosk") == "1"
    return render(request, "health_kiosk.html" if kiosk else "health_panel.html", session, **_values(session))


@router.post("/alerts/{id}/ack")
def acknowledge(id: int, request: Request, session: SessionDep, comment: str = Form(""), back: str = Form("/health"),
                viewer: Viewer = Depends(Page(RESPONDERS))) -> Response:
    """Acknowledge a firing alert."""
    alerting.acknowledge(session, actor=viewer.actor, id=id, comment=comment.strip()[:500])
    release(session)
    return redirect(back if back.startswith("/") and not back.startswith("//") else "/health", request)


@router.post("/alerts/{id}/silence")
def silence(id: int, request: Request, session: SessionDep, hours: int = Form(1), comment: str = Form(""),
            back: str = Form("/health"), viewer: Viewer = Depends(Page(RESPONDERS))) -> Response:
    """Silence the alert's rule on its device for a few hours."""
    alert = alerting.alerts.get(session, actor=viewer.actor, id=id)
    hours = min(max(hours, 1), 72)
    silence = alerting.create_silence(session, actor=viewer.actor, data={
        "device_id": alert.device_id, "rule": alert.rule, "ends_at": utcnow() + timedelta(hours=hours),
        "comment": comment.strip()[:500] or f"silenced from the console by {viewer.actor.username}",
    })
    from dcops.web.flash import flash
    from dcops.web.i18n import translator
    from dcops.web.render import context

    ctx = context(request)
    flash(request, session, f"{translator(ctx['lang'])('Silenced until')} {ctx['when'](silence.ends_at)}: "
                            f"{alert.device_name} {alert.rule}", "info")
    release(session)
    return redirect(back if back.startswith("/") and not back.startswith("//") else "/health", request)
