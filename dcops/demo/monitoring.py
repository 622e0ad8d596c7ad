"""Live monitoring for the demo: simulated agents (snmpsim) for the demo devices, wired into the inventory.

Every demo device gets its own SNMP v2c credential (a random community, encrypted at rest like any
other) and a recording rendered from the template of its role; its management address becomes
127.0.0.1 and its monitoring setting the simulator's port, so the poller inside ``dcops serve``
polls the simulator and nothing else. Two recordings carry a problem on purpose, so that alerts
fire on their own: ``ups-02`` runs on battery and ``tor-a05`` has a port up by configuration but
down on the wire (health), and ``stor-02`` reports a serial number that differs from the inventory
(security: hardware swapped).

Only devices the demo created are wired (a device created through the API keeps its address and
credential). The simulated devices keep running across restarts of the demo: their uptime and
counters go on from the first start (kept in the data directory), so a restart is not a reboot.
"""

from __future__ import annotations

import secrets
import socket
import time
from pathlib import Path

from sqlmodel import Session, col, select

from dcops.dcim.choices import DeviceStatus
from dcops.dcim.models import Credential, Device, DeviceType
from dcops.dcim.service import devices, save_credential
from dcops.demo.build import DEMO_ACTOR, demo_ids, is_demo, mark
from dcops.monitoring.simulator import SimulatedDevice, Simulator, template_for, write_data_dir
from dcops.monitoring.state_models import MonitoringSetting
from dcops.security import decrypt_secrets

SIM_HOST = "127.0.0.1"
DEMO_INTERVAL_S = 20
ON_BATTERY = "ups-02"
SWAPPED = "stor-02"
CABLE_PULLED = "tor-a05"  # port Gi1/0/5 admin up, oper down
PDU_WATTS = {"pdu-a01": "2100", "pdu-a02": "3600", "pdu-a03": "3300"}


def free_udp_port(host: str = SIM_HOST) -> int:
    """Return a UDP port free on host right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _community(session: Session, device: Device) -> tuple[int, str] | None:
    name = f"sim-{device.name}"[:100]
    cred = session.exec(select(Credential).where(Credential.name == name)).first()
    if cred is not None and not is_demo(session, cred):
        return None  # a credential of that name the demo did not make: leave the device alone
    if cred is None:
        cred = save_credential(session, actor=DEMO_ACTOR, data={
            "name": name, "kind": "snmp_v2c", "community": "sim" + secrets.token_hex(10),
            "description": f"demo: simulated agent of {device.name}"})
        mark(session, cred)
    assert cred.id is not None  # loaded, or flushed by mark(): ids are set
    return cred.id, str(decrypt_secrets(cred.secret_blob)["community"])


def wire_simulation(session: Session, *, port: int) -> list[SimulatedDevice]:
    """Point every active device the demo created at the simulator on ``port``; return what it must serve."""
    ours = demo_ids(session, Device)
    rows = session.exec(select(Device, DeviceType).join(DeviceType).where(Device.status == DeviceStatus.ACTIVE)
                        .where(col(Device.owner_agency_id).is_(None))  # agencies' own servers: outside the DC
                        .order_by(col(Device.name))).all()
    simulated = []
    for device, dtype in rows:
        assert device.id is not None  # loaded from the database
        wired = _community(session, device) if device.id in ours else None
        if wired is None:
            continue
        cred_id, community = wired
        if device.mgmt_address != SIM_HOST or device.snmp_credential_id != cred_id:
            devices.update(session, actor=DEMO_ACTOR, id=device.id,
                           data={"mgmt_address": SIM_HOST, "snmp_credential_id": cred_id}, commit=False)
        setting = session.get(MonitoringSetting, device.id) or MonitoringSetting(device_id=device.id)
        setting.snmp_port, setting.interval_s, setting.enabled = port, DEMO_INTERVAL_S, True
        session.add(setting)
        serial = f"{device.serial}-RMA7731" if device.name == SWAPPED else device.serial
        values = {"SERIAL": serial, "MODEL": dtype.model, "WATTS": PDU_WATTS.get(device.name, "1800"),
                  "OUTPUT_SOURCE": "5" if device.name == ON_BATTERY else "3",
                  "PORT5_OPER": "2" if device.name == CABLE_PULLED else "1"}
        simulated.append(SimulatedDevice(device.name, template_for(str(device.role), dtype.slug), community, values))
    session.commit()
    return simulated


def _running_for(folder: Path) -> float:
    """Seconds since the simulated devices first started (the first start is kept in ``folder``)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    first = folder / "first-start"
    try:
        started = float(first.read_text())
    except (OSError, ValueError):
        started = time.time()
        first.write_text(repr(started))
    return max(0.0, time.time() - started)


def start_simulation(session: Session, data_dir: Path, *, port: int | None = None) -> Simulator:
    """Render the recordings, wire the devices and start snmpsim (a child process stopped with this one)."""
    port = port or free_udp_port()
    simulated = wire_simulation(session, port=port)
    sim_dir = data_dir / "snmpsim" / "data"
    write_data_dir(simulated, sim_dir, elapsed_s=_running_for(data_dir / "snmpsim"))
    simulator = Simulator(SIM_HOST, port, sim_dir)
    return simulator.start(probe_community=simulated[0].community if simulated else None)
