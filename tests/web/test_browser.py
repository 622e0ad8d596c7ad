"""Headless Chromium against a real uvicorn server on the demo data: each role walks its pages.

Screenshots of every page are kept under ``$DCOPS_ARTIFACTS`` (default ``/tmp/dcops-screenshots``),
one folder per backend; the path is printed.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session

from dcops.database import utcnow
from dcops.dcim.models import Credential, Device
from dcops.monitoring.alert_models import Alert, AlertState, Severity
from dcops.provisioning.models import HypervisorAccess, Job, JobEvent
from tests.server import running_server
from tests.web.conftest import build_app, record_polls

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def shots(backend: str) -> Path:
    folder = Path(os.environ.get("DCOPS_ARTIFACTS", "/tmp/dcops-screenshots")) / backend
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")
    return folder


def _release(session: Session) -> None:
    session.expunge_all()
    session.rollback()


@pytest.fixture
def site(demo: Any, session: Session) -> Iterator[str]:
    """Serve the demo (with a firing alert and SSH access to the main cluster's hosts) on a real server."""
    hosts = session.execute(select(Device).where(Device.role == "hypervisor")).scalars().all()
    cred = session.execute(select(Credential).where(Credential.name == "ssh-hypervisor")).scalars().one()
    for host in hosts:  # registered as 'dcops hypervisor register' would; no job runner runs, nothing connects
        session.add(HypervisorAccess(device_id=host.id, credential_id=cred.id, host_key="ssh-ed25519 AAAAtest",
                                     host_key_fingerprint="SHA256:test"))
    target = next(h for h in hosts if h.name == "hv-utama-03")
    session.add(Alert(rule="temperature_high", severity=Severity.WARNING, device_id=target.id,
                      device_name=target.name, subject="CPU1", state=AlertState.FIRING,
                      open_key=f"temperature_high|{target.id}|CPU1", summary="CPU1 at 83 °C (threshold 80 °C)",
                      started_at=utcnow() - timedelta(minutes=12), fired_at=utcnow() - timedelta(minutes=10)))
    session.commit()
    _release(session)
    record_polls(session, "ups-01", ups=True)  # through monitoring's state service, as the poller does
    with running_server(build_app()) as base:
        yield base


def login(context: Any, base: str, username: str, password: str) -> Any:
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, f"{username} could not log in"
    return page


def visit(page: Any, url: str, shot: Path, expect: int = 200) -> Any:
    response = page.goto(url)
    page.wait_for_load_state("networkidle")
    assert response is not None and response.status == expect, (url, response.status if response else None)
    page.screenshot(path=str(shot), full_page=True)
    return response


@pytest.mark.parametrize("who", ["admin", "operator", "oncall"])
def test_each_equipment_role_opens_a_device_from_its_rack(chromium: Any, site: str, passwords: dict[str, str],
                                                          shots: Path, who: str) -> None:
    """Every page and menu of every role is walked in test_console_walk; here a click on a rack opens the device."""
    context = chromium.new_context(viewport={"width": 1366, "height": 800})
    page = login(context, site, f"demo-{who}", passwords[f"demo-{who}"])
    visit(page, f"{site}/racks", shots / f"{who}_racks.png")
    page.locator("a.rack-device").first.click()
    page.wait_for_load_state("networkidle")
    assert "/devices/" in page.url and page.locator("#inventory-facts").is_visible()
    page.screenshot(path=str(shots / f"{who}_device.png"), full_page=True)
    context.close()


def test_oncall_acknowledges_an_alert(chromium: Any, site: str, passwords: dict[str, str], shots: Path,
                                      session: Session) -> None:
    context = chromium.new_context(viewport={"width": 1366, "height": 800})
    page = login(context, site, "demo-oncall", passwords["demo-oncall"])
    visit(page, f"{site}/health", shots / "oncall_health_before_ack.png")
    row = page.locator("tr[data-alert]").filter(has_text="temperature_high")
    row.locator("input[name=comment]").fill("kipas diganti")
    row.get_by_role("button", name="Akui").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("tr[data-alert]").filter(has_text="kipas diganti").is_visible()
    page.screenshot(path=str(shots / "oncall_health_after_ack.png"), full_page=True)
    alert = session.execute(select(Alert).where(Alert.rule == "temperature_high")).scalars().one()
    assert alert.state == AlertState.ACKNOWLEDGED and alert.acknowledged_by == "demo-oncall"
    _release(session)
    page.goto(f"{site}/racks")
    page.click('a[data-device="ups-01"]')
    page.wait_for_load_state("networkidle")
    assert page.locator("#ups").is_visible() and page.locator("#charts svg.chart").count() >= 4
    page.screenshot(path=str(shots / "oncall_device_ups.png"), full_page=True)
    kiosk = context.new_page()
    kiosk.set_viewport_size({"width": 1920, "height": 1080})
    visit(kiosk, f"{site}/health?kiosk=1", shots / "oncall_wall_display.png")
    assert kiosk.locator("body.kiosk").count() == 1 and kiosk.locator("nav.menu").count() == 0
    context.close()


def test_operator_files_a_request_and_admin_approves_and_watches_the_job(
        chromium: Any, site: str, passwords: dict[str, str], shots: Path, session: Session) -> None:
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    page = login(context, site, "demo-operator", passwords["demo-operator"])
    visit(page, f"{site}/requests/new", shots / "operator_request_form.png")
    page.select_option("#f-agency_id", label="DINKES")
    page.fill("#f-justification", "Aplikasi rekam medis elektronik puskesmas")
    page.fill("#f-name_prefix", "dinkes-rme")
    page.fill("#f-count", "2")
    page.fill("#f-vcpus", "4")
    page.fill("#f-ram_gib", "8")
    page.fill("#f-disk_gib", "100")
    page.click("#preview-button")
    page.wait_for_selector("#preview-fits")
    hosts = page.locator("td.placement-host").all_inner_texts()
    assert len(hosts) == 2 and all(h.startswith("hv-utama-") for h in hosts)
    page.screenshot(path=str(shots / "operator_request_preview.png"), full_page=True)
    page.click("#file-button")
    page.wait_for_load_state("networkidle")
    assert "/requests/" in page.url and page.locator("#request-status").get_attribute("data-status") == "requested"
    request_url = page.url
    page.screenshot(path=str(shots / "operator_request_filed.png"), full_page=True)

    admin = login(chromium.new_context(viewport={"width": 1366, "height": 900}), site, "demo-admin",
                  passwords["demo-admin"])
    visit(admin, request_url, shots / "admin_request_to_approve.png")
    assert admin.locator("#preview-fits").is_visible()
    admin.click("#approve")
    admin.wait_for_load_state("networkidle")
    assert admin.locator("#request-status").get_attribute("data-status") in ("approved", "provisioning")
    assert admin.locator("#request-vms").inner_text().count("dinkes-rme-0") == 2
    admin.screenshot(path=str(shots / "admin_request_approved.png"), full_page=True)
    admin.locator("a.job-link").first.click()
    admin.wait_for_load_state("networkidle")
    assert admin.locator("#job-live").get_attribute("data-status") == "queued"
    admin.screenshot(path=str(shots / "admin_job_queued.png"), full_page=True)

    # The job runner records progress as it runs; the open page follows it without a reload.
    job_id = int(admin.url.rsplit("/", 1)[1])
    job = session.get(Job, job_id)
    job.status, job.started_at = "running", utcnow()
    session.add(JobEvent(job_id=job_id, seq=1, event="runner_on_ok", task="Create the volume",
                         host=job.vm_name, status="ok", changed=True, duration_s=1.4))
    session.commit()
    _release(session)
    admin.wait_for_selector("#job-events >> text=Create the volume", timeout=15_000)
    admin.screenshot(path=str(shots / "admin_job_running.png"), full_page=True)
    job = session.get(Job, job_id)
    job.status, job.finished_at = "succeeded", utcnow()
    session.commit()
    _release(session)
    admin.wait_for_selector("#job-live[data-status=succeeded]", timeout=15_000)
    visit(admin, f"{site}/jobs", shots / "admin_jobs.png")
    context.close()


def test_planner_downloads_the_xlsx(chromium: Any, site: str, passwords: dict[str, str], shots: Path) -> None:
    from openpyxl import load_workbook

    context = chromium.new_context(accept_downloads=True, viewport={"width": 1366, "height": 900})
    page = login(context, site, "demo-planner", passwords["demo-planner"])
    visit(page, f"{site}/plan", shots / "planner_plan.png")
    page.fill("#f-growth_percent", "25")
    page.click("#plan-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "growth_percent=25" in page.url and page.locator("#plan-years td.cost").first.inner_text().startswith("Rp")
    page.screenshot(path=str(shots / "planner_plan_what_if.png"), full_page=True)
    with page.expect_download() as info:
        page.click("#download-xlsx")
    assert info.value.suggested_filename.endswith(".xlsx")
    saved = shots / "planner_budget_plan.xlsx"
    info.value.save_as(str(saved))
    workbook = load_workbook(io.BytesIO(saved.read_bytes()))
    assert len(workbook.sheetnames) >= 3
    context.close()


def test_agency_viewer_sees_only_its_vms(chromium: Any, site: str, passwords: dict[str, str], shots: Path,
                                          session: Session) -> None:
    from dcops.tenancy.models import Agency
    from dcops.virtualization.models import VirtualMachine

    dinkes = session.execute(select(Agency).where(Agency.code == "DINKES")).scalars().one()
    vms = session.execute(select(VirtualMachine.name, VirtualMachine.agency_id)).all()
    _release(session)
    own = {n for n, a in vms if a == dinkes.id}
    context = chromium.new_context(viewport={"width": 1366, "height": 800})
    page = login(context, site, "demo-dinkes", passwords["demo-dinkes"])
    assert page.url.endswith("/inventory/vms")
    page.screenshot(path=str(shots / "dinkes_vms.png"), full_page=True)
    shown = {t.strip() for t in page.locator("#list-vms tbody tr td:first-child").all_inner_texts()}
    assert shown == own
    for path in ("/health", "/racks", "/inventory/devices", "/devices/1", "/capacity"):
        visit(page, site + path, shots / f"dinkes_denied{path.replace('/', '_')}.png", expect=403)
        assert page.locator("h1").inner_text() == "Akses ditolak"
    context.close()


def test_bad_input_keeps_what_was_typed(chromium: Any, site: str, passwords: dict[str, str], shots: Path) -> None:
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    page = login(context, site, "demo-operator", passwords["demo-operator"])
    page.goto(f"{site}/inventory/racks/new")
    page.select_option("#f-site_id", index=1)
    page.fill("#f-name", "B01")
    page.fill("#f-u_height", "0")
    page.fill("#f-power_budget_w", "2000000")
    page.click("#inventory-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    from dcops.web.i18n import ID  # plain Indonesian sentences naming the field and what to fix

    assert page.locator("#e-u_height").inner_text() == f"{ID['Height (U)']} minimal 1."
    assert page.locator("#e-power_budget_w").inner_text() == f"{ID['Power budget (W)']} paling besar 1000000."
    assert page.input_value("#f-name") == "B01" and page.input_value("#f-u_height") == "0"
    page.screenshot(path=str(shots / "operator_form_errors.png"), full_page=True)
    page.fill("#f-u_height", "42")
    page.fill("#f-power_budget_w", "6000")
    page.click("#inventory-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "saved=1" in page.url
    context.close()
