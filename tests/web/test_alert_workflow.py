"""The alert workflow in the console: silence with feedback and a silenced badge, resolve, history, bulk acknowledge."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from dcops.dcim.models import Device
from dcops.monitoring.alert_models import Alert, AlertState, Severity


def _alerts(session: Session, n: int) -> list[int]:
    devices = session.execute(select(Device).order_by(Device.name).limit(n)).scalars().all()
    rows = [Alert(rule="temperature_high", severity=Severity.WARNING, device_id=d.id, device_name=d.name,
                  subject="CPU1", state=AlertState.FIRING, open_key=f"temperature_high|{d.id}|CPU1",
                  summary=f"{d.name} CPU1 at 83 °C") for d in devices]
    session.add_all(rows)
    session.commit()
    ids = [int(r.id) for r in rows]  # type: ignore[arg-type]
    session.expunge_all()
    session.rollback()
    return ids


def test_silence_resolve_history_and_bulk_acknowledge(as_role: Any, session: Session) -> None:
    ids = _alerts(session, 4)
    oncall = as_role("oncall")
    silenced = oncall.submit("/health", f"/alerts/{ids[0]}/silence", {"hours": "1", "back": "/health"})
    assert silenced.status_code == 200
    assert "Dibisukan sampai" in silenced.text and 'class="alert info flash"' in silenced.text  # feedback
    row = silenced.text.split(f'data-alert="{ids[0]}"')[1].split("</tr>")[0]
    assert 'class="badge silenced"' in row  # the alert shows as silenced
    history = oncall.get("/alerts").text
    assert f'data-alert="{ids[0]}"' in history and 'class="badge silenced"' in history
    resolved = oncall.submit("/alerts", f"/alerts/{ids[1]}/resolve", {"back": "/alerts"})
    assert 'data-state="resolved"' in resolved.text.split(f'data-alert="{ids[1]}"')[1][:40]
    bulk = oncall.submit("/alerts", "/alerts/bulk-ack", {"ids": [str(ids[2]), str(ids[3]), str(ids[1])],
                                                         "comment": "sedang dicek", "back": "/alerts"})
    assert "Diakui: 2" in bulk.text  # two acknowledged, the resolved one refused with a warning
    assert 'class="alert warn flash"' in bulk.text
    states = dict(session.execute(select(Alert.id, Alert.state).where(Alert.id.in_(ids))).all())
    session.rollback()
    assert [str(getattr(states[i], "value", states[i])) for i in ids] == ["firing", "resolved", "acknowledged",
                                                                          "acknowledged"]
    detail = oncall.get(f"/alerts/{ids[2]}").text
    assert "sedang dicek" in detail and 'id="alert-events"' in detail
    english = as_role("admin")
    english.submit("/alerts", "/lang", {"lang": "en", "back": "/alerts"})
    assert "Alert history" in english.get("/alerts").text
    planner = as_role("planner")
    assert planner.get("/alerts").status_code == 403 or 'id="bulk-ack"' not in planner.get("/alerts").text
