"""The campaign pre-flight's split under the messaging limit
(spoki_whatsapp.tools.campaign_estimate)."""

from datetime import datetime, timedelta

from spoki_whatsapp.tools.campaign_estimate import DAY, split_under_limit

NOW = datetime(2026, 3, 2, 9, 0, 0)


def test_unlimited_sends_everything_now():
    split = split_under_limit(5000, 0, None, NOW)
    assert (split.now, split.rest, split.rest_from, split.days) == (5000, 0, None, 1)


def test_everything_fits():
    split = split_under_limit(80, 250, 100, NOW, NOW + timedelta(hours=3))
    assert (split.now, split.rest, split.rest_from, split.last_from, split.days) == (80, 0, None, NOW, 1)


def test_rest_goes_when_the_oldest_number_leaves_the_window():
    free_at = NOW + timedelta(hours=5)
    split = split_under_limit(250, 100, 30, NOW, free_at)
    assert (split.now, split.rest) == (30, 220)
    assert split.rest_from == free_at
    # day 1: the limit (30 now, 70 as counted numbers free up), day 2: 100, day 3: 50
    assert split.days == 3
    assert split.last_from == NOW + 2 * DAY


def test_nothing_counted_yet_the_rest_waits_a_day():
    split = split_under_limit(150, 100, 100, NOW, None)
    assert (split.now, split.rest, split.rest_from, split.last_from, split.days) == (100, 50, NOW + DAY, NOW + DAY, 2)


def test_numbers_already_counted_are_free():
    split = split_under_limit(120, 100, 0, NOW, NOW + timedelta(hours=1), free=20)
    assert (split.now, split.rest) == (20, 100)
    assert split.rest_from == NOW + timedelta(hours=1)
    assert split.days == 1


def test_limit_reached_and_free_at_in_the_past_means_now_plus_a_day():
    split = split_under_limit(10, 100, 0, NOW, NOW - timedelta(minutes=1))
    assert (split.now, split.rest, split.rest_from) == (0, 10, NOW + DAY)
