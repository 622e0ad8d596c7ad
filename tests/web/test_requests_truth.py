"""An approved request that could not launch says so: VMs reserved, the reason, a Provision button that retries;
its messages are kept server-side, so no link can put text in the banner."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from dcops.tenancy.models import Agency


def _file_request(operator: Any, session: Session) -> str:
    dinkes_id = session.execute(select(Agency.id).where(Agency.code == "DINKES")).scalar_one()
    session.rollback()  # on SQLite a transaction holds the write lock
    form = {"agency_id": str(dinkes_id), "justification": "SIMPUS baru", "name_prefix": "dinkes-simpus",
            "count": "2", "vcpus": "2", "ram_gib": "4", "disk_gib": "80"}
    filed = operator.submit("/requests/new", "/requests/new", form, follow_redirects=False)
    assert filed.status_code == 303
    return str(filed.headers["location"])


def test_approval_without_a_reachable_hypervisor_shows_reserved_vms_and_a_retry(as_role: Any, session: Session,
                                                                                monkeypatch: Any) -> None:
    from dcops.config import get_settings

    monkeypatch.setenv("DCOPS_AUTO_PROVISION", "true")
    get_settings.cache_clear()
    url = _file_request(as_role("operator"), session)
    admin = as_role("admin")
    approved = admin.submit(url, url + "/approve", {}, follow_redirects=False)
    assert approved.status_code == 303 and approved.headers["location"] == url  # nothing in the URL
    page = admin.get(url).text
    assert 'data-status="approved"' in page
    assert 'id="launch-problem"' in page and "dicadangkan" in page  # reserved, in Indonesian
    assert "akses SSH" in page  # the reason, translated: no SSH access registered
    assert 'class="alert warn flash"' in page  # the flash of the approval, shown once
    again = admin.get(url).text
    assert 'class="alert warn flash"' not in again and 'id="provision"' in again
    assert 'provisioning</span>' not in again  # no VM pretends to be provisioning
    retried = admin.submit(url, url + "/provision", {}, follow_redirects=True).text
    assert 'class="alert warn flash"' in retried and 'id="launch-problem"' in retried
    assert 'id="provision"' not in as_role("operator").get(url).text  # only an admin decides
    get_settings.cache_clear()


def test_no_link_puts_text_in_the_banner(as_role: Any, session: Session) -> None:
    url = _file_request(as_role("operator"), session)
    page = as_role("admin").get(url + "?msg=Transfer+ke+rekening+123").text
    assert "Transfer ke rekening" not in page and "flash" not in page  # the text shows nowhere
