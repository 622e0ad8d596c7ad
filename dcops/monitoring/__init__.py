"""Monitoring: SNMP polling, metrics state and history, alerts, traps, notifications, Prometheus export."""
