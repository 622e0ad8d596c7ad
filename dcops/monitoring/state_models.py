"""Latest metric values, bounded history and reachability per device (owned by the poller work)."""
