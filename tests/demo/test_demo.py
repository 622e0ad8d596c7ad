"""The demo data center: realistic, consistent with every invariant, and idempotent."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import time

import httpx
from sqlalchemy import func, select

from dcops.dcim.models import Device, DeviceType, Rack, RackUnit
from dcops.demo.build import build_demo
from dcops.ipam.models import Prefix
from dcops.tenancy.models import Agency
from dcops.virtualization.models import VirtualMachine
from tests.server import free_port


def _counts(session) -> dict[str, int]:
    out = {m.__name__: session.execute(select(func.count()).select_from(m)).scalar_one()
           for m in (Agency, Device, Rack, VirtualMachine, Prefix)}
    session.rollback()
    return out


def test_demo_is_a_consistent_provincial_data_center(session):
    summary = build_demo(session)
    session.commit()
    counts = _counts(session)
    assert 45 <= counts["Agency"] <= 60 and counts["VirtualMachine"] >= 40 and counts["Device"] >= 20
    agencies = {a.id: a for a in session.execute(select(Agency)).scalars()}
    for a in agencies.values():
        if a.kind == "kelurahan":
            assert a.parent_id is not None and agencies[a.parent_id].kind == "kecamatan"
    assert {u.role for u in summary.users} == {"admin", "operator", "oncall", "planner", "auditor", "agency-viewer"}
    # racks: no unit taken twice, power within budget
    dup = session.execute(select(RackUnit.rack_id, RackUnit.unit, RackUnit.face, func.count())
                          .group_by(RackUnit.rack_id, RackUnit.unit, RackUnit.face).having(func.count() > 1)).all()
    assert dup == []
    for rack in session.execute(select(Rack)).scalars():
        draw = session.execute(select(func.coalesce(func.sum(DeviceType.max_power_w), 0)).select_from(Device)
                               .join(DeviceType).where(Device.rack_id == rack.id)).scalar_one()
        assert draw <= rack.power_budget_w, rack.name
    # VMs fit their hosts (threads x 4.0 vCPU, RAM 1:1) and sit in their agency's prefix
    hosts = {d.id: (d, t) for d, t in session.execute(select(Device, DeviceType).join(DeviceType))}
    used: dict[int, list[int]] = {}
    for vm in session.execute(select(VirtualMachine)).scalars():
        used.setdefault(vm.host_id, [0, 0])
        used[vm.host_id][0] += vm.vcpus
        used[vm.host_id][1] += vm.ram_gib
        prefix = session.execute(select(Prefix).where(Prefix.agency_id == vm.agency_id)).scalar_one()
        assert ipaddress.ip_address(vm.ip_address) in ipaddress.ip_network(prefix.cidr)
    for host_id, (vcpu, ram) in used.items():
        _, dtype = hosts[host_id]
        assert vcpu <= dtype.cpu_threads * 4 and ram <= dtype.ram_gib
    session.rollback()


def test_demo_twice_changes_nothing_but_fresh_credentials(session):
    first = build_demo(session)
    session.commit()
    before = _counts(session)
    second = build_demo(session)
    session.commit()
    assert _counts(session) == before
    assert second.created == {}
    assert {u.token for u in first.users}.isdisjoint({u.token for u in second.users})


def test_demo_twice_leaves_a_device_created_through_the_api_untouched(session, client, admin):
    from dcops.demo.monitoring import wire_simulation

    build_demo(session)
    session.commit()
    wire_simulation(session, port=1161)
    type_id = session.execute(select(DeviceType.id).where(DeviceType.slug == "dell-poweredge-r750")).scalar_one()
    site_id = session.execute(select(Device.site_id).where(Device.name == "hv-utama-01")).scalar_one()
    session.rollback()
    cred = client.post("/api/v1/dcim/credentials", headers=admin, json={
        "name": "snmp-produksi", "kind": "snmp_v2c", "community": "rahasia-produksi-123"})
    assert cred.status_code == 201, cred.text
    made = client.post("/api/v1/dcim/devices", headers=admin, json={
        "name": "srv-produksi-01", "device_type_id": type_id, "role": "server", "site_id": site_id,
        "mgmt_address": "10.20.30.40", "snmp_credential_id": cred.json()["id"], "status": "active"})
    if made.status_code == 422 and "role" in made.text:  # no 'server' role on this branch yet
        made = client.post("/api/v1/dcim/devices", headers=admin, json={
            "name": "srv-produksi-01", "device_type_id": type_id, "role": "hypervisor", "site_id": site_id,
            "mgmt_address": "10.20.30.40", "snmp_credential_id": cred.json()["id"], "status": "active"})
    assert made.status_code == 201, made.text
    before = client.get(f"/api/v1/dcim/devices/{made.json()['id']}", headers=admin).json()
    for _ in range(2):  # 'dcops demo' twice: build, then wire the simulator
        build_demo(session)
        session.commit()
        wire_simulation(session, port=1162)
    after = client.get(f"/api/v1/dcim/devices/{made.json()['id']}", headers=admin).json()
    assert after == before
    assert (after["mgmt_address"], after["snmp_credential_id"]) == ("10.20.30.40", cred.json()["id"])
    demo_device = client.get("/api/v1/dcim/devices", headers=admin, params={"name": "hv-utama-01"}).json()["data"][0]
    assert demo_device["mgmt_address"] == "127.0.0.1"  # the demo's own devices do point at the simulator


def test_dcops_demo_keeps_its_own_database_apart_from_serve(tmp_path):
    env = os.environ | {"DCOPS_DATA_DIR": str(tmp_path)}
    env.pop("DCOPS_DATABASE_URL", None)
    env.pop("DCOPS_SECRET_KEY_FILE", None)
    done = subprocess.run([sys.executable, "-m", "dcops", "demo", "--no-serve"], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "demo" / "dcops.db").exists()
    assert not (tmp_path / "dcops.db").exists()  # the database 'dcops serve' uses was never created
    refused = subprocess.run([sys.executable, "-m", "dcops", "demo", "--no-serve", "--data-dir", str(tmp_path)],
                             env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "data directory of 'dcops serve'" in refused.stderr


def test_dcops_demo_serves_the_api_with_the_printed_token(tmp_path):
    port = free_port()
    env = os.environ | {"DCOPS_DATA_DIR": str(tmp_path / "prod")}
    env.pop("DCOPS_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "dcops", "demo", "--port", str(port),
                             "--data-dir", str(tmp_path / "demo")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("log in:"):
                break
        token = next(line.split("token: ")[1].strip() for line in lines if "demo-dinkes" in line)
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        r = httpx.get(f"{base}/api/v1/virtualization/virtual-machines", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        names = [v["name"] for v in r.json()["data"]]
        assert names and all(n.startswith("dinkes-") for n in names)
        # live monitoring: the poller inside 'dcops demo' polls the simulated agents, alerts fire on their own
        admin = {"Authorization": "Bearer " + next(line.split("token: ")[1].strip() for line in lines
                                                   if "demo-admin" in line and "token: " in line)}
        deadline = time.monotonic() + 90
        rules: set[str] = set()
        while time.monotonic() < deadline and not {"ups_on_battery", "hardware_swapped"} <= rules:
            time.sleep(2)
            alerts = httpx.get(f"{base}/api/v1/monitoring/alerts", headers=admin).json()["data"]
            rules = {a["rule"] for a in alerts if a["state"] == "firing"}
        assert {"ups_on_battery", "hardware_swapped"} <= rules
        health = httpx.get(f"{base}/api/v1/monitoring/devices/health", headers=admin).json()["data"]
        assert sum(d["state"] == "up" for d in health) >= 20
        assert httpx.get(f"{base}/api/v1/monitoring/devices/health",
                         headers={"Authorization": f"Bearer {token}"}).status_code == 403
    finally:
        proc.terminate()
        proc.wait(timeout=10)
