"""Notifications: webhook (JSON, HMAC-SHA256 signed, retried with exponential backoff), email over SMTP, and the
Alertmanager v2 API, each channel chosen by the alert's severity and rule.

Every alert change is first written to the ``notification_outbox`` table in the transaction that made it
(:func:`stage`), then delivered: by a Celery task on the ``notify`` queue when a broker is configured, else on a small
thread pool in this process (:func:`kick`). A deliverer claims the row with a lease, so two processes never send it
at once; a process that dies mid-delivery leaves an expired claim, and :func:`drain_outbox` (run periodically) sends
it again. Delivery is at least once; each message carries the row's dedup id (header ``X-Dcops-Dedup-Id``, the
e-mail's Message-ID) so a receiver drops a repeat. Every attempt is recorded in ``notification_attempt``.

Webhook signature: header ``X-Dcops-Signature: sha256=<hex>`` is HMAC-SHA256 under the channel's ``hmac_key`` of
``<X-Dcops-Timestamp>.<body>``; receivers recompute it and reject stale timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from email.message import EmailMessage
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import Session, col

from dcops.auth.actor import Actor
from dcops.crud import Resource
from dcops.database import session_scope
from dcops.exceptions import ValidationError
from dcops.monitoring.alert_models import (
    CHANNEL_SECRETS,
    Alert,
    AlertEvent,
    ChannelKind,
    NotificationAttempt,
    NotificationChannel,
)
from dcops.security import decrypt_secrets, encrypt_secrets

log = logging.getLogger("dcops.notify")

#: delivery tries per channel, and the first backoff in seconds (doubled after each failure)
ATTEMPTS = 4
BACKOFF_S = 1.0
TIMEOUT_S = 10.0
SIGNATURE_HEADER = "X-Dcops-Signature"
DEDUP_HEADER = "X-Dcops-Dedup-Id"
#: how long a deliverer owns an outbox row before another may send it again
CLAIM_S = float(__import__("os").environ.get("DCOPS_OUTBOX_CLAIM_S", "120"))
TIMESTAMP_HEADER = "X-Dcops-Timestamp"

channels = Resource(
    NotificationChannel, label="notification channel", plural="notification channels",
    search=("name", "url", "email_to"), filters=("kind", "enabled"), orderings=("id", "name", "kind"),
    secret_fields=("secret_blob",),
)

_pool: ThreadPoolExecutor | None = None
_pending: set[Future[None]] = set()
_lock = threading.Lock()


# --- channels -----------------------------------------------------------------------------------------


def _check(kind: ChannelKind, url: str, smtp_host: str, email_to: str, severities: str) -> None:
    for part in (p.strip() for p in severities.split(",") if p.strip()):
        if part not in ("critical", "warning", "info"):
            raise ValidationError(f"unknown severity '{part}'; use critical, warning or info", field="severities")
    if kind in (ChannelKind.WEBHOOK, ChannelKind.ALERTMANAGER):
        if not url.startswith(("http://", "https://")):
            raise ValidationError(f"a {kind.value} channel needs an http(s) url", field="url")
    elif not smtp_host or not email_to:
        raise ValidationError("an email channel needs smtp_host and email_to", field="smtp_host")


def save_channel(session: Session, *, actor: Actor, data: dict[str, Any], id: int | None = None
                 ) -> NotificationChannel:
    """Create (``id`` None) or update a channel, encrypting its secrets (write-only)."""
    secrets = {k: data.pop(k) for k in CHANNEL_SECRETS if k in data}
    secrets = {k: v for k, v in secrets.items() if v is not None}
    merged = dict(secrets)
    if id is not None:
        existing = channels.get(session, actor=actor, id=id)
        merged = {**(decrypt_secrets(existing.secret_blob) if existing.secret_blob else {}), **secrets}
        view = {"kind": existing.kind, "url": existing.url, "smtp_host": existing.smtp_host,
                "email_to": existing.email_to, "severities": existing.severities, **data}
    else:
        view = data
    _check(ChannelKind(view["kind"]), view.get("url", ""), view.get("smtp_host", ""), view.get("email_to", ""),
           view.get("severities") or "")
    if id is None or secrets:
        data["secret_blob"] = encrypt_secrets(merged) if merged else None
        data["secret_fields"] = ",".join(sorted(merged))
    if id is None:
        obj, _ = channels.create(session, actor=actor, data=data)
    else:
        obj, _ = channels.update(session, actor=actor, id=id, data=data)
    return obj


# --- payloads -----------------------------------------------------------------------------------------


def alert_payload(alert: Alert, status: str) -> dict[str, Any]:
    """Return the JSON body a webhook receives."""
    return {
        "version": 1,
        "status": status,
        "alert": {
            "id": alert.id, "rule": alert.rule, "severity": alert.severity, "category": alert.category,
            "state": alert.state, "device_id": alert.device_id, "device": alert.device_name,
            "subject": alert.subject, "summary": alert.summary, "value": alert.value,
            "started_at": alert.started_at.isoformat(),
            "fired_at": alert.fired_at.isoformat() if alert.fired_at else None,
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        },
    }


def sign(key: bytes, timestamp: str, body: bytes) -> str:
    """Return the signature header value for ``body`` sent at ``timestamp``."""
    return "sha256=" + hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def alertmanager_payload(alert: Alert, status: str) -> list[dict[str, Any]]:
    """Return the body of ``POST /api/v2/alerts`` for one alert (resolved alerts carry endsAt)."""
    labels = {"alertname": alert.rule, "severity": str(alert.severity), "category": alert.category,
              "device": alert.device_name or "", "subject": alert.subject or ""}
    item: dict[str, Any] = {
        "labels": {k: v for k, v in labels.items() if v},
        "annotations": {"summary": alert.summary},
        "startsAt": (alert.fired_at or alert.started_at).isoformat(),
        "generatorURL": f"dcops://alerts/{alert.id}",
    }
    if status == "resolved" and alert.resolved_at:
        item["endsAt"] = alert.resolved_at.isoformat()
    return [item]


# --- delivery -----------------------------------------------------------------------------------------


def _send_webhook(channel: NotificationChannel, secrets: dict[str, str], alert: Alert, status: str,
                  dedup_id: str = "") -> str:
    body = json.dumps(alert_payload(alert, status), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp}
    if dedup_id:
        headers[DEDUP_HEADER] = dedup_id
    if secrets.get("hmac_key"):
        headers[SIGNATURE_HEADER] = sign(secrets["hmac_key"].encode(), timestamp, body)
    response = httpx.post(channel.url, content=body, headers=headers, timeout=TIMEOUT_S)
    response.raise_for_status()
    return f"HTTP {response.status_code}"


def _send_alertmanager(channel: NotificationChannel, secrets: dict[str, str], alert: Alert, status: str,
                       dedup_id: str = "") -> str:
    url = channel.url.rstrip("/") + "/api/v2/alerts"
    headers = {DEDUP_HEADER: dedup_id} if dedup_id else {}
    response = httpx.post(url, json=alertmanager_payload(alert, status), headers=headers, timeout=TIMEOUT_S)
    response.raise_for_status()
    return f"HTTP {response.status_code}"


def _send_email(channel: NotificationChannel, secrets: dict[str, str], alert: Alert, status: str,
                dedup_id: str = "") -> str:
    msg = EmailMessage()
    if dedup_id:
        msg["Message-ID"] = f"<{dedup_id.replace(':', '.')}@dcops>"
    word = "RESOLVED" if status == "resolved" else str(alert.severity).upper()
    msg["Subject"] = f"[dcops {word}] {alert.summary}"[:250]
    msg["From"] = channel.email_from or "dcops@localhost"
    recipients = [r.strip() for r in channel.email_to.split(",") if r.strip()]
    msg["To"] = ", ".join(recipients)
    a = alert_payload(alert, status)["alert"]
    msg.set_content("\n".join(f"{k}: {v}" for k, v in a.items() if v not in (None, "")) + "\n")
    with smtplib.SMTP(channel.smtp_host, channel.smtp_port, timeout=TIMEOUT_S) as smtp:
        if channel.smtp_starttls:
            smtp.starttls()
        if channel.smtp_username:
            smtp.login(channel.smtp_username, secrets.get("smtp_password", ""))
        smtp.send_message(msg, to_addrs=recipients)
    return f"mailed {len(recipients)} recipient(s)"


_SENDERS = {ChannelKind.WEBHOOK: _send_webhook, ChannelKind.EMAIL: _send_email,
            ChannelKind.ALERTMANAGER: _send_alertmanager}


def _deliver(alert_id: int, status: str, dedup_id: str = "") -> None:
    """Send one alert change to every channel routed for it, retrying each with exponential backoff."""
    with session_scope() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            return
        routed = [c for c in session.execute(select(NotificationChannel)).scalars().all()
                  if c.routes(rule=alert.rule, severity=str(alert.severity))]
        session.expunge_all()
    for channel in routed:
        secrets = decrypt_secrets(channel.secret_blob) if channel.secret_blob else {}
        delay = BACKOFF_S
        for attempt in range(1, ATTEMPTS + 1):
            try:
                detail = _SENDERS[ChannelKind(channel.kind)](channel, secrets, alert, status, dedup_id)
                ok = True
            except Exception as exc:  # any failure is retried, then recorded
                detail, ok = f"{type(exc).__name__}: {exc}"[:500], False
            _record(alert_id, channel, status, attempt, ok, detail)
            if ok:
                break
            log.warning("notification of alert %s to %s failed (try %d): %s", alert_id, channel.name, attempt, detail)
            if attempt < ATTEMPTS:
                time.sleep(delay)
                delay *= 2


def _record(alert_id: int, channel: NotificationChannel, status: str, attempt: int, ok: bool, detail: str) -> None:
    try:
        with session_scope() as session:
            session.add(NotificationAttempt(alert_id=alert_id, channel_id=channel.id or 0, status=status,
                                            attempt=attempt, ok=ok, detail=detail))
            if ok or attempt == ATTEMPTS:
                session.add(AlertEvent(alert_id=alert_id, kind="notified" if ok else "notify_failed",
                                       message=f"{channel.kind} {channel.name}: {detail}"[:500]))
    except Exception:
        log.exception("could not record a notification attempt for alert %s", alert_id)


# --- the outbox ---------------------------------------------------------------------------------------


def dedup_id(alert: Alert, status: str) -> str:
    """Return the id that names one change of one alert (the same change always gets the same id)."""
    at = alert.fired_at if status == "firing" else alert.resolved_at
    stamp = int((at or alert.started_at).timestamp() * 1000)
    return f"alert:{alert.id}:{status}:{stamp}"


def stage(session: Session, items: list[tuple[int, str]]) -> list[int]:
    """Write outbox rows for (alert id, status) changes in the caller's transaction; return their ids (no commit)."""
    from dcops.monitoring.outbox_models import NotificationOutbox

    rows = []
    if not items:
        return []
    routed = [c for c in session.execute(select(NotificationChannel)).scalars().all() if c.enabled]
    for alert_id, status in items:
        alert = session.get(Alert, alert_id)
        if alert is None or not any(c.routes(rule=alert.rule, severity=str(alert.severity)) for c in routed):
            continue  # no channel takes it: nothing to deliver, as before the outbox
        key = dedup_id(alert, status)
        if session.execute(select(col(NotificationOutbox.id)).where(col(NotificationOutbox.dedup_id) == key)).first():
            continue  # this very change is already in the outbox
        row = NotificationOutbox(dedup_id=key, alert_id=alert_id, status=status)
        session.add(row)
        rows.append(row)
    session.flush()
    return [r.id for r in rows if r.id is not None]


