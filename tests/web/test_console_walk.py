"""Every role walks its menu and the pages of issue 13, in Indonesian and in English: no 404 in a menu, no
English catalogue string on an Indonesian page, agency viewers kept to their agency."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session

from dcops.ipam.models import IPAddress, Prefix
from dcops.tenancy.models import Agency
from dcops.virtualization.models import VirtualMachine
from dcops.web.i18n import ID

ROLES = ["admin", "operator", "oncall", "planner", "auditor", "dinkes"]
MENU = re.compile(r'data-menu="[a-z]+"[^>]*|href="(/[^"]*)"[^>]*data-menu=')


def _menu_links(page: str) -> list[str]:
    return re.findall(r'<a href="(/[^"]*)" class="[^"]*" data-menu=', page)


def _visible(page: str) -> str:
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r'<select id="lang".*?</select>', " ", page, flags=re.S)  # the language names themselves
    page = re.sub(r"<span data-raw>.*?</span>", " ", page, flags=re.S)  # stored values (the change log's)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


# English catalogue strings that would betray an untranslated page (several words, or a long word)
TELLTALES = sorted({en for en, idn in ID.items() if en != idn and (" " in en.strip() or len(en) >= 8)
                    and en.lower() not in idn.lower()}, key=len, reverse=True)


def _english_on(page: str) -> list[str]:
    text = _visible(page)
    return [en for en in TELLTALES if re.search(rf"(?<![\w-]){re.escape(en)}(?![\w-])", text)]


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


@pytest.mark.parametrize("role", ROLES)
def test_each_role_walks_its_pages_in_both_languages(as_role: Any, objects: dict[str, int], role: str) -> None:
    user = as_role(role)
    start = user.get("/")
    assert start.status_code == 200
    links = _menu_links(start.text)
    assert "/search" in links and "/account" in links
    pages = links + [f"/vms/{objects['vm']}", f"/agencies/{objects['agency']}", f"/prefixes/{objects['prefix']}",
                     f"/ips/{objects['ip']}", "/search?q=dinkes", "/search?q=DEMO-UPS"]
    if role == "admin":
        pages += ["/users", "/changelog", f"/changelog?type=virtual+machine&id={objects['vm']}"]
        assert "/users" in links and "/changelog" in links
    for lang in ("id", "en"):
        user.submit("/account", "/lang", {"lang": lang, "back": "/account"})
        for path in pages:
            answer = user.get(path)
            assert answer.status_code == 200, (role, lang, path, answer.status_code, answer.text[:300])
            if lang == "id":
                assert _english_on(answer.text) == [], (role, path)
    if role == "dinkes":  # an agency viewer: another agency's VM does not exist for them, equipment neither
        assert user.get(f"/vms/{objects['other_vm']}").status_code == 404
        assert "ups-01" not in user.get("/search?q=DEMO-UPS").text and "/devices/" not in user.get("/search?q=ups").text
        assert user.get("/users").status_code == 403
    else:
        assert "ups-01" in user.get("/search?q=DEMO-UPS").text  # a serial finds its device


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
