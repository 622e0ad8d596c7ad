"""The Celery application: queues ``<prefix>.poll``, ``<prefix>.jobs`` and ``<prefix>.notify`` on RabbitMQ.

Acknowledgement, against RabbitMQ's ``consumer_timeout`` (30 min by default, shorter than a provisioning job's
timeout of up to hours):

- poll slices and notifications are acknowledged late (``acks_late``, ``reject_on_worker_lost``): a worker killed
  mid-poll has its slice delivered again, and the slice skips what it already recorded. They last seconds, far
  under ``consumer_timeout``;
- provisioning jobs are acknowledged early, when the worker takes the message, and rely on the database lease
  (:mod:`dcops.provisioning.jobs`): the broker never times a long job out, and a killed worker's job is reaped
  when its lease expires. A job whose message was lost stays ``queued`` and the scheduler sends it again.

Results are not kept (``task_ignore_result``): every task records its outcome in the database.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from celery import Celery
from kombu import Queue

from dcops.config import get_settings
from dcops.engine.dispatch import QUEUES, queue_name
from dcops.engine.hooks import TASKS


@lru_cache(maxsize=2)
def _build(broker_url: str, prefix: str) -> Celery:
    app = Celery("dcops", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_queues=[Queue(queue_name(q), durable=True) for q in QUEUES],
        task_default_queue=queue_name("poll"),
        task_ignore_result=True,
        task_serializer="json", accept_content=["json"],
        worker_prefetch_multiplier=1,  # a busy worker does not hoard slices another could poll
        task_reject_on_worker_lost=True,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        broker_heartbeat=30,
    )
    for task in TASKS.all():  # each feature's bodies (dcops.engine.hooks), registered in its provides.py
        app.task(name=task.name, acks_late=task.acks_late, bind=False)(task.body)
    return app


def get_app() -> Celery:
    """Return the Celery application for the configured broker."""
    settings = get_settings()
    return _build(settings.broker_url, settings.queue_prefix)


def run_worker(queues: list[str], concurrency: int, *, hostname: str | None = None) -> Any:
    """Run a Celery worker on ``queues`` in this process until it is stopped (``dcops worker``).

    The features' start-up work (:data:`dcops.engine.hooks.WORKER_START`: profiles, rules, a database connection)
    runs first, before the worker consumes: a worker that says ``ready`` has paid its start-up, and its first
    task is as cheap as the next one.
    """
    import logging
    import os
    import socket

    from dcops.engine.hooks import WORKER_START

    host = hostname or os.environ.get("DCOPS_WORKER_HOST") or socket.gethostname()
    argv = ["worker", "--queues", ",".join(queue_name(q) for q in queues), "--concurrency", str(concurrency),
            "--pool", "threads", "--hostname", f"dcops-{os.getpid()}@{host}", "--loglevel", "INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat"]
    for start in WORKER_START.all():
        try:
            start(list(queues))
        except Exception:  # a task pays it later instead (and says why); the worker still starts
            logging.getLogger("dcops.engine").exception("worker start-up step %r failed", start)
    return get_app().worker_main(argv)
