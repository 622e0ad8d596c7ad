"""Agencies (OPD/SKPD), the tenants of the data center, and their quotas."""
