"""Tenant virtual machines."""
