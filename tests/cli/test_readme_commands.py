"""Every ``dcops`` command the README names runs as written, against a test database with the demo loaded.

The README's lines are read from its code blocks; each maps to the exact command lines run here (a
line with alternatives ``a | b | c`` runs each of them). Commands that need a live server, an SSH
hypervisor or an SNMP agent at a real address run with ``--help`` only (listed in ``HELP_ONLY``):
``serve``, ``worker``, ``poller`` and the demo's ``serve`` run until stopped; ``hypervisor register``,
``job watch``, ``reconcile`` and ``vm start|stop|resize|decommission`` need a libvirt host over SSH (tests/provisioning
runs them for real); ``poll`` and ``snmp audit`` would send SNMP to the demo's 10.x addresses, which are
never to be contacted. ``dcops demo`` itself runs as written in tests/demo.
"""

from __future__ import annotations

import re
import shlex
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

README = Path(__file__).parents[2] / "README.md"

HELP_ONLY = {
    "dcops serve", "dcops worker", "dcops poller", "dcops job watch 7",
    "dcops hypervisor register hv01 --address 127.0.0.1 --port 22 --user root --key-file ~/.ssh/hv01 "
    "--cluster KLASTER-UTAMA",
    "dcops vm start|stop|resize|decommission NAME",
    "dcops reconcile", "dcops poll ups-01 --json",
    "dcops poll --target 127.0.0.1:1161 --community C", "dcops snmp audit",
    # the scale-out section: long-running processes
    "dcops worker --concurrency 4", "dcops worker --queues jobs --concurrency 2", "dcops scheduler",
}
RUN_ELSEWHERE = {"dcops demo": "tests/demo/test_demo.py runs 'dcops demo' as a process"}

# README line -> the command lines run for it, in order (the README's own line when it runs as written)
RUNS: dict[str, list[str]] = {
    "dcops db upgrade": ["db upgrade"],
    "dcops user create siti --role operator": ["user create siti --role operator"],
    "dcops import devices devices.csv --dry-run": ["import devices devices.csv --dry-run"],
    "dcops import devices devices.csv": ["import devices devices.csv"],
    "dcops import device-types ./device-types/": ["import device-types ./device-types/"],
    "dcops export vms -o vms.yaml": ["export vms -o vms.yaml"],
    "dcops device list --filter role=hypervisor": ["device list --filter role=hypervisor"],
    "dcops agency show DINKES --json": ["agency show DINKES --json"],
    "dcops changelog --limit 20": ["changelog --limit 20"],
    'dcops request file --agency DINKES --vm simpus:2:4:8:100:simpus -j "SIMPUS 40 puskesmas" --preview':
        ['request file --agency DINKES --vm simpus:2:4:8:100:simpus -j "SIMPUS 40 puskesmas" --preview'],
    'dcops request file --agency DINKES --vm simpus:2:4:8:100:simpus -j "SIMPUS 40 puskesmas"':
        ['request file --agency DINKES --vm simpus:2:4:8:100:simpus -j "SIMPUS 40 puskesmas"'],
    "dcops request approve 1": ["request approve 1"],
    "dcops request list | show 1 | reject 1 --reason ... | cancel 1 | provision 1": [
        "request list", "request show 1",
        'request file --agency DINKES --vm lab:1:2:4:50 -j "uji"', 'request reject 2 --reason "tidak perlu"',
        'request file --agency DINKES --vm lab:1:2:4:50 -j "uji"', "request cancel 3",
        "request provision 1"],
    "dcops headroom": ["headroom"],
    "dcops rebalance --goal free-hosts": ["rebalance --goal free-hosts"],
    "dcops plan show --years 3 --model dell-poweredge-r750 --model huawei-2288h-v6":
        ["plan show --years 3 --model dell-poweredge-r750 --model huawei-2288h-v6"],
    "dcops plan export --years 3 --model dell-poweredge-r750 --format xlsx -o plan.xlsx":
        ["plan export --years 3 --model dell-poweredge-r750 --format xlsx -o plan.xlsx"],
    'dcops plan growth set DINKES --percent 35 --note "SIMRS rollout"':
        ['plan growth set DINKES --percent 35 --note "SIMRS rollout"'],
    "dcops vm keys DINKES --file authorized_keys": ["vm keys DINKES --file authorized_keys"],
    "dcops consolidation board": ["consolidation board"],
    "dcops consolidation apps --agency DINKES": ["consolidation apps --agency DINKES"],
    "dcops consolidation start 1": ["consolidation start {planned_app}"],
    "dcops consolidation showback": ["consolidation showback"],
    "dcops consolidation export showback -o biaya.xlsx": ["consolidation export showback -o biaya.xlsx"],
    'dcops alerts list | ack ID --comment ... | resolve ID | silence --device ups-02 --hours 2 -c "battery swap"': [
        "alerts list", 'alerts ack {alert} --comment "ganti baterai"', "alerts resolve {alert}",
        'alerts silence --device ups-02 --hours 2 -c "battery swap"'],
}


