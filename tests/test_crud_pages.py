"""List pages read as column values (``get_all_values``) hold exactly what the ORM reads, in the same order.

On SQLite a page is read as one JSON row and turned back into Python values; this checks that path (and the plain
one elsewhere) against ``get_all``'s objects for every resource the demo fills, every ordering both ways, an
offset, a search and an agency-scoped reader.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from dcops.auth.actor import SYSTEM
from dcops.crud import ListQuery, Resource
from dcops.dcim.resources import devices, racks, sites
from dcops.demo.build import build_demo
from dcops.ipam.service import ip_addresses, prefixes
from dcops.monitoring.alerting import alerts
from dcops.pages import _as_json
from dcops.provisioning.service import jobs
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
        if backend == "sqlite":  # and the one-row JSON page is what SQLite used
            selected = list(resource.table.c)
            assert _as_json(selected, session.get_bind().dialect) is not None


@pytest.mark.parametrize("stored", ["2026-12-07 18:34:48.524879", "2026-12-07 18:34:48.000000", "2026-12-07 18:34:48",
                                    "2026-12-07 18:34:48.5"])
def test_a_stored_timestamp_reads_back_as_the_column_type_reads_it(stored: str) -> None:
    from sqlalchemy.dialects import sqlite

    from dcops.pages import _reader

    dialect = sqlite.dialect()
    column = devices.table.c.created_at
    typed = column.type.dialect_impl(dialect).result_processor(dialect, None)
    fast = _reader(column, dialect)
    assert fast is not typed and fast is not None
    assert fast(stored) == typed(stored) and fast(stored).tzinfo == typed(stored).tzinfo
