"""tools/status_policy.py: when the status sync asks the provider again."""

from datetime import datetime, timedelta

import pytest

from spoki_whatsapp.tools.status_policy import (
    DELIVERED_POLL_WINDOW,
    MAX_INTERVAL,
    MIN_INTERVAL,
    next_status_check,
)

SENT = datetime(2026, 1, 1, 10, 0, 0)


@pytest.mark.parametrize(
    "age, interval",
    [
        (timedelta(seconds=3), MIN_INTERVAL),  # young: the floor
        (timedelta(minutes=1), timedelta(seconds=30)),
        (timedelta(hours=1), timedelta(minutes=30)),  # half its age
        (timedelta(hours=12), MAX_INTERVAL),
        (timedelta(days=5), MAX_INTERVAL),  # the ceiling
    ],
)
def test_backoff_is_half_the_age_within_bounds(age, interval):
    assert next_status_check("sent", SENT, SENT + age) == SENT + age + interval


def test_delivered_polled_for_a_day_only():
    just_before = SENT + DELIVERED_POLL_WINDOW - timedelta(seconds=1)
    assert next_status_check("delivered", SENT, just_before) is not None
    assert next_status_check("delivered", SENT, SENT + DELIVERED_POLL_WINDOW) is None
    assert next_status_check("sent", SENT, SENT + DELIVERED_POLL_WINDOW) is not None  # not delivered: still polled


@pytest.mark.parametrize("state", ["read", "failed", "queued", "sending", "received"])
def test_other_states_are_not_polled(state):
    assert next_status_check(state, SENT, SENT + timedelta(minutes=5)) is None


def test_clock_skew_and_missing_sent_date():
    assert next_status_check("sent", SENT, SENT - timedelta(seconds=5)) == SENT - timedelta(seconds=5) + MIN_INTERVAL
    assert next_status_check("sent", None, SENT) == SENT + MIN_INTERVAL
