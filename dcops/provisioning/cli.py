"""Provisioning commands: ``dcops hypervisor``, ``dcops vm start|stop|resize|decommission|keys``, ``dcops job``,
``dcops worker`` and ``dcops reconcile``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from dcops.cli import JsonOpt, cli_actor, console, print_rows

app = typer.Typer()
COMMAND = None
hypervisor_app = typer.Typer(help="Hypervisors dcops provisions on (SSH access, pinned host keys).",
                             no_args_is_help=True)
job_app = typer.Typer(help="Provisioning jobs: list, show, watch live, cancel, retry.", no_args_is_help=True)
app.add_typer(hypervisor_app, name="hypervisor")
app.add_typer(job_app, name="job")

JOB_COLUMNS = ["id", "action", "status", "vm_name", "host_id", "request_id", "created_by", "created_at",
               "finished_at", "failed_task"]
STATUS_STYLE = {"ok": "green", "changed": "yellow", "failed": "red", "unreachable": "red", "skipped": "dim",
                "ignored": "dim", "recap": "bold", "started": "cyan"}


def _vm_group() -> typer.Typer:
    """Add the action commands to the inventory's ``dcops vm`` group (list/show), or make the group."""
    from dcops.inventory.cli import app as inventory_app

    for info in inventory_app.registered_groups:
        if info.name == "vm" and info.typer_instance is not None:
            return info.typer_instance
    group = typer.Typer(help="VM actions.", no_args_is_help=True)
    app.add_typer(group, name="vm")
    return group


vm_app = _vm_group()


# --- hypervisors ---------------------------------------------------------------------------------


@hypervisor_app.command("register")
def hypervisor_register(
    name: str,
    address: Annotated[str, typer.Option(help="management address to SSH to")],
    cluster: Annotated[str, typer.Option(help="cluster name (created with --site if missing)")],
    key_file: Annotated[Path, typer.Option("--key-file", help="SSH private key (stored encrypted)")],
    port: Annotated[int, typer.Option(help="SSH port")] = 22,
    user: Annotated[str, typer.Option(help="SSH login")] = "root",
    site: Annotated[str | None, typer.Option(help="site name (default: the cluster's)")] = None,
    network: Annotated[str, typer.Option(help="libvirt network for tenant NICs; empty: no NIC")] = "",
    pool: Annotated[str, typer.Option(help="libvirt storage pool name")] = "dcops",
    pool_path: Annotated[str, typer.Option(help="folder of the storage pool")] = "/var/lib/libvirt/images/dcops",
    base_image: Annotated[str, typer.Option(help="qcow2 image new disks are cloned from; empty: blank")] = "",
    libvirt_uri: Annotated[str, typer.Option(help="libvirt URI on the host")] = "qemu:///system",
    domain_type: Annotated[str, typer.Option(help="auto, kvm or qemu")] = "auto",
    ram_mib_per_gib: Annotated[int, typer.Option(help="MiB per requested GiB of RAM (lab hosts: 64)")] = 1024,
    disk_mib_per_gib: Annotated[int, typer.Option(help="MiB per requested GiB of disk (lab hosts: 1)")] = 1024,
    passphrase: Annotated[str | None, typer.Option(help="passphrase of the key", envvar="DCOPS_SSH_PASSPHRASE")]
    = None,
) -> None:
    """Register a hypervisor: store its SSH key encrypted, pin its host key, run the pre-flight."""
    from dcops.database import session_scope
    from dcops.provisioning import service
    from dcops.provisioning.choices import DomainType
    from dcops.provisioning.models import HypervisorRegister

    data = HypervisorRegister(
        name=name, address=address, cluster=cluster, site=site, ssh_port=port, ssh_user=user,
        private_key=key_file.read_text(), passphrase=passphrase, network=network, storage_pool=pool,
        pool_path=pool_path, base_image=base_image, libvirt_uri=libvirt_uri, domain_type=DomainType(domain_type),
        ram_mib_per_gib=ram_mib_per_gib, disk_mib_per_gib=disk_mib_per_gib)
    with session_scope() as session:
        access = service.register_hypervisor(session, actor=cli_actor(), data=data)
        console.print(f"hypervisor [bold]{name}[/] registered; host key pinned: {access.host_key_fingerprint}")
        style = "green" if access.preflight_ok else "red"
        console.print(f"pre-flight: [{style}]{access.preflight_message}[/]", highlight=False)
    if not access.preflight_ok:
        raise typer.Exit(3)


@hypervisor_app.command("list")
def hypervisor_list(as_json: JsonOpt = False) -> None:
    """List registered hypervisors."""
    from dcops.database import session_scope
    from dcops.provisioning import service

    with session_scope() as session:
        rows = [service.hypervisor_public(session, a).model_dump(mode="json")
                for a in service.list_hypervisors(session)]
    print_rows(rows, ["id", "name", "address", "ssh_port", "ssh_user", "cluster_id", "network", "storage_pool",
                      "host_key_fingerprint", "preflight_ok", "preflight_message"], title="Hypervisors",
               as_json=as_json)


