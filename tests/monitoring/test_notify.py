"""Notifications reach a real webhook receiver (HMAC checked, retried after a 500), an SMTP server (aiosmtpd)
and an Alertmanager-compatible receiver, all started by the test on loopback; routing, maintenance, silences."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from dcops.auth.actor import SYSTEM
from dcops.monitoring import alerting, notify
from dcops.monitoring.alert_models import Alert, AlertEvent, NotificationAttempt, NotificationChannel
from dcops.monitoring.types import PollResult, Sample
from tests.server import free_port

HMAC_KEY = "webhook-secret-0123456789"


class Receiver:
    """A real HTTP server on loopback recording what it is sent; the first ``fail`` requests get a 500."""

    def __init__(self, fail: int = 0) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.fail = fail
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append((self.path, dict(self.headers), body))
                status = 500 if len(outer.requests) <= outer.fail else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver, Mailbox, int]]:
    hook, am, box = Receiver(fail=2), Receiver(), Mailbox()
    port = free_port()
    smtp = Controller(box, hostname="127.0.0.1", port=port)
    smtp.start()
    old = notify.BACKOFF_S
    notify.BACKOFF_S = 0.05
    yield hook, am, box, port
    notify.BACKOFF_S = old
    smtp.stop()
    hook.close()
    am.close()


def _poll(device: Any, at: datetime, **metrics: float) -> PollResult:
    return PollResult(device_id=device.id, device_name=device.name, at=at, reachable=True,
                      samples=[Sample(m, v) for m, v in metrics.items()], facts={"sys_descr": "UPS 1.0"})


def test_notifications_reach_webhook_smtp_and_alertmanager(db: str, session: Any, factory: Any,
                                                           receivers: Any) -> None:
    hook, am, box, smtp_port = receivers
    for data in (
        {"name": "oncall-hook", "kind": "webhook", "url": hook.url + "/dcops", "hmac_key": HMAC_KEY,
         "severities": "critical"},
        {"name": "noc-mail", "kind": "email", "smtp_host": "127.0.0.1", "smtp_port": smtp_port,
         "email_from": "dcops@dc.example", "email_to": "noc@dc.example, oncall@dc.example", "severities": ""},
        {"name": "am", "kind": "alertmanager", "url": am.url, "severities": "critical,warning"},
        {"name": "cpu-only", "kind": "webhook", "url": hook.url + "/cpu", "rules": "cpu_high", "severities": ""},
    ):
        notify.save_channel(session, actor=SYSTEM, data=data)
    stored = session.execute(select(NotificationChannel).where(NotificationChannel.name == "oncall-hook")).scalar_one()
    assert HMAC_KEY.encode() not in stored.secret_blob  # encrypted at rest
    ups = factory.device(name="ups-1", role="ups")
    t0 = datetime.now(UTC).replace(microsecond=0)
    alerting.evaluate_poll(session, result=_poll(ups, t0, ups_on_battery=1), previous=None)
    assert notify.drain(30)
    alerting.evaluate_poll(session, result=_poll(ups, t0 + timedelta(minutes=1), ups_on_battery=0),
                           previous=_poll(ups, t0, ups_on_battery=1))
    assert notify.drain(30)

    # webhook: two 500s, then accepted; each request correctly signed; firing then resolved
    assert [p for p, _, _ in hook.requests] == ["/dcops"] * 4
    for _, headers, body in hook.requests:
        ts = headers["X-Dcops-Timestamp"]
        expected = "sha256=" + hmac.new(HMAC_KEY.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Dcops-Signature"], expected)
    statuses = [json.loads(b)["status"] for _, _, b in hook.requests]
    assert statuses == ["firing", "firing", "firing", "resolved"]
    payload = json.loads(hook.requests[0][2])
    assert payload["alert"]["rule"] == "ups_on_battery" and payload["alert"]["device"] == "ups-1"
    attempts = session.execute(select(NotificationAttempt).order_by(NotificationAttempt.id)).scalars().all()
    hook_attempts = [(a.status, a.attempt, a.ok) for a in attempts if a.channel_id == stored.id]
    assert hook_attempts == [("firing", 1, False), ("firing", 2, False), ("firing", 3, True), ("resolved", 1, True)]

    # email to both recipients, firing and resolved
    assert len(box.messages) == 2
    rcpts, msg = box.messages[0]
    assert rcpts == ["noc@dc.example", "oncall@dc.example"]
    assert "CRITICAL" in msg["Subject"] and "ups-1" in msg["Subject"]
    assert "RESOLVED" in box.messages[1][1]["Subject"]

    # Alertmanager v2 API
    assert [p for p, _, _ in am.requests] == ["/api/v2/alerts", "/api/v2/alerts"]
    first, second = (json.loads(b) for _, _, b in am.requests)
    assert first[0]["labels"] == {"alertname": "ups_on_battery", "severity": "critical", "category": "health",
                                  "device": "ups-1"}
    assert "endsAt" not in first[0] and "endsAt" in second[0]


def test_no_notification_in_maintenance_or_under_silence_but_alert_recorded(db: str, session: Any, factory: Any,
                                                                          receivers: Any) -> None:
    hook, _, _, _ = receivers
    hook.fail = 0
    notify.save_channel(session, actor=SYSTEM, data={"name": "h", "kind": "webhook", "url": hook.url,
                                                     "severities": ""})
    in_maint = factory.device(name="ups-m", role="ups", status="maintenance")
    silenced = factory.device(name="ups-s", role="ups")
    loud = factory.device(name="ups-l", role="ups")
    alerting.create_silence(session, actor=SYSTEM, data={"device_id": silenced.id, "ends_at": datetime.now(UTC)
                                                         + timedelta(hours=1), "comment": "battery swap"})
    t0 = datetime.now(UTC)
    for dev in (in_maint, silenced, loud):
        alerting.evaluate_poll(session, result=_poll(dev, t0, ups_on_battery=1), previous=None)
    assert notify.drain(30)
    sent = [json.loads(b)["alert"]["device"] for _, _, b in hook.requests]
    assert sent == ["ups-l"]
    rows = {a.device_name: a for a in session.execute(select(Alert)).scalars()}
    assert set(rows) == {"ups-m", "ups-s", "ups-l"} and all(a.state == "firing" for a in rows.values())
    assert rows["ups-m"].suppressed == "device in maintenance"
    assert rows["ups-s"].suppressed.startswith("silenced")
    kinds = session.execute(select(AlertEvent.kind).where(AlertEvent.alert_id == rows["ups-s"].id)).scalars().all()
    assert "suppressed" in kinds


def test_bad_channels_are_refused(db: str, session: Any) -> None:
    from dcops.exceptions import ValidationError

    with pytest.raises(ValidationError, match="url"):
        notify.save_channel(session, actor=SYSTEM, data={"name": "x", "kind": "webhook", "url": "ftp://x"})
    with pytest.raises(ValidationError, match="smtp_host"):
        notify.save_channel(session, actor=SYSTEM, data={"name": "y", "kind": "email"})


def test_a_stuck_receiver_never_blocks_the_poller(db: str, session: Any, factory: Any) -> None:
    release = threading.Event()
    arrived = threading.Event()

    class Stuck(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            arrived.set()
            release.wait(60)  # holds the connection until the test lets go
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Stuck)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        notify.save_channel(session, actor=SYSTEM, data={"name": "stuck", "kind": "webhook", "severities": "",
                                                         "url": f"http://127.0.0.1:{server.server_address[1]}/"})
        ups = factory.device(name="ups-stuck", role="ups")
        alerting.evaluate_poll(session, result=_poll(ups, datetime.now(UTC), ups_on_battery=1), previous=None)
        assert arrived.wait(30)  # the receiver has the request and is holding it...
        assert not release.is_set()  # ...while evaluate_poll has already returned
        assert session.execute(select(Alert.state)).scalar_one() == "firing"
        session.commit()  # end the read: on SQLite an open transaction would hold the write lock
        assert not notify.drain(0.1)  # the delivery is still in flight
        release.set()
        assert notify.drain(30)
        ok = session.execute(select(NotificationAttempt.ok)).scalars().all()
        assert ok == [True]
    finally:
        release.set()
        server.shutdown()
        server.server_close()
