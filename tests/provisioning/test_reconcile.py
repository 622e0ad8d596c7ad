"""The reconciler finds orphans, ghosts and state drift against real libvirt over sshd."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from dcops.auth.actor import SYSTEM
from dcops.provisioning.reconcile import compare
from dcops.virtualization.service import virtual_machines
from tests.provisioning.conftest import Lab, virsh


def _define(name: str) -> None:
    xml = Path(tempfile.mkstemp(suffix=".xml")[1])
    xml.write_text(f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
                   "<os><type arch='x86_64' machine='pc'>hvm</type></os></domain>")  # no disk, no NIC
    virsh("define", str(xml))
    xml.unlink()


def test_compare_is_pure() -> None:
    found = compare("hv", {"a": "running", "b": "shut off", "z": "running"},
                    [("b", "running"), ("c", "stopped"), ("z", "decommissioned")])
    kinds = {(f.kind, f.vm) for f in found}
    assert kinds == {("orphan", "a"), ("drift", "b"), ("ghost", "c"), ("orphan", "z")}


def test_reconcile_reports_orphan_ghost_and_drift(session: Any, lab: Lab, client: Any, tokens: Any) -> None:
    orphan, drifted, ghost = lab.vm_name("orphan"), lab.vm_name("drift"), lab.vm_name("ghost")
    _define(orphan)
    _define(drifted)  # defined, shut off
    for name in (drifted, ghost):
        virtual_machines.create(session, actor=SYSTEM, data={
            "name": name, "agency_id": lab.agency.id, "cluster_id": lab.cluster.id, "host_id": lab.host.id,
            "vcpus": 1, "ram_gib": 1, "disk_gib": 1, "state": "running"})
    try:
        response = client.get("/api/v1/provisioning/reconcile", headers=tokens.headers("oncall"))
        assert response.status_code == 200, response.text
        report = response.json()
        assert "hv-lab-01" in report["hosts_checked"]
        mine = {(f["kind"], f["vm"]) for f in report["findings"] if f["vm"].startswith(lab.libvirt.prefix)}
        assert ("orphan", orphan) in mine
        assert ("ghost", ghost) in mine
        assert ("drift", drifted) in mine
        assert ("orphan", drifted) not in mine
        # reports only: nothing was deleted
        assert orphan in virsh("list", "--all", "--name").stdout
        assert client.get("/api/v1/provisioning/reconcile", headers=tokens.headers("agency-viewer",
                                                                                   lab.agency.id)).status_code == 403
    finally:
        for name in (orphan, drifted):
            virsh("undefine", name, check=False)