@hypervisor_app.command("preflight")
def hypervisor_preflight(name: str) -> None:
    """Run the pre-flight checks of a hypervisor (reachable, pinned host key, libvirt)."""
    from dcops.database import session_scope
    from dcops.provisioning import service

    with session_scope() as session:
        access = service.hypervisor_by_name(session, name)
        message = service.run_preflight(session, access=access)
        ok = access.preflight_ok
    console.print(f"[{'green' if ok else 'red'}]{message}[/]", highlight=False)
    if not ok:
        raise typer.Exit(3)


# --- VM actions ------------------------------------------------------------------------------------


def _act(name: str, action: str, watch: bool, here: bool, **kw: Any) -> None:
    from dcops.database import session_scope
    from dcops.provisioning import service

    with session_scope() as session:
        vm = service.vm_by_name(session, actor=cli_actor(), name=name)
        job = service.vm_action(session, actor=cli_actor(), vm_id=vm.id or 0, action=action, **kw)
        job_id = job.id or 0
    console.print(f"job {job_id} queued: {action} {name}")
    if here:
        from dcops.provisioning.jobs import run_now

        _follow(job_id, runner=lambda: run_now(job_id))
    elif watch:
        _follow(job_id)


WatchOpt = Annotated[bool, typer.Option("--watch/--no-watch", help="follow the job's progress")]
HereOpt = Annotated[bool, typer.Option("--here", help="run the job in this process (no worker needed)")]


@vm_app.command("start")
def vm_start(name: str, watch: WatchOpt = True, here: HereOpt = False) -> None:
    """Start a VM."""
    _act(name, "start", watch, here)


@vm_app.command("stop")
def vm_stop(name: str, watch: WatchOpt = True, here: HereOpt = False) -> None:
    """Stop a VM (shutdown, then power off after 60 s)."""
    _act(name, "stop", watch, here)


@vm_app.command("resize")
def vm_resize(name: str, vcpus: Annotated[int | None, typer.Option(help="new vCPU count")] = None,
              ram_gib: Annotated[int | None, typer.Option("--ram-gib", help="new RAM in GiB")] = None,
              watch: WatchOpt = True, here: HereOpt = False) -> None:
    """Resize a VM's vCPU and RAM (stopped and started again)."""
    _act(name, "resize", watch, here, vcpus=vcpus, ram_gib=ram_gib)


@vm_app.command("decommission")
def vm_decommission(name: str, watch: WatchOpt = True, here: HereOpt = False) -> None:
    """Decommission a VM: remove its domain and disks, release its address."""
    _act(name, "decommission", watch, here)


@vm_app.command("keys")
def vm_keys(agency: str, key_file: Annotated[Path, typer.Option("--file", help="authorized_keys file")]) -> None:
    """Set the public SSH keys cloud-init puts in an agency's new VMs."""
    from dcops.database import session_scope
    from dcops.exceptions import NotFoundError
    from dcops.provisioning import service
    from dcops.tenancy.service import agencies

    with session_scope() as session:
        found = agencies.get_by(session, actor=cli_actor(), code=agency.upper())
        if found is None:
            raise NotFoundError(f"agency '{agency}' not found")
        row = service.set_agency_keys(session, actor=cli_actor(), agency_id=found.id or 0,
                                      authorized_keys=key_file.read_text())
        console.print(f"{len(row.authorized_keys.splitlines())} key(s) set for {found.code}")


# --- jobs ---------------------------------------------------------------------------------------------


def _print_event(event: Any) -> None:
    style = STATUS_STYLE.get(event.status, "")
    took = f" {event.duration_s:.1f}s" if event.duration_s is not None else ""
    if event.event == "playbook_on_task_start":
        console.print(f"  [cyan]▶[/] {event.task}", highlight=False)
        return
    if event.event in ("playbook_on_play_start", "playbook_on_start"):
        return
    message = f" — {event.message}" if event.message else ""
    console.print(f"    [{style}]{event.status}[/]{took} {event.host}{message}", highlight=False)


def _follow(job_id: int, runner: Any = None) -> None:
    """Print a job's events as they arrive until it ends (running it here first if ``runner`` is given)."""
    import threading

    from dcops.database import session_scope
    from dcops.provisioning import service
    from dcops.provisioning.choices import FINISHED

    thread = threading.Thread(target=runner, daemon=True) if runner else None
    if thread:
        thread.start()
    seen, waited = 0, 0.0
    with console.status(f"job {job_id}…") as status:
        while True:
            with session_scope() as session:
                job = service.get(session, actor=cli_actor(), id=job_id)
                events = service.job_events(session, job_id, seen)
                state = job.status
            for event in events:
                _print_event(event)
                seen = event.seq
            status.update(f"job {job_id}: {state}")
            if state in FINISHED and (thread is None or not thread.is_alive()):
                break
            if state == "queued" and waited > 10 and not thread:
                status.update(f"job {job_id}: queued — is 'dcops serve' or 'dcops worker' running?")
            time.sleep(0.5)
            waited += 0.5
    style = "green" if job.status == "succeeded" else "red"
    console.print(f"job {job_id} [{style}]{job.status}[/]" + (f": {job.error}" if job.error else ""),
                  highlight=False)
    if job.status != "succeeded":
        raise typer.Exit(1)


