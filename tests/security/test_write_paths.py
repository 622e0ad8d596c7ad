"""Every write path x every role: API routes, import kinds and console POST pages obey one role table.

The role table is each API route's declared ``Allow(...)`` roles, plus fixed rules no declaration may break
(auditors write nothing; agency viewers write nothing but their password). The import and the console are
checked against the API route that creates the same objects, so no path lets a role do what the API forbids.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from dcops.auth.actor import SYSTEM
from dcops.auth.choices import Role

WRITE = {"POST", "PUT", "PATCH", "DELETE"}
SELF_SERVICE = {"/api/v1/auth/login", "/api/v1/auth/password"}  # the caller's own credentials
#: POSTs that compute and store nothing (what-if plans), open to readers by design
WHAT_IF = {"/api/v1/capacity/plan", "/api/v1/capacity/plan/compare", "/api/v1/capacity/plan/export",
           "/api/v1/consolidation/plan/waves", "/api/v1/consolidation/plan/compare"}
#: roles that may write nothing at all, whatever a route declares
READ_ONLY = {Role.AUDITOR, Role.AGENCY_VIEWER}


def _api_write_routes(app: Any) -> list[tuple[str, str, frozenset[Role]]]:
    from dcops.auth.deps import Allow
    from dcops.routing import walk_routes

    out = []
    for path, route in walk_routes(app.routes):
        if not path.startswith("/api/") or path in SELF_SERVICE:
            continue
        for method in sorted(route.methods & WRITE):
            stack, roles = [route.dependant], None
            while stack:
                dep = stack.pop()
                if isinstance(getattr(dep, "call", None), Allow):
                    roles = dep.call.roles
                stack.extend(dep.dependencies)
            assert roles is not None, f"{method} {path} declares no roles"
            out.append((method, path, roles))
    return out


@pytest.fixture
def role_headers(tokens: Any, factory: Any) -> dict[Role, dict[str, str]]:
    agency = factory.agency()
    return {role: tokens.headers(role.value, agency.id if role is Role.AGENCY_VIEWER else None) for role in Role}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "999999" if "id" in m.group(0) else "no-such-name", path)


def test_the_role_table_forbids_read_only_roles_every_write_route(app):
    routes = _api_write_routes(app)
    assert len(routes) > 40
    offenders = [f"{m} {p}: {sorted(r & READ_ONLY)}" for m, p, r in routes if r & READ_ONLY and p not in WHAT_IF]
    assert offenders == [], offenders


def test_every_api_write_route_refuses_every_role_it_does_not_declare(client, app, role_headers):
    problems = []
    for method, path, roles in _api_write_routes(app):
        url = _concrete(path)
        for role, headers in role_headers.items():
            r = client.request(method, url, json={}, headers=headers)
            if role not in roles and r.status_code != 403:
                problems.append(f"{role} {method} {path}: {r.status_code} (expected 403)")
            if role in roles and r.status_code in (401, 403) and "does not serve" not in r.text:
                problems.append(f"{role} {method} {path}: {r.status_code} though the role is declared")
            if r.status_code >= 500:
                problems.append(f"{role} {method} {path}: {r.status_code}")
    assert problems == [], "\n".join(problems)


IMPORT_ROWS = {
    "racks": "site,name\nDC1,R-import\n",
    "devices": "name,device_type,role,site\nimported-1,t1,other,DC1\n",
    "agencies": "code,name,kind\nIMP,Imported agency,dinas\n",
    "vms": "name,agency,cluster,vcpus,ram_gib,disk_gib\nvm-imp,AGX,c1,1,1,10\n",
}


def _create_route_roles(app: Any, table: str) -> frozenset[Role]:
    for method, path, roles in _api_write_routes(app):
        route_name = next(r.name for p, r in __import__("dcops.routing", fromlist=["walk_routes"]).walk_routes(
            app.routes) if p == path and method in r.methods)
        if route_name == f"create_{table}":
            return roles
    raise AssertionError(f"no API create route for {table}")


def test_every_import_kind_admits_exactly_the_roles_the_api_create_route_does(client, app, factory, role_headers):
    from dcops.transfer.service import KINDS

    site = factory.site(name="DC1")
    factory.device_type(slug="t1")
    factory.cluster(name="c1")
    factory.agency(code="AGX")
    assert site is not None
    problems = []
    for name, kind in KINDS.items():
        allowed = _create_route_roles(app, kind.resource.table.name)
        for role, headers in role_headers.items():
            r = client.post(f"/api/v1/import/{name}?dry_run=true", content=IMPORT_ROWS[name].encode(),
                            headers=headers | {"Content-Type": "text/csv"})
            if role in allowed and r.status_code != 200:
                problems.append(f"{role} import {name}: {r.status_code} {r.text[:120]} (the API allows it)")
            if role not in allowed and r.status_code != 403:
                problems.append(f"{role} import {name}: {r.status_code} (the API forbids it: expected 403)")
    assert problems == [], "\n".join(problems)


def test_an_operator_cannot_create_agencies_through_the_import(client, tokens):
    headers = tokens.headers("operator")
    assert client.post("/api/v1/tenancy/agencies", json={"code": "X", "name": "X", "kind": "dinas"},
                       headers=headers).status_code == 403
    r = client.post("/api/v1/import/agencies", content=b"code,name,kind\nX,X,dinas\n",
                    headers=headers | {"Content-Type": "text/csv"})
    assert r.status_code == 403, r.text
    assert client.get("/api/v1/tenancy/agencies", headers=headers).json()["count"] == 0


#: each console POST page and the API route that does the same thing (a new page must be added here)
CONSOLE_TO_API = {
    "/requests/preview": ("POST", "/api/v1/capacity/requests/preview"),
    "/requests/new": ("POST", "/api/v1/capacity/requests"),
    "/requests/{id}/approve": ("POST", "/api/v1/capacity/requests/{id}/approve"),
    "/requests/{id}/reject": ("POST", "/api/v1/capacity/requests/{id}/reject"),
    "/alerts/{id}/ack": ("POST", "/api/v1/monitoring/alerts/{id}/acknowledge"),
    "/alerts/{id}/silence": ("POST", "/api/v1/monitoring/silences"),
    "/import": ("POST", "/api/v1/import/{kind}"),
    "/requests/{id}/provision": ("POST", "/api/v1/capacity/requests/{id}/provision"),
    "/alerts/{id}/resolve": ("POST", "/api/v1/monitoring/alerts/{id}/resolve"),
    "/alerts/bulk-ack": ("POST", "/api/v1/monitoring/alerts/{id}/acknowledge"),
    "/consolidation/settings": ("PATCH", "/api/v1/consolidation/showback/settings"),
    "/consolidation/applications/{id}/start": ("POST", "/api/v1/consolidation/applications/{id}/start"),
    "/consolidation/applications/{id}/retire": ("POST", "/api/v1/consolidation/applications/{id}/move"),
}
#: pages about the visitor's own session or account (a signed-in user acts on itself only; an admin's revoke of
#: another user's token is the API's admin-only POST /api/v1/auth/tokens/{token_id}/revoke)
CONSOLE_OWN = {"/login", "/logout", "/lang", "/account/tokens", "/account/password", "/tokens/{id}/revoke"}


def test_every_console_post_page_admits_no_role_its_api_route_refuses(web_app):
    from dcops.web.auth import console_routes, page_roles
    from dcops.web.catalog import KINDS as CONSOLE_KINDS

    api = {(m, p): roles for m, p, roles in _api_write_routes(web_app)}
    inventory = {f"/inventory/{k.key}/new": k for k in CONSOLE_KINDS.values()}
    inventory |= {f"/inventory/{k.key}/{{id}}/edit": k for k in CONSOLE_KINDS.values()}
    inventory |= {f"/inventory/{k.key}/bulk": k for k in CONSOLE_KINDS.values()}  # bulk edit: the same update rule
    problems = []
    for path, route in console_routes(web_app):
        if "POST" not in route.methods or path in CONSOLE_OWN:
            continue
        roles = page_roles(route) or frozenset()
        if path in inventory:
            resource = inventory[path].resource
            allowed = resource.write_roles
            assert allowed is not None, f"{resource.plural} has no API write route"
        elif path in CONSOLE_TO_API:
            key = CONSOLE_TO_API[path]
            if key not in api:
                problems.append(f"{path}: its API route {key} is gone")
                continue
            allowed = api[key]
        else:
            problems.append(f"console page POST {path} has no API counterpart in CONSOLE_TO_API")
            continue
        extra = roles - allowed
        if extra:
            problems.append(f"console POST {path} admits {sorted(extra)} which the API refuses")
    assert problems == [], "\n".join(problems)


def test_the_console_import_refuses_what_the_api_refuses(web_app, session):
    from fastapi.testclient import TestClient

    from dcops.auth.service import create_user
    from tests.web.conftest import Browser

    create_user(session, actor=SYSTEM, data={"username": "op", "role": "operator", "password": "rahasia-123!"})
    with TestClient(web_app, raise_server_exceptions=False) as c:
        b = Browser(c)
        assert b.login("op", "rahasia-123!").status_code == 303
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/import").text).group(1)  # type: ignore
        r = c.post("/import", data={"kind": "agencies", "csrf_token": token},
                   files={"file": ("a.csv", b"code,name,kind\nX,X,dinas\n", "text/csv")})
        assert r.status_code in (403, 422) and "may not" in r.text
    from sqlalchemy import func, select

    from dcops.tenancy.models import Agency

    assert session.execute(select(func.count()).select_from(Agency)).scalar_one() == 0
    session.rollback()


# --- operator scopes: every write path that names one agency's object, for an operator who does not serve it ---

#: write routes an operator may use that name an object owned by one agency, and the kind of that object; any
#: operator route with such a path parameter must be listed here (the test fails on one that is not)
SCOPED_ROUTES = {
    ("PATCH", "/api/v1/virtualization/virtual-machines/{id}"): "vm",
    ("DELETE", "/api/v1/virtualization/virtual-machines/{id}"): "vm",
    ("POST", "/api/v1/provisioning/vms/{vm_id}/start"): "vm",
    ("POST", "/api/v1/provisioning/vms/{vm_id}/stop"): "vm",
    ("POST", "/api/v1/provisioning/vms/{vm_id}/decommission"): "vm",
    ("POST", "/api/v1/provisioning/vms/{vm_id}/resize"): "vm",
    ("POST", "/api/v1/provisioning/jobs/{job_id}/cancel"): "job",
    ("POST", "/api/v1/provisioning/jobs/{job_id}/retry"): "job",
    ("POST", "/api/v1/capacity/requests/{id}/provision"): "request",
    ("POST", "/api/v1/capacity/requests/{id}/cancel"): "request",
    ("PUT", "/api/v1/provisioning/agencies/{agency_id}/ssh-keys"): "agency",
}
#: routes that create an agency's object, and the body that names the agency the operator does not serve
SCOPED_CREATES = {
    ("POST", "/api/v1/virtualization/virtual-machines"): lambda w: {
        "name": "vm-scope", "agency_id": w["b"], "cluster_id": w["cluster"], "vcpus": 1, "ram_gib": 1, "disk_gib": 10},
    ("POST", "/api/v1/capacity/requests"): lambda w: {
        "agency_id": w["b"], "justification": "growth",
        "items": [{"name_prefix": "app", "count": 1, "vcpus": 1, "ram_gib": 1, "disk_gib": 10}]},
}
SCOPED_PARAM = re.compile(r"/(virtual-machines|vms|jobs|requests|agencies)/\{")
BODIES = {"resize": {"vcpus": 1}, "ssh-keys": {"authorized_keys": ""}, "virtual-machines/{id}": {"description": "x"}}


@pytest.fixture
def scoped_world(client: Any, factory: Any, tokens: Any, admin: dict[str, str], session: Any) -> dict[str, Any]:
    from dcops.capacity.models import CapacityRequest
    from dcops.provisioning.models import Job

    a, b = factory.agency(code="AGA"), factory.agency(code="AGB")
    cluster = factory.cluster(name="c1")
    vm_b = factory.vm(b, cluster, state="stopped")
    job = Job(action="start", vm_id=vm_b.id, vm_name=vm_b.name, agency_id=b.id)
    request = CapacityRequest(agency_id=b.id, justification="growth", status="approved", requested_by="admin")
    session.add_all([job, request])
    session.commit()
    user, token = tokens.user("operator")
    r = client.put(f"/api/v1/auth/users/{user.id}/agencies", json={"agency_ids": [a.id]}, headers=admin)
    assert r.status_code == 200, r.text
    return {"a": a.id, "b": b.id, "cluster": cluster.id, "user": user, "scoped": {"Authorization": f"Bearer {token}"},
            "ids": {"vm": vm_b.id, "job": job.id, "request": request.id, "agency": b.id}}


def test_a_scoped_operator_is_refused_every_write_path_on_an_agency_it_does_not_serve(client, app, scoped_world):
    operator_routes = [(m, p) for m, p, roles in _api_write_routes(app) if Role.OPERATOR in roles]
    unlisted = [f"{m} {p}" for m, p in operator_routes
                if SCOPED_PARAM.search(p) and (m, p) not in SCOPED_ROUTES]
    assert unlisted == [], f"classify these agency-owned write routes in SCOPED_ROUTES: {unlisted}"
    assert set(SCOPED_ROUTES) | set(SCOPED_CREATES) <= set(operator_routes)  # the table names real routes
    problems = []
    for (method, path), kind in SCOPED_ROUTES.items():
        url = re.sub(r"\{[^}]+\}", str(scoped_world["ids"][kind]), path)
        body = next((v for k, v in BODIES.items() if path.endswith(k)), {})
        r = client.request(method, url, json=body, headers=scoped_world["scoped"])
        if r.status_code != 403 or "does not serve" not in r.text:
            problems.append(f"{method} {path} on agency B's {kind}: {r.status_code} {r.text[:150]}")
    for (method, path), body in SCOPED_CREATES.items():
        r = client.request(method, path, json=body(scoped_world), headers=scoped_world["scoped"])
        if r.status_code != 403 or "does not serve" not in r.text:
            problems.append(f"{method} {path} for agency B: {r.status_code} {r.text[:150]}")
    r = client.post("/api/v1/import/vms", content=b"name,agency,cluster,vcpus,ram_gib,disk_gib\nvm-i,AGB,c1,1,1,10\n",
                    headers=scoped_world["scoped"] | {"Content-Type": "text/csv"})
    if r.status_code != 422 or "does not serve" not in r.text:
        problems.append(f"import vms for agency B: {r.status_code} {r.text[:150]}")
    assert problems == [], "\n".join(problems)


def test_a_scoped_operator_is_refused_on_the_console_too(web_app, session, factory, admin):
    from fastapi.testclient import TestClient

    from dcops.auth.scopes import set_scopes
    from dcops.auth.service import create_user
    from dcops.virtualization.models import VirtualMachine
    from tests.web.conftest import Browser

    a, b = factory.agency(code="AGA"), factory.agency(code="AGB")
    vm_b = factory.vm(b, factory.cluster(name="c1"), state="stopped")
    user = create_user(session, actor=SYSTEM, data={"username": "scoped", "role": "operator",
                                                     "password": "rahasia-123!"})
    set_scopes(session, actor=SYSTEM, user_id=user.id, agency_ids=[a.id])
    with TestClient(web_app, raise_server_exceptions=False) as c:
        assert Browser(c).login("scoped", "rahasia-123!").status_code == 303
        page = c.get(f"/inventory/vms/{vm_b.id}/edit")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, page.text[:500]
        r = c.post(f"/inventory/vms/{vm_b.id}/edit", data={"csrf_token": token.group(1), "name": vm_b.name,
                                                           "description": "moved by someone out of scope"})
        assert r.status_code in (403, 422) and "does not serve" in r.text, r.text[:500]
    session.expire_all()
    assert session.get(VirtualMachine, vm_b.id).description != "moved by someone out of scope"
    session.rollback()
