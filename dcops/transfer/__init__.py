"""Bulk import and export of the source of truth (CSV and YAML), and NetBox device-type import."""
