"""Consolidation's answers to the hooks of the features below it (loaded by :func:`dcops.features.load_providers`)."""

from __future__ import annotations

from dcops.capacity.hooks import PLANNED_ARRIVALS
from dcops.consolidation.plan_demand import arrivals

PLANNED_ARRIVALS.register(arrivals)
