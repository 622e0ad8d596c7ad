"""``dcops demo``: a realistic provincial data center to try dcops on."""
