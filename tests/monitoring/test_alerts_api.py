"""Alerts API: list with filters, acknowledge (on-call may), resolve, silences CRUD, channels (admin, secrets
write-only), agency viewers kept out, audit log of acknowledgements and silences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from dcops.auth.models import ChangeLogEntry
from dcops.monitoring import alerting
from dcops.monitoring.types import PollResult, Sample

API = "/api/v1/monitoring"


def _fire(session: Any, device: Any, **metrics: float) -> None:
    at = datetime.now(UTC)
    alerting.evaluate_poll(session, result=PollResult(device_id=device.id, device_name=device.name, at=at,
                                                      reachable=True,
                                                      samples=[Sample(k, v) for k, v in metrics.items()]),
                           previous=None)


def test_list_filter_acknowledge_resolve(client: Any, session: Any, factory: Any, tokens: Any, admin: Any) -> None:
    ups, other = factory.device(name="ups-a", role="ups"), factory.device(name="ups-b", role="ups")
    _fire(session, ups, ups_on_battery=1, ups_battery_charge_percent=20)
    _fire(session, other, ups_on_battery=1)
    oncall = tokens.headers("oncall")
    page = client.get(f"{API}/alerts", headers=oncall).json()
    assert page["count"] == 3
    crit = client.get(f"{API}/alerts", params={"device_id": ups.id, "rule": "ups_battery_low"}, headers=oncall).json()
    assert [a["summary"] for a in crit["data"]] == ["ups-a battery at 20%"]
    alert_id = crit["data"][0]["id"]
    r = client.post(f"{API}/alerts/{alert_id}/acknowledge", json={"comment": "generator starting"}, headers=oncall)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "acknowledged" and r.json()["ack_comment"] == "generator starting"
    assert r.json()["acknowledged_by"].startswith("oncall-")
    assert client.post(f"{API}/alerts/{alert_id}/acknowledge", headers=oncall).status_code == 409
    assert client.get(f"{API}/alerts", params={"state": "acknowledged"}, headers=oncall).json()["count"] == 1
    assert client.get(f"{API}/alerts", params={"state": "bogus"}, headers=oncall).status_code == 422
    auditor = tokens.headers("auditor")
    assert client.get(f"{API}/alerts/{alert_id}", headers=auditor).status_code == 200
    assert client.post(f"{API}/alerts/{alert_id}/acknowledge", headers=auditor).status_code == 403
    r = client.post(f"{API}/alerts/{alert_id}/resolve", json={"comment": "on mains"}, headers=oncall)
    assert r.json()["state"] == "resolved" and r.json()["resolved_by"].startswith("oncall-")
    assert client.post(f"{API}/alerts/{alert_id}/resolve", headers=oncall).status_code == 409
    kinds = [e["kind"] for e in client.get(f"{API}/alerts/{alert_id}/events", headers=oncall).json()]
    assert kinds == ["firing", "acknowledged", "resolved"]
    assert client.get(f"{API}/alerts/99999", headers=oncall).status_code == 404
    assert client.get(f"{API}/alerts/{2**40}", headers=oncall).status_code == 422
    assert client.get(f"{API}/alerts", params={"device_id": 2**40}, headers=oncall).status_code == 422
    logged = session.execute(select(ChangeLogEntry.object_type, ChangeLogEntry.object_id)).all()
    assert logged.count(("alert", alert_id)) == 2


def test_silences_crud_and_validation(client: Any, tokens: Any, factory: Any, session: Any) -> None:
    dev = factory.device(name="sw-s", role="switch")
    oncall = tokens.headers("oncall")
    end = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    r = client.post(f"{API}/silences", json={"device_id": dev.id, "ends_at": end, "comment": "firmware upgrade"},
                    headers=oncall)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert r.json()["created_by"].startswith("oncall-")
    assert client.get(f"{API}/silences", headers=oncall).json()["count"] == 1
    past = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    r = client.patch(f"{API}/silences/{sid}", json={"ends_at": past}, headers=oncall)
    assert r.status_code == 422 and "ends_at" in r.json()["detail"]
    r = client.post(f"{API}/silences", json={"ends_at": end, "comment": "everything"}, headers=oncall)
    assert r.status_code == 422 and "matcher" in r.json()["detail"]
    r = client.post(f"{API}/silences", json={"rule": "cpu_high", "ends_at": end}, headers=oncall)
    assert r.status_code == 422
    naive = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    r = client.post(f"{API}/silences", json={"rule": "cpu_high", "ends_at": naive, "comment": "no zone"},
                    headers=oncall)
    assert r.status_code == 201, r.text
    assert client.delete(f"{API}/silences/{r.json()['id']}", headers=oncall).status_code == 204
    assert client.delete(f"{API}/silences/{sid}", headers=oncall).status_code == 204
    logged = session.execute(select(ChangeLogEntry.object_type, ChangeLogEntry.action)).all()
    assert ("silence", "create") in logged and ("silence", "delete") in logged


def test_channels_admin_only_secrets_write_only(client: Any, tokens: Any, admin: Any) -> None:
    body = {"name": "hook", "kind": "webhook", "url": "http://127.0.0.1:9/hook", "hmac_key": "k" * 32}
    assert client.post(f"{API}/notification-channels", json=body, headers=tokens.headers("operator")).status_code \
        == 403
    r = client.post(f"{API}/notification-channels", json=body, headers=admin)
    assert r.status_code == 201, r.text
    assert "hmac_key" not in r.json() and r.json()["secret_fields"] == ["hmac_key"]
    assert "k" * 32 not in r.text
    cid = r.json()["id"]
    r = client.patch(f"{API}/notification-channels/{cid}", json={"severities": "critical,bogus"}, headers=admin)
    assert r.status_code == 422
    r = client.patch(f"{API}/notification-channels/{cid}", json={"severities": "critical"}, headers=admin)
    assert r.status_code == 200 and r.json()["secret_fields"] == ["hmac_key"]
    r = client.post(f"{API}/notification-channels", json={"name": "m", "kind": "email"}, headers=admin)
    assert r.status_code == 422


def test_rules_are_listed(client: Any, tokens: Any) -> None:
    rules = {r["name"]: r for r in client.get(f"{API}/alert-rules", headers=tokens.headers("auditor")).json()}
    assert rules["cpu_high"]["above"] == 90 and rules["cpu_high"]["clear_below"] == 80
    assert rules["device_unreachable"]["for_polls"] == 3 and rules["hardware_swapped"]["category"] == "security"


def test_agency_viewers_see_nothing(client: Any, tokens: Any, factory: Any) -> None:
    agency = factory.agency()
    viewer = tokens.headers("agency-viewer", agency_id=agency.id)
    for path in ("/alerts", "/alerts/1", "/silences", "/notification-channels", "/alert-rules"):
        assert client.get(f"{API}{path}", headers=viewer).status_code == 403
    assert client.post(f"{API}/alerts/1/acknowledge", headers=viewer).status_code == 403
    assert client.get(f"{API}/alerts").status_code == 401
