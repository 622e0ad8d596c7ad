"""Data-center infrastructure: sites, rooms, racks, device types, devices, clusters, credentials."""
