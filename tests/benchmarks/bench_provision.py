"""Benchmark: provision N VMs (N = 1, 5, 10) concurrently through dcops, beside bare virsh define + start.

    python -m tests.benchmarks.bench_provision

Real components throughout: a temporary SQLite database, sshd on a loopback port, ansible-runner, libvirtd.
For each N, dcops queues N provision jobs and its job runner runs them N at a time (pre-flight, playbook
over SSH: pool, volume, cloud-init seed, domain, start, autostart); the figure is the time from launch
until every VM is recorded running. Two references in the same run, on the very same domains:

- plain script: one shell script over ONE SSH connection (same sshd, same key) does the same steps for the N
  VMs in parallel: the volume (qemu-img), the cloud-init seed ISO (genisoimage, from the files dcops wrote),
  ``virsh define`` of the XML dcops wrote, ``virsh start``. The floor Ansible can approach.
- bare virsh: ``virsh define`` + ``virsh start`` only (volumes and seeds already there), N in parallel.

VMs are tiny (64 MiB, 1 MiB empty disk) on an isolated network (no <forward>): nothing boots, nothing talks.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PREFIX = f"dcopsb{secrets.token_hex(3)}"
URI = "qemu:///system"


def virsh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["virsh", "-c", URI, *args], capture_output=True, text=True, check=check, timeout=900)


def start_sshd(work: Path) -> tuple[subprocess.Popen[bytes], int, str]:
    import socket

    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / name)], check=True)
    (work / "authorized_keys").write_text((work / "client_key.pub").read_text())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (work / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {work / 'host_key'}\nPidFile {work / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {work / 'authorized_keys'}\nPermitRootLogin prohibit-password\nUsePAM no\n"
        "PasswordAuthentication no\nStrictModes no\nMaxStartups 200:30:400\nMaxSessions 200\n")
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(work / "sshd_config")],
                            stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc, port, (work / "client_key").read_text()


def main() -> None:
    """Run the benchmark for N = 1, 5, 10 (or the counts given as arguments) and print the table."""
    import sys

    counts = [int(a) for a in sys.argv[1:]] or [1, 5, 10]
    work = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-"))
    os.environ["DCOPS_DATA_DIR"] = str(work / "data")
    os.environ["DCOPS_DATABASE_URL"] = f"sqlite:///{work / 'bench.db'}"
    from dcops.auth.actor import SYSTEM
    from dcops.database import session_scope, upgrade
    from dcops.dcim.service import clusters, sites
    from dcops.ipam.service import next_free_address, prefixes
    from dcops.provisioning import jobs, service
    from dcops.provisioning.models import HypervisorRegister
    from dcops.tenancy.service import agencies
    from dcops.virtualization.models import VirtualMachine
    from dcops.virtualization.service import virtual_machines

    if virsh("version", check=False).returncode != 0:
        subprocess.run(["virtlogd", "-d"], check=False)
        subprocess.run(["libvirtd", "-d"], check=True)
        time.sleep(2)
    upgrade()
    network, pool, pool_path = f"{PREFIX}-iso", f"{PREFIX}-pool", f"/var/lib/libvirt/images/{PREFIX}"
    net_xml = work / "net.xml"
    net_xml.write_text(f"<network><name>{network}</name></network>")  # isolated: no <forward>
    virsh("net-define", str(net_xml))
    virsh("net-start", network)
    sshd, port, key = start_sshd(work)
    rows: list[tuple[int, float, float, float]] = []
    try:
        with session_scope() as session:
            site, _ = sites.create(session, actor=SYSTEM, data={"name": "Bench DC"})
            clusters.create(session, actor=SYSTEM, data={"name": "bench", "site_id": site.id, "ha_reserve_hosts": 0})
            agency, _ = agencies.create(session, actor=SYSTEM, data={"code": "BENCH", "name": "Bench agency"})
            prefix, _ = prefixes.create(session, actor=SYSTEM, data={"cidr": "192.0.2.0/24", "gateway": "192.0.2.1",
                                                                     "agency_id": agency.id})
            access = service.register_hypervisor(session, actor=SYSTEM, data=HypervisorRegister(
                name="hv-bench", address="127.0.0.1", ssh_port=port, private_key=key, cluster="bench",
                network=network, storage_pool=pool, pool_path=pool_path, ram_mib_per_gib=64, disk_mib_per_gib=1))
            assert access.preflight_ok, access.preflight_message
            host_id, cluster_id, agency_id, prefix_id = access.device_id, None, agency.id, prefix.id
            from dcops.dcim.models import Device

            cluster_id = session.get(Device, host_id).cluster_id
        for n in counts:
            names = [f"{PREFIX}-n{n}-{i:02d}" for i in range(n)]
            with session_scope() as session:
                from dcops.ipam.models import Prefix

                ids = []
                for name in names:
                    vm, _ = virtual_machines.create(session, actor=SYSTEM, data={
                        "name": name, "agency_id": agency_id, "cluster_id": cluster_id, "host_id": host_id,
                        "vcpus": 1, "ram_gib": 1, "disk_gib": 1, "state": "provisioning",
                        "ip_address": next_free_address(session, session.get(Prefix, prefix_id))})
                    ids.append(vm.id)
            stop = threading.Event()
            runner = threading.Thread(target=jobs.work, args=(stop,), kwargs={"concurrency": n, "poll_s": 0.1})
            start = time.perf_counter()
            with session_scope() as session:
                service.launch(session, actor=SYSTEM, vm_ids=ids)
            runner.start()
            while True:
                with session_scope() as session:
                    states = [session.get(VirtualMachine, i).state for i in ids]
                if all(s in ("running", "failed") for s in states):
                    break
                time.sleep(0.1)
            dcops_s = time.perf_counter() - start
            stop.set()
            runner.join()
            if any(s != "running" for s in states):
                raise SystemExit(f"N={n}: some provisions failed: {states}")
            # the same domains by a plain script over one SSH connection: remove them (domain, volume, seed ISO,
            # keeping the cloud-init files and the XML), then volume + seed + define + start, N in parallel
            for name in names:
                shutil.copy(f"{pool_path}/{name}.xml", work / f"{name}.xml")
                virsh("destroy", name)
                virsh("undefine", name)
                os.unlink(f"{pool_path}/{name}.qcow2")
                os.unlink(f"{pool_path}/{name}-seed.iso")
            virsh("pool-refresh", pool)
            script = "set -e\n" + "".join(
                f"( qemu-img create -q -f qcow2 {pool_path}/{name}.qcow2 1M && "
                f"cd {pool_path}/{name}-cloudinit && genisoimage -quiet -output {pool_path}/{name}-seed.iso "
                "-volid cidata -joliet -rock meta-data user-data network-config && "
                f"virsh -q -c {URI} define {work / (name + '.xml')} >/dev/null && "
                f"virsh -q -c {URI} start {name} >/dev/null ) &\n" for name in names) + "wait\n"
            start = time.perf_counter()
            subprocess.run(["ssh", "-p", str(port), "-i", str(work / "client_key"), "-o", "IdentitiesOnly=yes",
                            "-o", "StrictHostKeyChecking=no", "-o", f"UserKnownHostsFile={work / 'kh'}",
                            "-o", "BatchMode=yes", "root@127.0.0.1", "bash -s"], input=script, text=True,
                           check=True, timeout=900, capture_output=True)
            script_s = time.perf_counter() - start
            running = {x.strip() for x in virsh("list", "--name").stdout.splitlines()}
            if not set(names) <= running:
                raise SystemExit(f"N={n}: the plain script left domains not running")
            # the same domains, bare: undefine them (keeping their volumes), then define + start N in parallel
            for name in names:
                virsh("destroy", name)
                virsh("undefine", name)

            def bare(name: str) -> None:
                virsh("define", str(work / f"{name}.xml"))
                virsh("start", name)

            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=n) as pool_exec:
                list(pool_exec.map(bare, names))
            bare_s = time.perf_counter() - start
            rows.append((n, dcops_s, script_s, bare_s))
            print(f"N={n:2d}: dcops {dcops_s:7.1f} s   plain script {script_s:6.1f} s   bare virsh {bare_s:6.1f} s",
                  flush=True)
            for name in names:
                virsh("destroy", name, check=False)
                virsh("undefine", name, check=False)
    finally:
        sshd.terminate()
        for name in [n.strip() for n in virsh("list", "--all", "--name", check=False).stdout.splitlines()]:
            if name.startswith(PREFIX):
                virsh("destroy", name, check=False)
                virsh("undefine", name, check=False)
        virsh("pool-destroy", pool, check=False)
        virsh("pool-undefine", pool, check=False)
        shutil.rmtree(pool_path, ignore_errors=True)
        virsh("net-destroy", network, check=False)
        virsh("net-undefine", network, check=False)
        shutil.rmtree(work, ignore_errors=True)
    print("\nN   dcops+Ansible (s)   plain script, 1 SSH (s)   bare virsh define+start (s)   vs script   vs bare")
    for n, d, sc, b in rows:
        print(f"{n:<3} {d:17.1f}   {sc:25.1f}   {b:27.1f}   {d / sc:8.1f}x   {d / b:6.1f}x")


if __name__ == "__main__":
    main()
