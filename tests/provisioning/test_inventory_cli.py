"""The dynamic inventory through ansible-inventory, and the job CLI, against the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from dcops.auth.actor import SYSTEM
from dcops.provisioning import service
from tests.provisioning.test_api_access import _setup

ROOT = Path(__file__).resolve().parents[2]


def test_ansible_inventory_graph_and_pinned_keys(session: Any, factory: Any, tmp_path: Path) -> None:
    s = _setup(session, factory, tmp_path)
    from dcops.dcim.models import Cluster, Device, Site

    host = session.get(Device, s["vm_a"].host_id)
    site, cluster = session.get(Site, host.site_id), session.get(Cluster, host.cluster_id)
    host_name, pub = host.name, (tmp_path / "k.pub").read_text().split()[1]
    session.commit()
    env = os.environ | {"DCOPS_KNOWN_HOSTS": str(tmp_path / "known_hosts")}
    inventory = str(ROOT / "inventory" / "dcops_inventory.py")
    graph = subprocess.run(["ansible-inventory", "-i", inventory, "--graph"], capture_output=True, text=True,
                           env=env, check=True, timeout=300).stdout
    for group in (f"@site_{site.name.lower().replace(' ', '_')}", f"@cluster_{cluster.name.replace('-', '_')}",
                  "@role_hypervisor", "@hypervisors"):
        assert group in graph, graph
    assert host_name in graph
    listed = json.loads(subprocess.run(["ansible-inventory", "-i", inventory, "--list"], capture_output=True,
                                       text=True, env=env, check=True, timeout=300).stdout)
    hostvars = listed["_meta"]["hostvars"][host_name]
    assert (hostvars["ansible_host"], hostvars["ansible_port"], hostvars["ansible_user"]) == ("127.0.0.1", 22, "root")
    assert "StrictHostKeyChecking=yes" in hostvars["ansible_ssh_common_args"]
    assert pub in (tmp_path / "known_hosts").read_text()
    assert "PRIVATE" not in json.dumps(listed)


def test_job_cli_list_and_show(session: Any, factory: Any, tmp_path: Path) -> None:
    s = _setup(session, factory, tmp_path)
    job = service.vm_action(session, actor=SYSTEM, vm_id=s["vm_a"].id, action="stop")
    job_id = job.id
    session.commit()
    listed = subprocess.run([sys.executable, "-m", "dcops", "job", "list", "--json"], capture_output=True,
                            text=True, check=True, timeout=300)
    rows = json.loads(listed.stdout)
    assert [r["id"] for r in rows] == [job_id] and rows[0]["status"] == "queued"
    shown = subprocess.run([sys.executable, "-m", "dcops", "job", "show", str(job_id), "--json"],
                           capture_output=True, text=True, check=True, timeout=300)
    assert json.loads(shown.stdout)["action"] == "stop"
    cancelled = subprocess.run([sys.executable, "-m", "dcops", "job", "cancel", str(job_id)], capture_output=True,
                               text=True, timeout=300)
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    missing = subprocess.run([sys.executable, "-m", "dcops", "job", "show", "99999"], capture_output=True,
                             text=True, timeout=300)
    assert missing.returncode == 4 and "not found" in missing.stderr
