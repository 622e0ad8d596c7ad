"""Alerts API: /api/v1/monitoring/alerts, /silences and /notification-channels."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Path, Query
from pydantic import BaseModel

from dcops.auth.actor import Actor
from dcops.auth.choices import ADMIN, STAFF, Role
from dcops.auth.deps import Allow
from dcops.crud import ListQuery
from dcops.database import SessionDep
from dcops.listing import MAX_LIMIT
from dcops.monitoring import alert_models as m
from dcops.monitoring import alerting, notify
from dcops.monitoring.rules import default_rules
from dcops.routing import ApiRouter, crud_router
from dcops.schemas import Page

router = ApiRouter(tags=["monitoring"])
MAX_ID = 2**31 - 1
AlertId = Path(ge=1, le=MAX_ID, description="alert id")
RESPONDERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.ONCALL})


@router.get("/alerts", response_model=Page[m.AlertPublic], summary="List alerts")
def list_alerts(
    session: SessionDep,
    actor: Actor = Depends(Allow(STAFF)),
    state: m.AlertState | None = None,
    severity: m.Severity | None = None,
    device_id: int | None = Query(None, ge=1, le=MAX_ID),
    rule: str | None = Query(None, max_length=100),
    category: str | None = Query(None, max_length=20),
    q: str | None = Query(None, max_length=200, description="search in rule, device, subject and summary"),
    ordering: str | None = Query(None, description="id, started_at, severity, state or rule; '-' descending"),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    offset: int = Query(0, ge=0),
) -> Any:
    """List alerts, newest first, filtered by state, severity, device, rule or category."""
    filters = {"state": state, "severity": severity, "device_id": device_id, "rule": rule, "category": category}
    rows, count = alerting.alerts.get_all(session, actor=actor, query=ListQuery(
        limit=limit, offset=offset, ordering=ordering, q=q, filters=filters))
    return Page[m.AlertPublic](data=[m.AlertPublic.model_validate(r, from_attributes=True) for r in rows],
                               count=count, limit=limit, offset=offset)


@router.get("/alerts/{id}", response_model=m.AlertPublic, summary="Get an alert")
def get_alert(session: SessionDep, id: int = AlertId, actor: Actor = Depends(Allow(STAFF))) -> Any:
    """Return one alert."""
    return alerting.alerts.get(session, actor=actor, id=id)


@router.get("/alerts/{id}/events", response_model=list[m.AlertEventPublic], summary="History of an alert")
def alert_events(session: SessionDep, id: int = AlertId, actor: Actor = Depends(Allow(STAFF))) -> Any:
    """Return what happened to an alert: fired, notified, acknowledged, resolved..."""
    return alerting.events_of(session, actor=actor, id=id)


@router.post("/alerts/{id}/acknowledge", response_model=m.AlertPublic, summary="Acknowledge an alert")
def acknowledge(session: SessionDep, id: int = AlertId, body: m.AlertAck | None = None,
                actor: Actor = Depends(Allow(RESPONDERS))) -> Any:
    """Take ownership of a firing alert (admin, operator, on-call)."""
    return alerting.acknowledge(session, actor=actor, id=id, comment=body.comment if body else "")


@router.post("/alerts/{id}/resolve", response_model=m.AlertPublic, summary="Resolve an alert by hand")
def resolve(session: SessionDep, id: int = AlertId, body: m.AlertAck | None = None,
            actor: Actor = Depends(Allow(RESPONDERS))) -> Any:
    """Resolve an open alert (it fires again if its condition still holds)."""
    return alerting.resolve(session, actor=actor, id=id, comment=body.comment if body else "")


class RulePublic(BaseModel):
    name: str
    severity: str
    category: str
    kind: str
    target: list[str]
    above: float | None
    below: float | None
    clear_above: float | None
    clear_below: float | None
    for_s: float
    for_polls: int
    clear_after: float | None
    scope: str
    summary: str


@router.get("/alert-rules", response_model=list[RulePublic], summary="List the alert rules in use")
def list_rules(actor: Actor = Depends(Allow(STAFF))) -> Any:
    """Return the rules the evaluator uses (the package's YAML plus ``DCOPS_RULES_DIR``)."""
    return [RulePublic(**{**r.__dict__, "target": list(r.target)}) for r in default_rules()]


router.include_router(crud_router(
    alerting.silences, path="/silences", public=m.SilencePublic, create=m.SilenceCreate, update=m.SilenceUpdate,
    read=STAFF, write=RESPONDERS, tags=["monitoring"],
    create_fn=lambda s, a, d: alerting.create_silence(s, actor=a, data=d),
))
router.include_router(crud_router(
    notify.channels, path="/notification-channels", public=m.ChannelPublic, create=m.ChannelCreate,
    update=m.ChannelUpdate, read=ADMIN, write=ADMIN, tags=["monitoring"],
    create_fn=lambda s, a, d: notify.save_channel(s, actor=a, data=d),
    update_fn=lambda s, a, i, d: notify.save_channel(s, actor=a, data=d, id=i),
))
