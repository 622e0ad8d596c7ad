"""Authentication, roles, agency scoping, the change log and secrets, through the API."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from dcops.auth.choices import Role
from dcops.auth.deps import assert_every_route_guarded
from dcops.auth.models import ApiToken
from dcops.database import utcnow

VMS = "/api/v1/virtualization/virtual-machines"


def test_missing_malformed_and_unknown_tokens_answer_401(client):
    assert client.get("/api/v1/dcim/sites").status_code == 401
    r = client.get("/api/v1/dcim/sites", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    r = client.get("/api/v1/dcim/sites", headers={"Authorization": "Bearer dcops_not-a-real-token"})
    assert r.status_code == 401 and r.json()["detail"] == "invalid API token"


def test_expired_and_revoked_tokens_answer_401_saying_why(client, tokens, session, admin):
    user, token = tokens.user("operator")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/dcim/sites", headers=headers).status_code == 200
    record = session.execute(select(ApiToken).where(ApiToken.user_id == user.id)).scalars().one()
    record.expires_at = utcnow() - timedelta(minutes=1)
    session.commit()
    r = client.get("/api/v1/dcim/sites", headers=headers)
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    record.expires_at = None
    session.commit()
    assert client.post(f"/api/v1/auth/tokens/{record.id}/revoke", headers=admin).status_code == 200
    r = client.get("/api/v1/dcim/sites", headers=headers)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_tokens_are_stored_hashed(client, tokens, session):
    _, token = tokens.user("planner")
    stored = session.execute(select(ApiToken.token_hash)).scalars().all()
    session.rollback()
    assert token not in stored and all(len(h) == 64 for h in stored)


def test_password_login_gives_a_token_and_wrong_password_a_401(client, admin):
    r = client.post("/api/v1/auth/users", json={"username": "budi", "role": "planner", "password": "rahasia-123!"},
                    headers=admin)
    assert r.status_code == 201, r.text
    assert "password" not in r.json() and "password_hash" not in r.json()
    r = client.post("/api/v1/auth/login", json={"username": "budi", "password": "salah"})
    assert r.status_code == 401
    r = client.post("/api/v1/auth/login", json={"username": "budi", "password": "rahasia-123!"})
    assert r.status_code == 200
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {r.json()['token']}"})
    assert me.json()["username"] == "budi"


def test_every_api_route_declares_roles(app):
    # every route of every included router is walked, not only the app's own (FastAPI nests included routers)
    assert assert_every_route_guarded(app, public=["/api/v1/auth/login"]) > 100
    from fastapi import APIRouter, FastAPI

    bare = FastAPI()

    @bare.get("/api/v1/open")
    def _open() -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match="declares no Allow"):
        assert_every_route_guarded(bare)

    nested, inner = FastAPI(), APIRouter(prefix="/dcim")

    @inner.get("/hidden")
    def _hidden() -> dict[str, str]:
        return {}

    outer = APIRouter()
    outer.include_router(inner)
    nested.include_router(outer, prefix="/api/v1")
    with pytest.raises(RuntimeError, match="/api/v1/dcim/hidden"):
        assert_every_route_guarded(nested)


def test_every_route_runs_its_sync_code_off_the_event_loop(app):
    # a sync endpoint left to FastAPI would have its answer validated in a second trip to the thread pool while
    # its request still holds a database connection (tests/capacity/test_approval_race.py, tiny pool)
    from fastapi import APIRouter, FastAPI

    from dcops.routing import ApiRouter, assert_no_sync_endpoint

    assert assert_no_sync_endpoint(app) > 200
    plain, wrapped = APIRouter(), ApiRouter()
    for router in (plain, wrapped):
        @router.get("/sync")
        def _sync() -> dict[str, str]:
            return {"thread": threading.current_thread().name}

    @wrapped.get("/loop")
    async def _loop() -> dict[str, str]:
        return {"thread": threading.current_thread().name}

    bare = FastAPI()
    bare.include_router(wrapped)
    assert assert_no_sync_endpoint(bare) == 2
    with TestClient(bare) as c:  # the sync code still runs in a worker thread, not on the event loop's
        assert c.get("/sync").json()["thread"] != c.get("/loop").json()["thread"]
    bare.include_router(plain, prefix="/plain")
    with pytest.raises(RuntimeError, match="/plain/sync"):
        assert_no_sync_endpoint(bare)


@pytest.mark.parametrize("role,read,write", [
    ("admin", 200, 201), ("operator", 200, 201), ("oncall", 200, 403), ("planner", 200, 403),
    ("auditor", 200, 403), ("agency-viewer", 200, 403),
])
def test_roles_on_racks(client, tokens, factory, role, read, write):
    agency = factory.agency()
    site = factory.site()
    headers = tokens.headers(role, agency.id if role == "agency-viewer" else None)
    r = client.get("/api/v1/dcim/racks", headers=headers)
    assert r.status_code == (403 if role == "agency-viewer" else read)
    r = client.post("/api/v1/dcim/racks", json={"site_id": site.id, "name": "R1"}, headers=headers)
    assert r.status_code == write


@pytest.mark.parametrize("role", [r.value for r in Role if r is not Role.ADMIN])
def test_only_admins_manage_users(client, tokens, factory, role):
    agency = factory.agency()
    headers = tokens.headers(role, agency.id if role == "agency-viewer" else None)
    assert client.get("/api/v1/auth/users", headers=headers).status_code == 403
    r = client.post("/api/v1/auth/users", json={"username": "x", "role": "admin"}, headers=headers)
    assert r.status_code == 403


def test_agency_viewer_sees_only_its_agency(client, tokens, factory):
    cluster = factory.cluster()
    dinkes, disdik = factory.agency(code="DINKES"), factory.agency(code="DISDIK")
    own = factory.vm(dinkes, cluster, name="dinkes-simpus")
    other = factory.vm(disdik, cluster, name="disdik-dapodik")
    headers = tokens.headers("agency-viewer", dinkes.id)
    listed = client.get(VMS, headers=headers).json()
    assert [v["name"] for v in listed["data"]] == ["dinkes-simpus"] and listed["count"] == 1
    assert client.get(f"{VMS}/{own.id}", headers=headers).status_code == 200
    r = client.get(f"{VMS}/{other.id}", headers=headers)
    assert r.status_code == 404 and "not found" in r.json()["detail"]
    agencies = client.get("/api/v1/tenancy/agencies", headers=headers).json()
    assert [a["code"] for a in agencies["data"]] == ["DINKES"]
    assert client.get(f"/api/v1/tenancy/agencies/{disdik.id}", headers=headers).status_code == 404
    # and it cannot create VMs, even for its own agency
    r = client.post(VMS, json={"name": "x", "agency_id": dinkes.id, "cluster_id": cluster.id, "vcpus": 1,
                               "ram_gib": 1, "disk_gib": 10}, headers=headers)
    assert r.status_code == 403


def test_change_log_records_who_and_before_after(client, tokens):
    user, token = tokens.user("operator", username="siti")
    headers = {"Authorization": f"Bearer {token}"}
    site = client.post("/api/v1/dcim/sites", json={"name": "DC"}, headers=headers).json()
    client.patch(f"/api/v1/dcim/sites/{site['id']}", json={"description": "utama"}, headers=headers)
    client.delete(f"/api/v1/dcim/sites/{site['id']}", headers=headers)
    admin = tokens.headers("auditor")
    log = client.get("/api/v1/changelog?limit=10", headers=admin).json()["data"]
    mine = [e for e in log if e["object_type"] == "site"]
    assert {e["action"] for e in mine} == {"create", "update", "delete"}
    assert all(e["username"] == "siti" and e["user_id"] == user.id for e in mine)
    update = next(e for e in mine if e["action"] == "update")
    assert update["before"]["description"] == "" and update["after"]["description"] == "utama"
    assert client.get("/api/v1/changelog", headers=headers).status_code == 403


def test_credential_secrets_are_write_only_encrypted_and_not_logged(client, admin, session, caplog):
    community = "s3cr3t-community-XYZ"
    caplog.set_level(logging.DEBUG)
    r = client.post("/api/v1/dcim/credentials", json={"name": "snmp", "kind": "snmp_v2c", "community": community},
                    headers=admin)
    assert r.status_code == 201, r.text
    cred = r.json()
    assert community not in r.text
    assert community not in client.get(f"/api/v1/dcim/credentials/{cred['id']}", headers=admin).text
    assert community not in client.get("/api/v1/dcim/credentials", headers=admin).text
    assert community not in client.get("/api/v1/changelog", headers=admin).text
    raw = session.execute(text("SELECT secret_blob FROM credential")).scalar_one()
    session.rollback()  # end the read transaction (on SQLite it holds the write lock)
    assert community.encode() not in bytes(raw)
    assert community not in caplog.text
    r = client.post("/api/v1/dcim/credentials", json={"name": "v3", "kind": "snmp_v3", "username": "mon",
                                                      "auth_protocol": "sha256"}, headers=admin)
    assert r.status_code == 422 and "auth_key" in r.json()["detail"]


def test_secret_key_file_is_private(db):
    import os
    import stat

    from dcops.config import get_settings
    from dcops.security import ensure_secret_key

    path = get_settings().secret_key_file
    ensure_secret_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
