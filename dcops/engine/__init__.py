"""The background engine: Celery on RabbitMQ when ``DCOPS_BROKER_URL`` is set, else the same work in-process.

- :mod:`dispatch` hands a unit of work (a task name and ids) to the broker, or runs it here;
- :mod:`app` builds the Celery application and its queues (``poll``, ``jobs``, ``notify``);
- :mod:`hooks` is where the features above plug in their task bodies (plain functions the embedded mode calls
  directly), their periodic work and their scheduling rounds: the engine imports no feature;
- :mod:`scheduler` is ``dcops scheduler``: one leader (a PostgreSQL advisory lock) runs the features' rounds
  (monitoring's sends poll slices fairly) and sends the periodic work (lease reaper, outbox drain,
  downsampling, partitions, reconcile, job dispatch);
- :mod:`identity` names this process as a worker (leases and claims record it).
"""
