"""Real components for provisioning tests: libvirtd + virtlogd, sshd on a loopback port, an isolated network.

Every domain, volume, pool and network the tests create carries the run's unique prefix and is removed
at the end. The network is isolated (no <forward>): the VMs can reach nothing, and their disks are tiny
and empty, so nothing boots and nothing talks.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

URI = "qemu:///system"
RUN_PREFIX = f"dcopst{secrets.token_hex(3)}"


def virsh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run virsh against the system libvirtd."""
    return subprocess.run(["virsh", "-c", URI, *args], capture_output=True, text=True, check=check, timeout=120)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def libvirt_daemons() -> None:
    """Start virtlogd and libvirtd if they are not running."""
    if virsh("version", check=False).returncode == 0:
        return
    subprocess.run(["virtlogd", "-d"], check=False)
    subprocess.run(["libvirtd", "-d"], check=True)
    for _ in range(50):
        if virsh("version", check=False).returncode == 0:
            return
        time.sleep(0.2)
    pytest.fail("libvirtd did not start")


@dataclass
class SSHD:
    port: int
    host_key_pub: str
    client_key: str  # private key text
    client_pub: str
    workdir: Path


@pytest.fixture(scope="session")
def sshd() -> Iterator[SSHD]:
    """An sshd on a free loopback port that admits root with a key created here."""
    work = Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}-sshd-"))
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{RUN_PREFIX}-{name}",
                        "-f", str(work / name)], check=True)
    (work / "authorized_keys").write_text((work / "client_key.pub").read_text())
    os.chmod(work / "authorized_keys", 0o600)
    port = free_port()
    config = work / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {work / 'host_key'}\nPidFile {work / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {work / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        "MaxStartups 100:30:200\nMaxSessions 100\nSubsystem sftp internal-sftp\n")
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    with open(work / "sshd.log", "w") as log:
        proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)], stderr=log)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("sshd did not start: " + (work / "sshd.log").read_text())
    yield SSHD(port=port, host_key_pub=" ".join((work / "host_key.pub").read_text().split()[:2]),
               client_key=(work / "client_key").read_text(), client_pub=(work / "client_key.pub").read_text().strip(),
               workdir=work)
    proc.terminate()
    proc.wait(timeout=10)
    shutil.rmtree(work, ignore_errors=True)


@dataclass
class LibvirtLab:
    prefix: str
    network: str
    pool: str
    pool_path: str


def cleanup_libvirt(prefix: str, pool: str | None = None, pool_path: str | None = None,
                    network: str | None = None) -> None:
    """Remove every domain named ``prefix*``, then the pool, its folder and the network."""
    names = [n.strip() for n in virsh("list", "--all", "--name", check=False).stdout.splitlines() if n.strip()]
    for name in names:
        if name.startswith(prefix):
            virsh("destroy", name, check=False)
            virsh("undefine", name, check=False)
    if pool:
        virsh("pool-destroy", pool, check=False)
        virsh("pool-undefine", pool, check=False)
    if pool_path:
        shutil.rmtree(pool_path, ignore_errors=True)
    if network:
        virsh("net-destroy", network, check=False)
        virsh("net-undefine", network, check=False)


_SHARED_LAB: list[LibvirtLab] = []


@pytest.fixture(scope="session")
def libvirt_lab(libvirt_daemons: None) -> Iterator[LibvirtLab]:
    """An isolated libvirt network (no forward, no address) and a pool folder, unique to this run.

    Test modules elsewhere import this fixture, which makes pytest build it once per importing module in the
    same session: the first build is shared, so the network is defined once per process.
    """
    if _SHARED_LAB:
        yield _SHARED_LAB[0]
        return
    lab = LibvirtLab(prefix=RUN_PREFIX, network=f"{RUN_PREFIX}-iso", pool=f"{RUN_PREFIX}-pool",
                     pool_path=f"/var/lib/libvirt/images/{RUN_PREFIX}")
    xml = Path(tempfile.mkstemp(suffix=".xml")[1])
    xml.write_text(f"<network><name>{lab.network}</name></network>")  # isolated: no <forward>, no <ip>
    virsh("net-define", str(xml))
    virsh("net-start", lab.network)
    xml.unlink()
    assert "<forward" not in virsh("net-dumpxml", lab.network).stdout
    _SHARED_LAB.append(lab)
    yield lab
    _SHARED_LAB.clear()
    cleanup_libvirt(RUN_PREFIX, lab.pool, lab.pool_path, lab.network)


