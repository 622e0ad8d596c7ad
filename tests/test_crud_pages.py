"""List pages: read as column values (``get_all_values``) they hold exactly what the ORM reads, in the same
order; written as JSON by the database (``get_all_json``) they answer byte for byte what the value pages answer.

Checked for every resource the demo fills (every list endpoint for the written pages), every ordering both ways,
an offset, a search, a page past the end and an agency-scoped reader.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Float, select, text
from sqlmodel import Session, SQLModel

from dcops.actor import Actor, Role
from dcops.auth.actor import SYSTEM
from dcops.crud import ListQuery, Resource
from dcops.dcim.resources import devices, racks, sites
from dcops.demo.build import build_demo
from dcops.ipam.service import ip_addresses, prefixes
from dcops.monitoring.alerting import alerts
from dcops.provisioning.service import jobs
from dcops.tenancy.models import Agency
from dcops.tenancy.service import agencies
from dcops.virtualization.service import virtual_machines

RESOURCES = [devices, racks, sites, agencies, virtual_machines, prefixes, ip_addresses, alerts, jobs]


Rows = list[dict[str, Any]]


def _pages(session: Session, resource: Resource[Any], query: ListQuery) -> tuple[Rows, Rows]:
    names = [c.name for c in resource.table.c]
    values, count = resource.get_all_values(session, actor=SYSTEM, query=query, names=names)
    objects, count_orm = resource.get_all(session, actor=SYSTEM, query=query)
    assert count == count_orm
    return values, [{n: getattr(obj, n) for n in names} for obj in objects]


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.plural)
def test_value_pages_match_the_orm(session: Session, backend: str, resource: Resource[Any]) -> None:
    build_demo(session)
    session.commit()
    seen = 0
    for key in resource.orderings:
        for ordering in (key, f"-{key}"):
            for offset in (0, 3):
                values, objects = _pages(session, resource, ListQuery(limit=7, offset=offset, ordering=ordering))
                assert values == objects, (ordering, offset)
                seen += len(values)
    if resource.search:
        values, objects = _pages(session, resource, ListQuery(limit=100, q="a"))
        assert values == objects
    if resource is devices:
        assert seen  # the demo has devices: the comparison compared something


def _lists() -> list[Any]:
    from dcops.main import create_app
    from dcops.routing import LIST_PAGES

    create_app()  # builds every router, hence every list page
    return sorted(LIST_PAGES.values(), key=lambda page: page.resource.table.name)


@pytest.mark.parametrize("lister", _lists(), ids=lambda page: page.resource.plural)
def test_pages_the_database_writes_match_the_value_pages(session: Session, backend: str, lister: Any) -> None:
    """Every list endpoint's page, written as JSON by the database, is byte for byte the page read as values."""
    build_demo(session)
    session.commit()
    resource = lister.resource
    agency_id = session.execute(select(Agency.id).order_by(Agency.id)).scalars().first()
    actors = [SYSTEM, Actor(user_id=None, username="viewer", role=Role.AGENCY_VIEWER, agency_id=agency_id)]
    queries = [ListQuery(limit=7, offset=offset, ordering=f"{sign}{key}")
               for key in resource.orderings for sign in ("", "-") for offset in (0, 3)]
    queries += [ListQuery(limit=100, q="a"), ListQuery(limit=1000), ListQuery(limit=5, offset=10_000)]
    for actor in actors:
        for query in queries:
            written = lister.render(session, actor, query)
            assert written == lister.render(session, actor, query, written=False), (actor.role, query)
    if lister.columns is None:
        return
    page = resource.get_all_json(session, actor=SYSTEM, query=ListQuery(limit=1000), names=lister.columns)
    session.rollback()
    if resource in (devices, racks, sites, agencies, virtual_machines, prefixes, ip_addresses, alerts, jobs):
        assert page is not None  # the database wrote these pages ...
    if page is not None:
        lister.fast.validate_json(page[0])  # ... and they were shown as written, not read again as values
        assert page[1] == len(json.loads(page[0])) == lister.render(session, SYSTEM, ListQuery(limit=1000))[1]


def test_a_page_of_floats_is_written_by_postgresql_only(session: Session, backend: str) -> None:
    """SQLite writes 15 significant digits of a float in JSON: such pages are read as values there."""
    from dcops.pages import row_object

    floats = [c for c in SQLModel.metadata.tables["device_type"].c if isinstance(c.type, Float)]
    assert floats
    written = row_object(floats, session.get_bind().dialect)
    assert (written is not None) == (backend == "postgresql")


def test_timestamps_are_written_in_utc_whatever_the_session_time_zone(session: Session, backend: str) -> None:
    build_demo(session)
    session.commit()
    if backend == "postgresql":  # the server spells a timestamptz in the session's zone unless told otherwise
        session.execute(text("SET LOCAL TIME ZONE 'Asia/Jakarta'"))
    page, count = devices.get_all_json(session, actor=SYSTEM, query=ListQuery(limit=1000),
                                       names=["id", "created_at"]) or ("", 0)
    written = {row["id"]: row["created_at"] for row in json.loads(page)}
    stored = {d.id: d.created_at for d in devices.get_all(session, actor=SYSTEM, query=ListQuery(limit=1000))[0]}
    assert count == len(written) == len(stored) > 0
    for id_, value in written.items():
        assert value.endswith("Z")
        assert datetime.fromisoformat(value.replace(" ", "T")) == stored[id_].astimezone(UTC)