def kick(outbox_ids: list[int]) -> None:
    """Hand committed outbox rows to a deliverer: the notify queue, or this process's thread pool."""
    if not outbox_ids:
        return
    from dcops.engine import dispatch

    for outbox_id in outbox_ids:
        dispatch.submit("notify", "dcops.deliver_outbox", outbox_id, local=_submit_local)


def _submit_local(outbox_id: int) -> None:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dcops-notify")
        future = _pool.submit(_safe_deliver_outbox, outbox_id)
        _pending.add(future)
    future.add_done_callback(_pending.discard)


def _claim(outbox_id: int) -> tuple[int, str, str] | None:
    """Take the lease of one pending outbox row; return (alert id, status, dedup id), or None if not ours to send."""
    from sqlalchemy import or_, update

    from dcops.database import utcnow
    from dcops.engine.identity import worker_id
    from dcops.monitoring.outbox_models import NotificationOutbox as Box

    now = utcnow()
    with session_scope() as session:
        taken = session.execute(
            update(Box).where(col(Box.id) == outbox_id, col(Box.state) == "pending",
                              or_(col(Box.claimed_until).is_(None), col(Box.claimed_until) < now))
            .values(claimed_until=now + _timedelta(CLAIM_S), claimed_by=worker_id(), tries=col(Box.tries) + 1))
        if taken.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult (rowcount)
            return None
        row = session.get(Box, outbox_id)
        assert row is not None
        return row.alert_id, row.status, row.dedup_id


