"""Alerts, their events, silences and notification channels (owned by the alerting work)."""
