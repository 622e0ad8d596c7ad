"""IP space: prefixes and IP address allocations."""
