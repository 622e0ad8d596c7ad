"""The engine runs only the work the features above it register (dcops.engine.hooks), and all of it."""

from __future__ import annotations

import pytest

from dcops.engine.hooks import PERIODIC, SCHEDULE, TASKS, periodic_named, run_periodic, task_named


def test_every_task_the_engine_sends_has_a_body():
    names = {task.name for task in TASKS.all()}
    # sent by name: the scheduler (poll slices, periodic work), notify (outbox rows), dispatch_jobs (jobs)
    assert names == {"dcops.periodic", "dcops.poll_slice", "dcops.deliver_outbox", "dcops.run_job"}
    assert not task_named("dcops.run_job").acks_late  # a job outlasts the broker's consumer timeout
    assert task_named("dcops.poll_slice").acks_late


def test_the_periodic_work_is_registered_once_each_on_its_queue():
    work = {w.name: w.queue for w in PERIODIC.all()}
    assert work == {"reap_leases": "jobs", "dispatch_jobs": "jobs", "drain_outbox": "notify",
                    "check_stale_polls": "poll", "compact_history": "poll", "reconcile": "jobs",
                    "snmp_audit": "poll"}
    assert len(PERIODIC.all()) == len(work)
    assert len(SCHEDULE.all()) == 1  # monitoring's poll slices


def test_a_period_follows_its_environment_override(monkeypatch):
    assert periodic_named("drain_outbox").period() == 10.0
    monkeypatch.setenv("DCOPS_EVERY_DRAIN_OUTBOX", "2.5")
    assert periodic_named("drain_outbox").period() == 2.5


def test_an_unknown_name_is_an_error_not_a_silent_skip():
    with pytest.raises(KeyError, match="no feature provides"):
        task_named("dcops.nothing")
    with pytest.raises(KeyError, match="no feature provides"):
        run_periodic("nothing")


def test_a_worker_does_its_start_up_before_it_consumes(monkeypatch):
    import dcops.engine.app as engine_app
    from dcops.engine.hooks import WORKER_START

    calls: list[object] = []

    class FakeApp:
        def worker_main(self, argv):
            calls.append(("consume", argv[argv.index("--queues") + 1]))

    def failing(queues):
        calls.append(("failing", list(queues)))
        raise RuntimeError("start-up step broken")

    monkeypatch.setattr(engine_app, "get_app", lambda: FakeApp())
    monkeypatch.setattr(WORKER_START, "_implementations",
                        [lambda queues: calls.append(("start", list(queues))), failing])
    engine_app.run_worker(["poll", "notify"], 1, hostname="h")
    # every start-up step ran with the worker's queues, before it consumed; a failing one did not stop the worker
    assert calls[:2] == [("start", ["poll", "notify"]), ("failing", ["poll", "notify"])]
    assert calls[2][0] == "consume" and calls[2][1].endswith(".notify")


def test_a_poll_worker_loads_its_profiles_at_start_up_and_another_does_not(monkeypatch):
    from dcops.engine.hooks import WORKER_START
    from dcops.monitoring import slices

    assert slices.warm_up in WORKER_START.all()
    loaded: list[str] = []
    monkeypatch.setattr(slices.prof, "load_profiles", lambda: loaded.append("profiles"))
    slices.warm_up(["jobs", "notify"])
    assert loaded == []
    slices.warm_up(["poll"])
    assert loaded == ["profiles"]
