"""Counter rates: the specification of dcops.monitoring.rates, written before it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dcops.monitoring.rates import Reading, counter_rate, counter_rates, uptime_went_back


def test_first_reading_has_no_rate():
    assert counter_rate(None, Reading(1000, 64, 10.0)) is None


def test_plain_delta_over_elapsed_time():
    assert counter_rate(Reading(1000, 64, 0.0), Reading(7000, 64, 60.0)) == pytest.approx(100.0)


def test_unchanged_counter_is_a_zero_rate():
    assert counter_rate(Reading(5, 32, 0.0), Reading(5, 32, 30.0)) == 0.0


@pytest.mark.parametrize("at", [0.0, -5.0])
def test_zero_or_negative_elapsed_time_has_no_rate(at):
    assert counter_rate(Reading(1000, 64, 0.0), Reading(2000, 64, at)) is None


def test_32_bit_counter_wraps_once():
    before = Reading(2**32 - 1000, 32, 0.0)
    after = Reading(4000, 32, 10.0)
    assert counter_rate(before, after) == pytest.approx(500.0)


def test_64_bit_counter_going_down_is_a_reset_not_a_wrap():
    assert counter_rate(Reading(2**64 - 1000, 64, 0.0), Reading(4000, 64, 10.0)) is None
    assert counter_rate(Reading(10**12, 64, 0.0), Reading(10, 64, 10.0)) is None


def test_reboot_gives_no_rate_instead_of_a_spike():
    assert counter_rate(Reading(10**9, 32, 0.0), Reading(100, 32, 60.0), rebooted=True) is None
    assert counter_rate(Reading(100, 32, 0.0), Reading(500, 32, 60.0), rebooted=True) is None


def test_32_bit_wrap_beyond_the_possible_rate_is_a_reset():
    # a 1 Gb/s link moves at most 125e6 octets/s: a 'wrap' implying 400e6/s is a counter reset
    before = Reading(3_000_000_000, 32, 0.0)
    after = Reading(5, 32, 3.0)
    assert counter_rate(before, after, max_rate=125e6) is None
    assert counter_rate(before, after) == pytest.approx((2**32 - 3_000_000_000 + 5) / 3)


def test_width_change_is_a_discontinuity():
    assert counter_rate(Reading(1000, 32, 0.0), Reading(2000, 64, 10.0)) is None


def test_uptime_going_back_is_a_reboot():
    assert uptime_went_back(500_000, 1_000, 60.0)
    assert not uptime_went_back(500_000, 506_000, 60.0)
    assert not uptime_went_back(None, 10, 60.0)


def test_uptime_wrapping_after_497_days_is_not_a_reboot():
    assert not uptime_went_back(2**32 - 3_000, 3_000, 60.0)
    assert uptime_went_back(2**32 - 3_000, 3_000_000, 60.0)


def test_counter_rates_keeps_only_counters_with_two_readings():
    prev = {"a": (100, 64, 0.0), "gone": (5, 32, 0.0)}
    cur = {"a": (1100, 64, 10.0), "new": (7, 32, 10.0)}
    assert counter_rates(prev, cur) == {"a": pytest.approx(100.0)}
    assert counter_rates(prev, cur, rebooted=True) == {}


@given(start=st.integers(0, 2**32 - 1), step=st.integers(0, 2**32 - 1), dt=st.floats(0.5, 600))
def test_any_single_32_bit_advance_is_recovered_exactly(start, step, dt):
    after = (start + step) % 2**32
    rate = counter_rate(Reading(start, 32, 0.0), Reading(after, 32, dt))
    assert rate == pytest.approx(step / dt)


@given(start=st.integers(0, 2**63), step=st.integers(0, 2**63), dt=st.floats(0.5, 600))
def test_any_64_bit_advance_is_recovered(start, step, dt):
    rate = counter_rate(Reading(start, 64, 0.0), Reading(start + step, 64, dt))
    assert rate == pytest.approx(step / dt)
