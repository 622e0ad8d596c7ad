"""Alerts in the console: the history (every state, silence shown), one alert's events, resolve, bulk acknowledge."""

from __future__ import annotations

from fastapi import Depends, Form, Request
from fastapi.responses import Response

from dcops.auth.choices import STAFF
from dcops.database import SessionDep
from dcops.exceptions import DcopsError
from dcops.monitoring import alerting
from dcops.monitoring.alert_models import AlertState
from dcops.monitoring.alert_views import alert_history, silenced_until
from dcops.routing import ApiRouter
from dcops.web.auth import Page, Viewer
from dcops.web.flash import flash
from dcops.web.i18n import translator
from dcops.web.messages import translate_message
from dcops.web.pages.health import RESPONDERS
from dcops.web.render import lang_of, redirect, release, render

router = ApiRouter()
PAGE = 50
STATES = [s.value for s in AlertState]


def _safe_back(back: str, default: str = "/alerts") -> str:
    return back if back.startswith("/") and not back.startswith("//") else default


@router.get("/alerts")
def history(request: Request, session: SessionDep, state: str = "", severity: str = "", q: str = "",
            offset: int = 0, viewer: Viewer = Depends(Page(STAFF))) -> Response:
    """Every alert, newest first, with its state, who acknowledged it and whether a silence holds it."""
    offset = max(offset, 0)
    rows, total = alert_history(session, state=state, severity=severity, q=q, offset=offset, limit=PAGE)
    return render(request, "alerts.html", session, active="alerts", title="Alert history", alerts=rows,
                  total=total, offset=offset, limit=PAGE, state=state, severity=severity, q=q, states=STATES,
                  silenced=silenced_until(session, rows), can_respond=viewer.role in RESPONDERS)


@router.get("/alerts/{id}")
def alert_page(id: int, request: Request, session: SessionDep, viewer: Viewer = Depends(Page(STAFF))) -> Response:
    """One alert and its events (fired, acknowledged, notified, resolved...)."""
    alert = alerting.alerts.get(session, actor=viewer.actor, id=id)
    events = alerting.events_of(session, actor=viewer.actor, id=id)
    return render(request, "alert.html", session, active="alerts", title="Alert history", alert=alert,
                  events=events, silenced=silenced_until(session, [alert]), can_respond=viewer.role in RESPONDERS)


@router.post("/alerts/{id}/resolve")
def resolve(id: int, request: Request, session: SessionDep, comment: str = Form(""), back: str = Form("/alerts"),
            viewer: Viewer = Depends(Page(RESPONDERS))) -> Response:
    """Resolve an open alert by hand (it fires again if the condition is still there)."""
    t = translator(lang_of(request))
    alert = alerting.resolve(session, actor=viewer.actor, id=id, comment=comment.strip()[:500])
    flash(request, session, f"{t('Resolved')}: {alert.device_name} {alert.rule}", "info")
    release(session)
    return redirect(_safe_back(back), request)


@router.post("/alerts/bulk-ack")
def bulk_acknowledge(request: Request, session: SessionDep, ids: list[int] = Form(default_factory=list),
                     comment: str = Form(""), back: str = Form("/alerts"),
                     viewer: Viewer = Depends(Page(RESPONDERS))) -> Response:
    """Acknowledge every chosen firing alert with one comment; report how many, and which could not be."""
    lang = lang_of(request)
    t = translator(lang)
    done, problems = 0, []
    for alert_id in ids[:500]:
        try:
            alerting.acknowledge(session, actor=viewer.actor, id=alert_id, comment=comment.strip()[:500])
            done += 1
        except DcopsError as exc:
            session.rollback()
            problems.append(translate_message(lang, exc.message))
    if not ids:
        flash(request, session, t("Choose at least one alert."), "warn")
    else:
        flash(request, session, f"{t('Acknowledged')}: {done}", "info")
    for problem in problems[:5]:
        flash(request, session, problem, "warn")
    release(session)
    return redirect(_safe_back(back), request)
