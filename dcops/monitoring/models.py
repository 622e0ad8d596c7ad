"""Monitoring tables: metric state and history (``state_models``), alerts and silences (``alert_models``)."""

from dcops.monitoring.alert_models import *  # noqa: F403
from dcops.monitoring.outbox_models import *  # noqa: F403
from dcops.monitoring.sensor_models import *  # noqa: F403
from dcops.monitoring.state_models import *  # noqa: F403
