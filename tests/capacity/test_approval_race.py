"""A hundred admins approve at once, racing for the last free capacity: no host is ever overcommitted."""

from __future__ import annotations

import random
import threading
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select

from dcops.capacity.hosts import LIVE_STATES, load_hosts
from dcops.virtualization.models import VirtualMachine
from tests.server import running_server

pytestmark = pytest.mark.postgresql_only  # where concurrent transactions really interleave

APPROVALS = 100


@pytest.fixture(autouse=True)
def _no_auto_provision(monkeypatch: pytest.MonkeyPatch) -> None:
    from dcops.config import get_settings

    monkeypatch.setenv("DCOPS_AUTO_PROVISION", "false")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _approve_all(base: str, headers: dict[str, str], ids: list[int]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(ids))
    results: list[httpx.Response | BaseException | None] = [None] * len(ids)

    def approve(i: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
            barrier.wait()
            try:
                results[i] = c.post(f"/api/v1/capacity/requests/{ids[i]}/approve")
            except BaseException as exc:  # kept, so that a lost answer fails the test instead of vanishing
                results[i] = exc

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(len(ids))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lost = [(ids[i], r) for i, r in enumerate(results) if not isinstance(r, httpx.Response)]
    assert not lost, f"{len(lost)} of {len(ids)} approvals got no answer: {lost[:3]}"
    return [r for r in results if isinstance(r, httpx.Response)]


@pytest.fixture(params=["pool", "tiny-pool"])
def pool(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The server's connection pool: as configured, or 2 connections for the API's 8 threads.

    With fewer connections than threads, a request that held its connection while it queued for a thread
    (FastAPI validating a sync endpoint's answer in a second trip to the pool) would leave the threads
    waiting on the pool for good; the tiny pool makes that happen at once.
    """
    if request.param == "pool":
        yield request.param
        return
    from dcops.config import get_settings
    from dcops.database import _engines

    monkeypatch.setenv("DCOPS_DB_POOL_SIZE", "2")
    monkeypatch.setenv("DCOPS_DB_MAX_OVERFLOW", "0")
    get_settings.cache_clear()
    url = get_settings().database_url
    configured = _engines.pop(url)  # the server builds its own engine, with the tiny pool
    yield request.param
    _engines.pop(url).dispose()
    _engines[url] = configured
    get_settings.cache_clear()


def test_hundred_concurrent_approvals_never_overcommit(app, tokens, factory, session, pool):
    from dcops.auth.actor import SYSTEM
    from dcops.capacity import service
    from dcops.capacity.models import CapacityRequestCreate

    rack = factory.rack()
    dtype = factory.device_type(cpu_cores=8, cpu_threads=16, ram_gib=128, storage_tb=2)  # 64 vCPU at 4:1 per host
    cluster = factory.cluster(ha_reserve_hosts=0)
    for i in range(3):
        factory.device(rack=rack, dtype=dtype, role="hypervisor", cluster_id=cluster.id, position=1 + 2 * i)
    agencies = [factory.agency() for _ in range(10)]
    rng = random.Random(7)
    ids = []
    for i in range(APPROVALS):  # each fits alone; together they ask for about four times what there is
        spec = {"name_prefix": f"r{i}", "count": rng.choice([1, 1, 2]), "vcpus": rng.choice([4, 8, 16]),
                "ram_gib": rng.choice([8, 16, 32]), "disk_gib": 50}
        data = CapacityRequestCreate.model_validate(
            {"agency_id": agencies[i % 10].id, "justification": f"race {i}", "items": [spec]})
        request, _ = service.file_request(session, actor=SYSTEM, data=data)
        ids.append(request.id)
    session.commit()

    admin = tokens.headers("admin")
    with running_server(app) as base:
        responses = _approve_all(base, admin, ids)
    assert len(responses) == APPROVALS, "every approval came back with an answer"

    codes = Counter(r.status_code for r in responses)
    assert set(codes) <= {200, 409}, [r.text for r in responses if r.status_code not in (200, 409)][:3]
    assert codes[200] >= 1 and codes[409] >= 1, codes
    for r in responses:
        if r.status_code == 409:
            detail = r.json()["detail"]
            assert "cannot be approved now" in detail and any(w in detail for w in ("vCPU", "RAM", "disk")), detail

    session.rollback()
    for view in load_hosts(session):
        cap = view.capacity
        assert cap.used_vcpus <= cap.vcpus and cap.used_ram_gib <= cap.ram_gib and cap.used_disk_gib <= cap.disk_gib
    approved = {r.json()["id"] for r in responses if r.status_code == 200}
    refused = {int(r.request.url.path.split("/")[-2]) for r in responses if r.status_code == 409}
    # every request was answered exactly once: approved or refused, never both, none missing
    assert codes[200] + codes[409] == APPROVALS and not approved & refused and approved | refused == set(ids)
    vms = session.execute(select(func.count()).select_from(VirtualMachine)
                          .where(VirtualMachine.state.in_(LIVE_STATES))).scalar_one()
    expected = sum(len(r.json()["vms"]) for r in responses if r.status_code == 200)
    assert vms == expected and len(approved) == codes[200]
    # nothing refused would still fit: the refusals were real, not lost races
    free = [(v.capacity.vcpus - v.capacity.used_vcpus, v.capacity.ram_gib - v.capacity.used_ram_gib)
            for v in load_hosts(session)]
    session.rollback()
    for r in responses:
        if r.status_code != 409:
            continue
        request = service.get(session, actor=SYSTEM, id=int(r.request.url.path.split("/")[-2]))
        assert request.status == "requested"
        (item,) = service.request_items(session, request.id)
        if item.count == 1:  # a single VM refused must truly have no host left with room for it
            assert not any(f[0] >= item.vcpus and f[1] >= item.ram_gib for f in free), (item, free)
    for id_ in approved:
        assert service.get(session, actor=SYSTEM, id=id_).status == "approved"  # reserved, not launched
    session.rollback()