def readme_commands() -> list[str]:
    """The ``dcops ...`` lines of the README's code blocks, comments and a leading install step dropped."""
    lines = []
    for block in re.findall(r"```(?:bash)?\n(.*?)```", README.read_text(), flags=re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            line = re.sub(r"^pip install -e [.'\[\]a-z]+ && ", "", line)
            line = re.sub(r"\s*&$", "", line)  # started in the background: the command itself
            if line.startswith("dcops "):
                lines.append(line)
    return lines


def test_every_readme_command_is_covered_here():
    named = set(readme_commands())
    assert named, "no dcops command found in the README"
    covered = set(RUNS) | HELP_ONLY | set(RUN_ELSEWHERE)
    assert named - covered == set(), "README commands this test does not run"
    assert covered - named == set(), "commands listed here that the README no longer names"


@pytest.fixture
def workdir(tmp_path, monkeypatch, session):
    from dcops.dcim.models import Device
    from dcops.demo.build import build_demo

    build_demo(session, users=False)
    session.commit()
    from dcops.monitoring.alert_models import Alert, AlertState, Severity

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DCOPS_AUTO_PROVISION", "false")  # no hypervisor answers here
    (tmp_path / "devices.csv").write_text(
        "name,device_type,role,site,rack,position,face,serial,asset_tag,mgmt_address,status\n"
        "sw-baru-01,cisco-c9300-48t,switch,DC Utama Diskominfo,A04,40,front,SN-BARU-01,,10.0.0.99,planned\n")
    lib = tmp_path / "device-types" / "Dell"
    lib.mkdir(parents=True)
    (lib / "poweredge-r650.yaml").write_text(textwrap.dedent("""
        manufacturer: Dell
        model: PowerEdge R650
        slug: dell-poweredge-r650
        u_height: 1
        power-ports:
          - name: PSU1
            maximum_draw: 800
    """))
    (tmp_path / "authorized_keys").write_text(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl admin@dinkes\n")
    from sqlalchemy import select

    from dcops.dcim.models import Credential
    from dcops.provisioning.models import HypervisorAccess

    ssh = session.execute(select(Credential).where(Credential.name == "ssh-hypervisor")).scalar_one()
    for host in session.execute(select(Device).where(Device.role == "hypervisor")).scalars():
        # registered as 'dcops hypervisor register' would; no job runner runs here, so nothing connects
        session.add(HypervisorAccess(device_id=host.id, credential_id=ssh.id, host_key="ssh-ed25519 AAAAtest",
                                     host_key_fingerprint="SHA256:test"))
    ups = session.execute(select(Device).where(Device.name == "ups-02")).scalar_one()
    alert = Alert(rule="ups_on_battery", severity=Severity.CRITICAL, device_id=ups.id, device_name=ups.name,
                  state=AlertState.FIRING, open_key=f"ups_on_battery|{ups.id}|", summary="ups-02 on battery")
    session.add(alert)
    from dcops.consolidation.models import AgencyApplication

    planned = session.execute(select(AgencyApplication.id).where(AgencyApplication.status == "planned")
                              .order_by(AgencyApplication.id)).scalars().first()
    session.commit()
    from dcops.config import get_settings

    get_settings.cache_clear()
    yield {"alert": alert.id, "planned_app": planned}
    get_settings.cache_clear()


def test_readme_commands_run_as_written(workdir, tmp_path):
    from dcops.cli import _register_features, app

    _register_features()
    runner = CliRunner()
    ran = []
    for readme_line in readme_commands():
        if readme_line in RUN_ELSEWHERE:
            continue
        if readme_line in HELP_ONLY:
            first = readme_line.split()[1:3] if "|" not in readme_line else ["vm", "start"]
            words = [w for w in first if not w.startswith("-") and w not in ("7", "ups-01", "hv01")]
            argvs = [[*words, "--help"]]
            if "|" in readme_line:
                argvs = [["vm", v, "--help"] for v in ("start", "stop", "resize", "decommission")]
        else:
            argvs = [shlex.split(cmd.format(**workdir)) for cmd in RUNS[readme_line]]
        for argv in argvs:
            result = runner.invoke(app, argv)
            assert result.exit_code == 0, f"dcops {' '.join(argv)} (README: {readme_line}):\n{result.output}" \
                                          f"{result.exception!r}"
            ran.append(argv)
    assert (tmp_path / "vms.yaml").exists() and (tmp_path / "plan.xlsx").exists() and (tmp_path / "biaya.xlsx").exists()
    assert len(ran) >= 35