def _timedelta(seconds: float) -> Any:
    from datetime import timedelta

    return timedelta(seconds=seconds)


def deliver_outbox(outbox_id: int) -> bool:
    """Deliver one outbox row if it is still pending and nobody holds it; tell whether this call delivered it."""
    from sqlalchemy import update

    from dcops.database import utcnow
    from dcops.engine.identity import worker_id
    from dcops.monitoring.outbox_models import NotificationOutbox as Box

    claimed = _claim(outbox_id)
    if claimed is None:
        return False
    alert_id, status, key = claimed
    _deliver(alert_id, status, key)
    with session_scope() as session:
        session.execute(update(Box).where(col(Box.id) == outbox_id, col(Box.claimed_by) == worker_id())
                        .values(state="delivered", delivered_at=utcnow(), claimed_until=None))
    return True


def _safe_deliver_outbox(outbox_id: int) -> None:
    try:
        deliver_outbox(outbox_id)
    except Exception:
        log.exception("notification %s failed", outbox_id)


def pending_outbox(session: Session, *, limit: int = 500) -> list[int]:
    """Return the ids of pending rows nobody holds (never claimed, or their claim expired), oldest first."""
    from sqlalchemy import or_

    from dcops.database import utcnow
    from dcops.monitoring.outbox_models import NotificationOutbox as Box

    now = utcnow()
    return list(session.execute(
        select(col(Box.id)).where(col(Box.state) == "pending",
                                  or_(col(Box.claimed_until).is_(None), col(Box.claimed_until) < now))
        .order_by(col(Box.id)).limit(limit)).scalars())


def drain_outbox(*, older_than_s: float = 5.0, limit: int = 500) -> int:
    """Hand again to a deliverer every pending row not claimed (lost kick, dead deliverer); return how many."""
    from dcops.database import utcnow
    from dcops.monitoring.outbox_models import NotificationOutbox as Box

    with session_scope() as session:
        ids = pending_outbox(session, limit=limit)
        cutoff = utcnow() - _timedelta(older_than_s)
        ids = [i for i in ids if (row := session.get(Box, i)) is not None and row.created_at <= cutoff]
    kick(ids)
    return len(ids)


def enqueue(alert_id: int, status: str) -> None:
    """Stage an alert change in the outbox (own transaction) and hand it to a deliverer (returns at once)."""
    with session_scope() as session:
        ids = stage(session, [(alert_id, status)])
    kick(ids)


def drain(timeout: float | None = None) -> bool:
    """Wait until every notification handed to this process's thread pool is done; tell whether in time."""
    with _lock:
        pending = set(_pending)
    done, not_done = wait(pending, timeout=timeout)
    return not not_done