@dataclass
class Lab:
    """A registered hypervisor with an agency, its prefix and keys, ready for VMs."""

    libvirt: LibvirtLab
    sshd: SSHD
    access: Any
    host: Any
    cluster: Any
    agency: Any
    prefix: Any

    def vm_name(self, tag: str) -> str:
        return f"{self.libvirt.prefix}-{tag}-{secrets.token_hex(2)}"


@pytest.fixture
def lab(session: Any, factory: Any, sshd: SSHD, libvirt_lab: LibvirtLab) -> Lab:
    """Register the loopback sshd as a lab hypervisor (64 MiB RAM and 1 MiB disk per requested GiB)."""
    from dcops.auth.actor import SYSTEM
    from dcops.provisioning import service
    from dcops.provisioning.models import HypervisorRegister

    site = factory.site(name="DC Lab")
    factory.cluster(name="lab", site_id=site.id, ha_reserve_hosts=0)  # one lab host: no failover reserve
    agency = factory.agency(code="DISKOMINFO", name="Dinas Komunikasi dan Informatika")
    prefix = factory.prefix(cidr="192.0.2.0/24", gateway="192.0.2.1", vlan_id=120, agency_id=agency.id)
    service.set_agency_keys(session, actor=SYSTEM, agency_id=agency.id,
                            authorized_keys="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDcopsTenantPublicKeyExample0000 ops")
    access = service.register_hypervisor(session, actor=SYSTEM, data=HypervisorRegister(
        name="hv-lab-01", address="127.0.0.1", ssh_port=sshd.port, ssh_user="root", private_key=sshd.client_key,
        cluster="lab", site=site.name, network=libvirt_lab.network, storage_pool=libvirt_lab.pool,
        pool_path=libvirt_lab.pool_path, ram_mib_per_gib=64, disk_mib_per_gib=1))
    assert access.preflight_ok, access.preflight_message
    from dcops.dcim.models import Cluster, Device

    host = session.get(Device, access.device_id)
    return Lab(libvirt=libvirt_lab, sshd=sshd, access=access, host=host, cluster=session.get(Cluster, host.cluster_id),
               agency=agency, prefix=prefix)


def new_vm(session: Any, lab: Lab, tag: str, *, vcpus: int = 1, ram_gib: int = 1, disk_gib: int = 1) -> Any:
    """Create a VM as an approved request does: placed on the lab host, address from the prefix, provisioning."""
    from dcops.auth.actor import SYSTEM
    from dcops.ipam.service import next_free_address
    from dcops.virtualization.service import virtual_machines

    vm, _ = virtual_machines.create(session, actor=SYSTEM, data={
        "name": lab.vm_name(tag), "agency_id": lab.agency.id, "cluster_id": lab.cluster.id, "host_id": lab.host.id,
        "vcpus": vcpus, "ram_gib": ram_gib, "disk_gib": disk_gib, "state": "provisioning",
        "ip_address": next_free_address(session, lab.prefix)})
    return vm


def dominfo(name: str) -> dict[str, str]:
    """Return ``virsh dominfo`` as a dict ({} when the domain does not exist)."""
    result = virsh("dominfo", name, check=False)
    if result.returncode != 0:
        return {}
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in result.stdout.splitlines()) if k}


_HOLD_TASK = """        - name: Hold here while the test says so (tests only)
          ansible.builtin.shell:
            cmd: "while [ -e '{hold}' ]; do sleep 0.2; done"
          changed_when: false

"""


def playbooks_that_hold(folder: Path, hold: str) -> Path:
    """Copy the playbooks into ``folder`` with a task that holds a provision once its domain runs, while the host
    path ``hold`` exists (it may name the VM: ``.../{{ vm_name }}``). For tests that must see or kill a job mid-run."""
    shutil.copytree(Path(__file__).resolve().parents[2] / "playbooks", folder)
    book = folder / "provision_vm.yml"
    text = book.read_text()
    anchor = "      rescue:\n"  # the end of the provision's block: volume, seed and domain are there
    assert text.count(anchor) == 1
    book.write_text(text.replace(anchor, _HOLD_TASK.format(hold=hold) + anchor))
    return folder
