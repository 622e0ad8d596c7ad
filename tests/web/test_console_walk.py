"""Every role walks its menu and the pages of issue 13 in headless Chromium, in Indonesian and in English: no 404
in a menu, no English catalogue string on an Indonesian page, agency viewers kept to their agency."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session

from dcops.auth.choices import Role
from dcops.database import utcnow
from dcops.ipam.models import IPAddress, Prefix
from dcops.tenancy.models import Agency
from dcops.virtualization.models import VirtualMachine
from dcops.web.i18n import ID
from tests.server import running_server
from tests.web.conftest import build_app
from tests.web.test_browser import chromium, login  # noqa: F401  (the module-scoped browser fixture)

ROLES = ["admin", "operator", "oncall", "planner", "auditor", "dinkes"]
HEAVY = {"/plan", "/consolidation"}  # forecasts computed on each view (seconds on the demo)
ROLE_OF = {"admin": Role.ADMIN, "operator": Role.OPERATOR, "oncall": Role.ONCALL, "planner": Role.PLANNER,
           "auditor": Role.AUDITOR, "dinkes": Role.AGENCY_VIEWER}
def _visible(page: str) -> str:
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r'<select id="lang".*?</select>', " ", page, flags=re.S)  # the language names themselves
    page = re.sub(r'<span data-raw(?:="")?>.*?</span>', " ", page, flags=re.S)  # stored values (change log)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


# English catalogue strings that would betray an untranslated page (several words, or a long word)
TELLTALES = sorted({en for en, idn in ID.items() if en != idn and (" " in en.strip() or len(en) >= 8)
                    and en.lower() not in idn.lower()}, key=len, reverse=True)


TELLTALE = re.compile(r"(?<![\w-])(" + "|".join(re.escape(en) for en in TELLTALES) + r")(?![\w-])")


def _english_on(page: str) -> list[str]:
    return sorted(set(TELLTALE.findall(_visible(page))))


@pytest.fixture
def objects(demo: Any, session: Session) -> dict[str, int]:
    dinkes = session.execute(select(Agency).where(Agency.code == "DINKES")).scalars().one()
    vm = session.execute(select(VirtualMachine).where(VirtualMachine.agency_id == dinkes.id)).scalars().first()
    prefix = session.execute(select(Prefix).where(Prefix.agency_id == dinkes.id)).scalars().first()
    ip = session.execute(select(IPAddress).where(IPAddress.address == vm.ip_address)).scalars().first()
    if ip is None:  # the demo records VM addresses itself; if not, record one
        ip = IPAddress(address=vm.ip_address, prefix_id=prefix.id, agency_id=dinkes.id, vm_id=vm.id)
        session.add(ip)
        session.commit()
    out = {"agency": dinkes.id, "vm": vm.id, "prefix": prefix.id, "ip": ip.id}
    other = session.execute(select(VirtualMachine).where(VirtualMachine.agency_id != dinkes.id)).scalars().first()
    out["other_vm"] = other.id
    session.expunge_all()
    session.rollback()
    return out


def _route_roles(app: Any) -> Any:
    """Return ``roles(path)``: the roles the console route serving ``path`` admits (from its Page)."""
    from starlette.routing import compile_path

    from dcops.routing import walk_routes
    from dcops.web.auth import page_roles

    routes = [(compile_path(path)[0], route) for path, route in walk_routes(app.routes)
              if "GET" in getattr(route, "methods", ()) and not path.startswith("/api/")]

    def roles(path: str) -> frozenset[Any]:
        for pattern, route in routes:
            if pattern.match(path.split("?")[0]):
                return page_roles(route) or frozenset()
        raise AssertionError(f"no route serves {path}")

    return roles


@pytest.fixture
def walk_site(objects: dict[str, int], session: Session) -> Iterator[tuple[str, list[str], Any]]:
    """The demo with an alert and an approved request (VMs reserved, not launched), served by one real server;
    yields its URL, every page of issue 13 and ``roles(path)``."""
    from dcops.auth.actor import SYSTEM
    from dcops.auth.models import User
    from dcops.capacity import service as capacity
    from dcops.capacity.models import CapacityRequestCreate
    from dcops.dcim.models import Device, Rack
    from dcops.monitoring.alert_models import Alert, AlertState, Severity

    ups = session.execute(select(Device).where(Device.name == "ups-02")).scalars().one()
    alert = Alert(rule="ups_on_battery", severity=Severity.CRITICAL, device_id=ups.id, device_name=ups.name,
                  subject="", state=AlertState.FIRING, open_key=f"ups_on_battery|{ups.id}|",
                  summary="ups-02 runs on battery", started_at=utcnow() - timedelta(minutes=5),
                  fired_at=utcnow() - timedelta(minutes=4))
    session.add(alert)
    session.commit()
    request, _ = capacity.file_request(session, actor=SYSTEM, data=CapacityRequestCreate.model_validate({
        "agency_id": objects["agency"], "justification": "SIMPUS baru",
        "items": [{"name_prefix": "dinkes-walk", "count": 1, "vcpus": 2, "ram_gib": 4, "disk_gib": 40}]}))
    capacity.approve(session, actor=SYSTEM, id=request.id)
    rack = session.execute(select(Rack.id).where(Rack.name == "A02")).scalar_one()
    viewer = session.execute(select(User.id).where(User.username == "demo-dinkes")).scalar_one()
    o = {**objects, "alert": alert.id, "request": request.id, "device": ups.id, "rack": rack, "user": viewer}
    session.expunge_all()
    session.rollback()
    pages = ["/", "/health", "/health?kiosk=1", "/racks", f"/racks/{o['rack']}", f"/devices/{o['device']}",
             "/capacity", "/requests", "/requests/new", f"/requests/{o['request']}", "/jobs", "/plan",
             "/consolidation", "/import", "/alerts", f"/alerts/{o['alert']}",
             "/changelog", f"/changelog?type=virtual+machine&id={o['vm']}", "/users", f"/users/{o['user']}",
             "/account", "/search", "/search?q=dinkes", f"/vms/{o['vm']}",
             f"/agencies/{o['agency']}", f"/prefixes/{o['prefix']}", f"/ips/{o['ip']}", "/inventory/devices/new"]
    pages += [f"/inventory/{k}" for k in ("sites", "racks", "devices", "agencies", "vms", "prefixes")]
    app = build_app()
    with running_server(app) as base:
        yield base, pages, _route_roles(app)


def _choose_language(page: Any, lang: str) -> None:
    if page.input_value("#lang") != lang:
        with page.expect_navigation():
            page.select_option("#lang", lang)
    assert page.get_attribute("html", "lang") == lang


def _menu(page: Any) -> list[tuple[str, str]]:
    return [(a.get_attribute("href"), a.inner_text().strip()) for a in page.locator("nav.menu a[data-menu]").all()]


def test_each_role_walks_every_page_in_a_browser_in_both_languages(
        chromium: Any, walk_site: tuple[str, list[str], Any], passwords: dict[str, str],  # noqa: F811
        objects: dict[str, int],
        backend: str) -> None:
    """Headless Chromium, one server: each role logs in through the form and opens every page of issue 13 that
    its role admits, in Indonesian then English; the menu opens no 404, an Indonesian page shows no English
    catalogue string, and a page outside the role answers 403 (in Indonesian too)."""
    from dcops.web.render import menu_for

    base, pages, roles = walk_site
    shots = Path(os.environ.get("DCOPS_ARTIFACTS", "/tmp/dcops-screenshots")) / backend / "walk"
    shots.mkdir(parents=True, exist_ok=True)
    walked_heavy: set[str] = set()
    for who in ROLES:
        role = ROLE_OF[who]
        context = chromium.new_context(viewport={"width": 1366, "height": 768})
        page = login(context, base, f"demo-{who}", passwords[f"demo-{who}"])
        mine = [p for p in pages if role in roles(p)]
        if who != "dinkes":  # a forecast page takes seconds to compute: walked by the first role that may open it
            mine = [p for p in mine if p not in walked_heavy]
        for lang in ("id", "en"):
            page.goto(f"{base}/account")
            _choose_language(page, lang)
            menu = _menu(page)
            labels = [item.label for item in menu_for(role)]
            assert [text for _, text in menu] == [ID.get(x, x) if lang == "id" else x for x in labels], (who, lang)
            for href, _ in menu:  # every menu entry is a page this role may open (walked below: no 404)
                assert role in roles(href) and (href in mine or href in walked_heavy), (who, href)
            for path in mine:
                answer = page.goto(base + path)
                assert answer is not None and answer.status == 200, (who, lang, path, answer and answer.status)
                assert page.get_attribute("html", "lang") == lang
                if lang == "id":
                    assert _english_on(page.content()) == [], (who, path)
                    page.screenshot(path=str(shots / f"{who}{path.replace('/', '_').replace('?', '_')}.png"))
        _choose_language(page, "id")
        for path in (p for p in pages if role not in roles(p)):  # the pages outside the role: a plain 403
            answer = page.goto(base + path)
            assert answer is not None and answer.status == 403, (who, path, answer and answer.status)
            assert page.locator("h1").inner_text() == "Akses ditolak"
            assert _english_on(page.content()) == [], (who, path)
        if who == "dinkes":  # another agency's VM does not exist for an agency viewer; equipment neither
            assert page.goto(f"{base}/vms/{objects['other_vm']}").status == 404
            page.goto(f"{base}/search?q=ups")
            assert page.locator("a[href^='/devices/']").count() == 0
        else:
            page.goto(f"{base}/search?q=DEMO-UPS")  # a serial finds its device
            assert page.locator("a[href^='/devices/']", has_text="ups-01").count() >= 1
        walked_heavy |= HEAVY & set(mine)
        context.close()
    print(f"\nwalk screenshots: {shots}")


def test_my_account_shows_a_new_token_once_and_revokes_it(as_role: Any, objects: dict[str, int]) -> None:
    me = as_role("operator")
    made = me.submit("/account", "/account/tokens", {"name": "skrip", "days": "7"})
    token = re.search(r'<div class="alert warn" id="new-token">.*?<code>([^<]+)</code>', made.text, flags=re.S)
    assert token is not None
    assert token.group(1) not in me.get("/account").text  # shown once
    token_id = re.findall(r'data-token="(\d+)"', made.text)[0]
    revoked = me.submit("/account", f"/tokens/{token_id}/revoke", {})
    assert "dicabut" in revoked.text
    admin_token = re.findall(r'data-token="(\d+)"', as_role("admin").get("/account").text)[0]
    assert me.submit("/account", f"/tokens/{admin_token}/revoke", {}).status_code == 404  # not mine


def test_lists_sort_and_export_what_the_filter_shows(as_role: Any, objects: dict[str, int]) -> None:
    import io

    from openpyxl import load_workbook

    operator = as_role("operator")
    page = operator.get("/inventory/devices?role=hypervisor&ordering=-name").text
    names = re.findall(r'<td class="">\s*<a href="/devices/\d+">([^<]+)</a>', page)
    assert names and names == sorted(names, reverse=True)
    assert 'data-sort="name"' in page and 'class="crumbs"' in page
    csv = operator.get("/inventory/devices/export?role=hypervisor&ordering=-name&format=csv")
    assert csv.status_code == 200 and "attachment" in csv.headers["content-disposition"]
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("Nama,")  # headers in the visitor's language
    assert [line.split(",")[0] for line in lines[1:]] == names  # exactly what the list shows, in its order
    xlsx = operator.get("/inventory/devices/export?role=hypervisor&format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet.max_row == len(names) + 1 and sheet["A1"].value == "Nama"
