"""Capacity: requests, placement, headroom, rebalance, forecast and the budget plan."""
