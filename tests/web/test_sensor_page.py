"""The console's device page shows the sensors monitoring stored (description, state, limits) and discovery."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from dcops.database import utcnow
from dcops.dcim.models import Device
from dcops.monitoring.discovery import Discovery
from dcops.monitoring.sensors import SensorReading
from dcops.monitoring.state import PollExtras, record
from dcops.monitoring.types import PollResult, Sample


def test_device_page_shows_sensors_with_state_and_limits_and_why_profiles_apply(as_role: Any,
                                                                                 session: Session) -> None:
    device = session.execute(select(Device).where(Device.name == "ups-01")).scalars().one()
    sensors = [SensorReading("temperature", "Battery", "0", "1.3.6.1.2.1.33.1.2.7.0", 31.0, high=40.0),
               SensorReading("voltage", "Input 1", "1", "1.3.6.1.2.1.33.1.3.3.1.3.1", 229.0),
               SensorReading("state", "Battery status", "0", "1.3.6.1.2.1.33.1.2.1.0", 3.0, severity="warning",
                             state_name="low")]
    found = Discovery(sys_object_id="1.3.6.1.4.1.318.1.3.27", sys_descr="APC Web/SNMP", role="ups",
                      profiles=[("system", "any device"), ("ups-mib", "role ups; answers 1.3.6.1.2.1.33.1")])
    result = PollResult(device_id=device.id, device_name=device.name, at=utcnow(), reachable=True,
                        samples=[Sample("device_up", 1.0)], sensors=sensors)
    record(session, result, PollExtras(discovery=found))
    session.commit()
    html = as_role("oncall").get(f"/devices/{device.id}").text
    assert 'id="sensors"' in html and 'data-sensor="1.3.6.1.2.1.33.1.2.7.0"' in html
    assert "Battery status" in html and "low" in html and '<span class="badge warning">peringatan</span>' in html
    assert "atas 40,0" in html and "batas: dari perangkat" in html  # the device's own limit, in Indonesian
    assert 'id="discovery"' in html and "role ups; answers 1.3.6.1.2.1.33.1" in html and "Alasan berlaku" in html