@job_app.command("list")
def job_list(status: Annotated[str | None, typer.Option(help="queued, running, succeeded, failed, cancelled")]
             = None, limit: int = 50, as_json: JsonOpt = False) -> None:
    """List jobs, newest first."""
    from dcops.crud import ListQuery
    from dcops.database import session_scope
    from dcops.provisioning import service
    from dcops.provisioning.models import JobPublic

    with session_scope() as session:
        rows, _ = service.get_all(session, actor=cli_actor(),
                                    query=ListQuery(limit=limit, filters={"status": status}))
        data = [JobPublic.model_validate(r, from_attributes=True).model_dump(mode="json") for r in rows]
    print_rows(data, JOB_COLUMNS, title="Jobs", as_json=as_json)


@job_app.command("show")
def job_show(job_id: int, as_json: JsonOpt = False,
             output: Annotated[bool, typer.Option("--output", help="print the full Ansible output")] = False) -> None:
    """Show a job, its events and (with --output) its Ansible output."""
    from dcops.database import session_scope
    from dcops.provisioning import service
    from dcops.provisioning.router import _detail

    with session_scope() as session:
        detail = _detail(session, service.get(session, actor=cli_actor(), id=job_id))
    if as_json:
        typer.echo(json.dumps(detail.model_dump(mode="json"), indent=2))
        return
    for key in ("id", "action", "status", "vm_name", "host_id", "request_id", "created_by", "created_at",
                "started_at", "finished_at", "error", "failed_task", "changed"):
        console.print(f"[bold]{key}[/]: {getattr(detail, key)}", highlight=False)
    for event in detail.events:
        _print_event(event)
    if output:
        console.print(detail.stdout, highlight=False, markup=False)


@job_app.command("watch")
def job_watch(job_id: int) -> None:
    """Follow a job's progress live until it ends."""
    _follow(job_id)


@job_app.command("cancel")
def job_cancel(job_id: int) -> None:
    """Cancel a queued job or stop a running one."""
    from dcops.database import session_scope
    from dcops.provisioning import service

    with session_scope() as session:
        job = service.cancel(session, actor=cli_actor(), job_id=job_id)
        console.print(f"job {job_id}: {job.status}" + (" (stop requested)" if job.cancel_requested else ""))


@job_app.command("retry")
def job_retry(job_id: int, watch: WatchOpt = True, here: HereOpt = False) -> None:
    """Queue a failed or cancelled job again (a provision gets a capacity check and a fresh address)."""
    from dcops.database import session_scope
    from dcops.provisioning import service

    with session_scope() as session:
        new_id = service.retry(session, actor=cli_actor(), job_id=job_id).id or 0
    console.print(f"job {new_id} queued (retry of {job_id})")
    if here:
        from dcops.provisioning.jobs import run_now

        _follow(new_id, runner=lambda: run_now(new_id))
    elif watch:
        _follow(new_id)


# --- worker and reconcile ------------------------------------------------------------------------


@app.command("worker")
def worker(concurrency: Annotated[int | None, typer.Option(
        help="jobs (or tasks, with a broker) run at once (default: 8 per hypervisor, 2 to 32)")] = None,
           queues: Annotated[str, typer.Option(help="with a broker: queues to consume (poll, jobs, notify)")]
           = "poll,jobs,notify") -> None:
    """Run background work: the Celery queues when DCOPS_BROKER_URL is set, else the provisioning job runner."""
    import logging
    import signal
    import threading

    from dcops.cli import prepare_database
    from dcops.config import get_settings
    from dcops.provisioning.jobs import work, worker_id

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    prepare_database()
    if concurrency is None:
        from dcops.provisioning.background import runner_concurrency

        concurrency = runner_concurrency()
    if get_settings().broker_url:
        from dcops.engine.app import run_worker
        from dcops.engine.dispatch import QUEUES

        chosen = [q.strip() for q in queues.split(",") if q.strip()]
        unknown = [q for q in chosen if q not in QUEUES]
        if unknown or not chosen:
            console.print(f"[red]unknown queue(s) {unknown}; choose from {', '.join(QUEUES)}[/red]")
            raise typer.Exit(2)
        run_worker(chosen, concurrency)
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print(f"job runner {worker_id()} started ({concurrency} at a time); Ctrl-C stops it")
    try:
        work(stop, concurrency=concurrency)
    except KeyboardInterrupt:
        stop.set()


@app.command("reconcile")
def reconcile_cmd(as_json: JsonOpt = False) -> None:
    """Compare each hypervisor's domains with dcops: orphans, ghosts, state drift (reports, never deletes)."""
    from dcops.database import session_scope
    from dcops.provisioning.reconcile import reconcile

    with session_scope() as session:
        report = reconcile(session).as_dict()
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    print_rows(report["findings"], ["kind", "host", "vm", "dcops_state", "host_state", "detail"],
               title=f"Reconcile {report['at']} — hosts: {', '.join(report['hosts_checked']) or 'none'}",
               as_json=False)
    console.print(", ".join(f"{k}: {v}" for k, v in report["counts"].items()))
