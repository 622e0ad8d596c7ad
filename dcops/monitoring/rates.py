"""Counter deltas to per-second rates: 32- and 64-bit wrap, reboots and discontinuities (pure).

A rate needs two readings of the same counter. There is none when:

- this is the first reading (nothing to compare with);
- no time passed, or the clock went back;
- the device rebooted between the readings (sysUpTime went back): counters restarted from zero,
  so ``new - old`` is meaningless and a wrap correction would invent a huge spike;
- the counter width changed (a 64-bit HC counter fell back to its 32-bit twin, or the reverse);
- a counter went down without a reboot: a 32-bit counter is taken to have wrapped once, unless the
  rate that implies is beyond ``max_rate`` (then it was a reset); a 64-bit counter does not wrap in
  practice (2**64 octets at 400 Gb/s is ~11 years), so going down means a reset.
"""

from __future__ import annotations

from dataclasses import dataclass

WRAP = {32: 2**32, 64: 2**64}
#: sysUpTime is a 32-bit count of hundredths of a second: it wraps after ~497 days.
UPTIME_WRAP_TICKS = 2**32


@dataclass(frozen=True)
class Reading:
    """One counter value, its width in bits, and when it was read (seconds, any monotonic origin)."""

    value: int
    bits: int
    at: float


def uptime_went_back(previous_ticks: int | None, current_ticks: int | None, elapsed_s: float) -> bool:
    """Tell whether sysUpTime (hundredths of a second) shows a restart between two polls."""
    if previous_ticks is None or current_ticks is None:
        return False
    if current_ticks >= previous_ticks:
        return False
    # A wrap of sysUpTime itself: the old value sat just below 2**32 and the new one is small.
    slack = elapsed_s * 100 * 1.5 + 100
    wrapped = previous_ticks + slack >= UPTIME_WRAP_TICKS and current_ticks <= slack
    return not wrapped


def counter_rate(
    previous: Reading | None,
    current: Reading,
    *,
    rebooted: bool = False,
    max_rate: float | None = None,
) -> float | None:
    """Return the per-second rate between two readings of one counter, or None when there is none."""
    if previous is None or rebooted:
        return None
    elapsed = current.at - previous.at
    if elapsed <= 0:
        return None
    if previous.bits != current.bits or current.bits not in WRAP:
        return None
    delta = current.value - previous.value
    if delta < 0:
        if current.bits == 64:
            return None
        delta += WRAP[32]
        if delta < 0:  # a value outside the counter's range: not a counter we can trust
            return None
        rate = delta / elapsed
        if max_rate is not None and rate > max_rate:
            return None
        return rate
    rate = delta / elapsed
    if max_rate is not None and rate > max_rate * 1.05:  # a little slack: polls are not taken exactly apart
        return None
    return rate


def counter_rates(
    previous: dict[str, tuple[int, int, float]],
    current: dict[str, tuple[int, int, float]],
    *,
    rebooted: bool = False,
    max_rates: dict[str, float] | None = None,
) -> dict[str, float]:
    """Return the rate of every counter present in both mappings (key -> (value, bits, at))."""
    out: dict[str, float] = {}
    limits = max_rates or {}
    for key, (value, bits, at) in current.items():
        before = previous.get(key)
        prev = Reading(*before) if before is not None else None
        rate = counter_rate(prev, Reading(value, bits, at), rebooted=rebooted, max_rate=limits.get(key))
        if rate is not None:
            out[key] = rate
    return out
