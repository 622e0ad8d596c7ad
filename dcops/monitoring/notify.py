"""Notifications: webhook (JSON, HMAC-SHA256 signed, retried with exponential backoff), email over SMTP, and the
Alertmanager v2 API, each channel chosen by the alert's severity and rule.

Delivery runs on a small thread pool, so the poller and the API never wait on a slow receiver. Every attempt is
recorded in ``notification_attempt``.

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
from sqlmodel import Session

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


def _send_webhook(channel: NotificationChannel, secrets: dict[str, str], alert: Alert, status: str) -> str:
    body = json.dumps(alert_payload(alert, status), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp}
    if secrets.get("hmac_key"):
        headers[SIGNATURE_HEADER] = sign(secrets["hmac_key"].encode(), timestamp, body)
    response = httpx.post(channel.url, content=body, headers=headers, timeout=TIMEOUT_S)
    response.raise_for_status()
    return f"HTTP {response.status_code}"


def _send_alertmanager(channel: NotificationChannel, secrets: dict[str, str], alert: Alert, status: str) -> str:
    url = channel.url.rstrip("/") + "/api/v2/alerts"
    response = httpx.post(url, json=alertmanager_payload(alert, status), timeout=TIMEOUT_S)
    response.raise_for_status()
    return f"HTTP {response.status_code}"


def _send_email(channel: NotificationChannel, secrets: dict[str, str], alert: Alert, status: str) -> str:
    msg = EmailMessage()
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


def _deliver(alert_id: int, status: str) -> None:
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
                detail, ok = _SENDERS[ChannelKind(channel.kind)](channel, secrets, alert, status), True
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


def enqueue(alert_id: int, status: str) -> None:
    """Queue the notification of an alert change (returns at once)."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dcops-notify")
        future = _pool.submit(_safe_deliver, alert_id, status)
        _pending.add(future)
    future.add_done_callback(_pending.discard)


def _safe_deliver(alert_id: int, status: str) -> None:
    try:
        _deliver(alert_id, status)
    except Exception:
        log.exception("notification of alert %s failed", alert_id)


def drain(timeout: float | None = None) -> bool:
    """Wait until every queued notification is done; tell whether they all finished in time."""
    with _lock:
        pending = set(_pending)
    done, not_done = wait(pending, timeout=timeout)
    return not not_done
