"""Shared fixtures: one database per backend per run, a clean schema per test, users and factories.

The suite runs against every backend named in ``DCOPS_TEST_DATABASES`` (default
``sqlite,postgresql``); a test that asks for ``db`` runs once per backend. PostgreSQL
is the server at ``DCOPS_TEST_PG_URL`` (default 127.0.0.1:5432, database ``test``):
each run creates its own database there and drops it at the end. A backend that is
named but unreachable fails the run; it is never skipped.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session, SQLModel

BACKENDS = [b.strip() for b in os.environ.get("DCOPS_TEST_DATABASES", "sqlite,postgresql").split(",") if b.strip()]
PG_ADMIN_URL = os.environ.get("DCOPS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

_tmp = Path(tempfile.mkdtemp(prefix="dcops-test-"))
os.environ["DCOPS_DATA_DIR"] = str(_tmp / "data")
os.environ.pop("DCOPS_CONFIG", None)


def _use_database(url: str) -> None:
    from dcops.config import get_settings
    from dcops.database import dispose_engines

    os.environ["DCOPS_DATABASE_URL"] = url
    get_settings.cache_clear()
    dispose_engines()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Create a fresh, migrated database for this run on one backend."""
    from dcops.database import dispose_engines, upgrade

    backend = request.param
    if backend == "sqlite":
        url = f"sqlite:///{_tmp / f'test-{secrets.token_hex(4)}.db'}"
        upgrade(url)
        _use_database(url)
        yield url
        dispose_engines()
        return
    if backend != "postgresql":
        raise pytest.UsageError(f"unknown backend {backend!r} in DCOPS_TEST_DATABASES")
    name = f"dcops_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - environment problem
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is needed for the postgresql backend: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    _use_database(url)
    yield url
    dispose_engines()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(url: str) -> None:
    import dcops.models  # noqa: F401
    from dcops.database import get_engine

    engine = get_engine(url)
    tables = [t.name for t in SQLModel.metadata.sorted_tables]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            conn.execute(text("PRAGMA defer_foreign_keys = ON"))  # self-references (agency.parent_id)
            for table in reversed(tables):
                conn.execute(text(f'DELETE FROM "{table}"'))


@pytest.fixture
def db(database_url: str) -> Iterator[str]:
    """Give the test an empty database (all tables emptied first); yields its URL."""
    _use_database(database_url)
    _truncate(database_url)
    yield database_url


@pytest.fixture
def backend(db: str) -> str:
    """Name the backend under test: 'sqlite' or 'postgresql'."""
    return "postgresql" if db.startswith("postgresql") else "sqlite"


@pytest.fixture
def session(db: str) -> Iterator[Session]:
    """A session on the test database."""
    from dcops.database import get_engine

    with Session(get_engine(), expire_on_commit=False) as s:
        yield s


@pytest.fixture
def app(db: str) -> Any:
    from dcops.main import create_app

    return create_app()


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    """An HTTP client on the app (no token: add ``headers=`` from ``tokens``)."""
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@dataclass
class Tokens:
    """Create users of any role on demand and hand out their Authorization headers."""

    session: Session

    def user(self, role: str, agency_id: int | None = None, username: str | None = None) -> tuple[Any, str]:
        from dcops.auth.actor import SYSTEM
        from dcops.auth.service import create_user, issue_token

        name = username or f"{role}-{secrets.token_hex(3)}"
        user = create_user(self.session, actor=SYSTEM,
                           data={"username": name, "role": role, "agency_id": agency_id})
        token, _ = issue_token(self.session, actor=SYSTEM, user_id=user.id)
        return user, token

    def headers(self, role: str, agency_id: int | None = None) -> dict[str, str]:
        _, token = self.user(role, agency_id)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tokens(session: Session) -> Tokens:
    return Tokens(session)


@pytest.fixture
def admin(tokens: Tokens) -> dict[str, str]:
    """Authorization headers of an admin."""
    return tokens.headers("admin")


