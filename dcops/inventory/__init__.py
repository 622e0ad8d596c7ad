"""Read-only CLI views of the source of truth (``dcops device list``, ``dcops agency show DINKES``, ...)."""
