"""The change log (dcops.changelog): every CRUD write leaves one entry; it reads back by object, user and page."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from dcops import changelog
from dcops.actor import Actor, Role
from dcops.changelog import ChangeAction
from dcops.tenancy.service import agencies


def test_writes_are_logged_and_read_back_newest_first(session: Session) -> None:
    siti = Actor(user_id=None, username="siti", role=Role.ADMIN)
    budi = Actor(user_id=None, username="budi", role=Role.ADMIN)
    first, _ = agencies.create(session, actor=siti, data={"code": "DINKES", "name": "Dinas Kesehatan"})
    other, _ = agencies.create(session, actor=siti, data={"code": "DISDIK", "name": "Dinas Pendidikan"})
    assert first.id is not None and other.id is not None
    agencies.update(session, actor=budi, id=first.id, data={"contact_name": "dr. Ani"})
    agencies.update(session, actor=budi, id=first.id, data={"contact_name": "dr. Ani"})  # no change: no entry
    agencies.delete(session, actor=budi, id=other.id)

    history = changelog.history(session, object_type="agency", object_id=first.id)
    assert [(e.action, e.username) for e in history] == [(ChangeAction.UPDATE, "budi"), (ChangeAction.CREATE, "siti")]
    assert history[0].before is not None and history[0].after is not None
    assert (history[0].before["contact_name"], history[0].after["contact_name"]) == ("", "dr. Ani")

    everything, total = changelog.get_page(session, limit=2)
    assert total == 4 and [e.action for e in everything] == [ChangeAction.DELETE, ChangeAction.UPDATE]
    assert changelog.get_page(session, limit=2, offset=2)[0][-1].object_repr == "DINKES"
    by_budi, count = changelog.get_page(session, username="budi")
    assert count == 2 and {e.action for e in by_budi} == {ChangeAction.UPDATE, ChangeAction.DELETE}
    deleted, count = changelog.get_page(session, object_type="agency", object_id=other.id)
    assert count == 2 and deleted[0].after is None and deleted[0].before is not None
    assert changelog.get(session, id=everything[0].id or 0) == everything[0]
    assert changelog.get_page(session, object_type="rack") == ([], 0)


def test_the_api_lists_and_filters_changes(client: Any, admin: dict[str, str], tokens: Any) -> None:
    created = client.post("/api/v1/tenancy/agencies", json={"code": "BAPPEDA", "name": "Bappeda"}, headers=admin)
    assert created.status_code == 201

    listed = client.get("/api/v1/changelog", params={"object_type": "agency"}, headers=admin).json()
    one = client.get(f"/api/v1/changelog/{listed['data'][0]['id']}", headers=admin)

    assert listed["count"] == 1 and listed["data"][0]["object_repr"] == "BAPPEDA"
    assert one.status_code == 200 and one.json()["action"] == "create"
    assert client.get("/api/v1/changelog/999999", headers=admin).status_code == 404
    assert client.get("/api/v1/changelog", headers=tokens.headers("operator")).status_code == 403