class Factory:
    """Build valid inventory objects through the services, with sensible defaults."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def _create(self, resource: Any, data: dict[str, Any], **options: Any) -> Any:
        from dcops.auth.actor import SYSTEM

        obj, _ = resource.create(self.session, actor=SYSTEM, data=data, options=options)
        return obj

    def site(self, **kw: Any) -> Any:
        from dcops.dcim.service import sites

        return self._create(sites, {"name": f"Site {self._next()}"} | kw)

    def rack(self, site: Any = None, **kw: Any) -> Any:
        from dcops.dcim.service import racks

        site = site or self.site()
        return self._create(racks, {"name": f"R{self._next():02d}", "site_id": site.id, "u_height": 42,
                                    "power_budget_w": 10000} | kw)

    def manufacturer(self, **kw: Any) -> Any:
        from dcops.dcim.service import manufacturers

        return self._create(manufacturers, {"name": f"Vendor {self._next()}"} | kw)

    def device_type(self, **kw: Any) -> Any:
        from dcops.dcim.service import device_types

        n = self._next()
        mfr = kw.pop("manufacturer", None) or self.manufacturer()
        return self._create(device_types, {"manufacturer_id": mfr.id, "model": f"Model {n}", "slug": f"model-{n}",
                                           "u_height": 1, "max_power_w": 500, "cpu_sockets": 2, "cpu_cores": 32,
                                           "cpu_threads": 64, "ram_gib": 512, "storage_tb": 8,
                                           "price_idr": 350_000_000} | kw)

    def cluster(self, **kw: Any) -> Any:
        from dcops.dcim.service import clusters

        return self._create(clusters, {"name": f"cluster-{self._next()}"} | kw)

    def device(self, rack: Any = None, dtype: Any = None, **kw: Any) -> Any:
        from dcops.dcim.service import devices

        dtype = dtype or self.device_type()
        data: dict[str, Any] = {"name": f"dev-{self._next()}", "device_type_id": dtype.id, "role": "other"}
        if rack is not None:
            data |= {"site_id": rack.site_id, "rack_id": rack.id, "face": "front"}
        else:
            data["site_id"] = kw.pop("site", None).id if "site" in kw else self.site().id
        return self._create(devices, data | kw)

    def agency(self, **kw: Any) -> Any:
        from dcops.tenancy.service import agencies

        n = self._next()
        return self._create(agencies, {"code": f"AG{n}", "name": f"Agency {n}", "kind": "dinas"} | kw)

    def prefix(self, **kw: Any) -> Any:
        from dcops.ipam.service import prefixes

        n = self._next()
        return self._create(prefixes, {"cidr": f"10.{n // 256}.{n % 256}.0/24"} | kw)

    def vm(self, agency: Any, cluster: Any, **kw: Any) -> Any:
        from dcops.virtualization.service import virtual_machines

        return self._create(virtual_machines, {"name": f"vm-{self._next()}", "agency_id": agency.id,
                                               "cluster_id": cluster.id, "vcpus": 2, "ram_gib": 4,
                                               "disk_gib": 40} | kw)


@pytest.fixture
def factory(session: Session) -> Factory:
    return Factory(session)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run tests marked ``postgresql_only`` on the PostgreSQL backend alone (deselected, not skipped, elsewhere)."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("database_url") if callspec else None
        if item.get_closest_marker("postgresql_only") and backend not in (None, "postgresql"):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    # the longest modules start first, so that on two workers none of them is left running alone at the end
    # (a stable sort: the order within each group stays as collected, the same on every xdist worker)
    items.sort(key=_start_rank)


#: module path prefixes of the longest tests (a real browser, the corpus, a cluster, schemathesis), longest first
LONG_FIRST = ("tests/monitoring/test_corpus.py", "tests/security/test_schemathesis.py",
              "tests/web/test_console_walk.py", "tests/engine/", "tests/consolidation/test_browser.py",
              "tests/web/", "tests/provisioning/")


def _start_rank(item: pytest.Item) -> int:
    path = item.nodeid
    return next((rank for rank, prefix in enumerate(LONG_FIRST) if path.startswith(prefix)), len(LONG_FIRST))
