"""The background engine: Celery on RabbitMQ when ``DCOPS_BROKER_URL`` is set, else the same work in-process.

- :mod:`dispatch` hands a unit of work (a task name and ids) to the broker, or runs it here;
- :mod:`app` builds the Celery application and its queues (``poll``, ``jobs``, ``notify``);
- :mod:`tasks` holds the task bodies: plain functions the embedded mode calls directly;
- :mod:`polling` polls one slice of devices (the poll queue's unit of work);
- :mod:`scheduler` is ``dcops scheduler``: one leader (a PostgreSQL advisory lock) enqueues poll slices fairly
  and the periodic work (lease reaper, outbox drain, downsampling, partitions, reconcile, job dispatch).
"""
