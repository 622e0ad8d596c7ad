"""The per-process token cache never outlives a change made in this process (issue 14, throughput)."""

from __future__ import annotations

from sqlalchemy import text

from dcops.auth import token_cache


def test_a_cached_token_is_refused_at_once_after_its_user_is_disabled_or_demoted(client, tokens, admin):
    user, token = tokens.user("auditor")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/dcim/sites", headers=headers).status_code == 200  # now cached
    assert client.post("/api/v1/dcim/sites", json={"name": "DC Cache"}, headers=headers).status_code == 403
    r = client.patch(f"/api/v1/auth/users/{user.id}", json={"role": "admin"}, headers=admin)
    assert r.status_code == 200, r.text
    assert client.post("/api/v1/dcim/sites", json={"name": "DC Cache"}, headers=headers).status_code == 201
    assert client.patch(f"/api/v1/auth/users/{user.id}", json={"is_active": False}, headers=admin).status_code == 200
    r = client.get("/api/v1/dcim/sites", headers=headers)
    assert r.status_code == 401 and "disabled" in r.json()["detail"]


def test_a_change_from_another_process_is_seen_when_the_entry_expires(client, tokens, session):
    user, token = tokens.user("planner")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/dcim/sites", headers=headers).status_code == 200
    # as another process would: straight to the database, no ORM event in this one
    session.execute(text("UPDATE api_token SET revoked_at = CURRENT_TIMESTAMP WHERE user_id = :u"), {"u": user.id})
    session.commit()
    assert client.get("/api/v1/dcim/sites", headers=headers).status_code == 200  # within the TTL: cached
    digest = next(iter(d for d, (_, actor, _e) in token_cache._entries.items() if actor.user_id == user.id))
    deadline, actor, expires = token_cache._entries[digest]
    token_cache._entries[digest] = (deadline - token_cache.TTL - 1, actor, expires)  # the TTL has passed
    r = client.get("/api/v1/dcim/sites", headers=headers)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
