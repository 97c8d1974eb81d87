"""The send queue's hardening rules in spoki_whatsapp/tools/send_policy.py:
unknown outcomes, account pauses (429, Retry-After, Meta throughput codes),
crashes and the grace period of unknown outcomes."""

from datetime import datetime, timedelta

import pytest

from spoki_whatsapp.tools.send_policy import (
    DEFAULT_PAUSE,
    MAX_PAUSE,
    UNKNOWN_OUTCOME_GRACE,
    outcome_of_crash,
    outcome_of_error,
    pair_retry_at,
    parse_retry_after,
    pause_until,
    reconciled_outcome,
    unknown_outcome_expired,
)

NOW = datetime(2026, 6, 1, 12, 0, 0)
POLICY = {"max_attempts": 3, "base_delay": 30}


# -- unknown outcomes ----------------------------------------------------------
@pytest.mark.parametrize("attempt", [1, 3, 9])
def test_unknown_outcome_is_never_retried_without_deduplication(attempt):
    outcome = outcome_of_error("timeout", True, "read timed out", attempt, NOW, **POLICY, outcome_unknown=True)
    assert (outcome.state, outcome.db_state, outcome.unknown_since) == ("unknown", "sending", NOW)
    assert (outcome.next_attempt_at, outcome.failed_at, outcome.settled) == (None, None, False)
    assert outcome.error_code == "timeout"


def test_unknown_outcome_retried_with_the_same_key_when_the_provider_deduplicates():
    outcome = outcome_of_error("timeout", True, "slow", 1, NOW, **POLICY, outcome_unknown=True, deduplicated=True)
    assert (outcome.state, outcome.next_attempt_at) == ("queued", NOW + timedelta(seconds=30))
    last = outcome_of_error("bad_response", True, "?", 3, NOW, **POLICY, outcome_unknown=True, deduplicated=True)
    assert (last.state, last.error_code) == ("failed", "max_attempts")


def test_unknown_outcome_wins_over_a_pause():
    outcome = outcome_of_error(
        "rate_limited", True, "", 1, NOW, **POLICY, outcome_unknown=True, paused_until=NOW + DEFAULT_PAUSE
    )
    assert outcome.state == "unknown"


def test_grace_period_of_unknown_outcomes():
    since = NOW - UNKNOWN_OUTCOME_GRACE
    assert unknown_outcome_expired(since + timedelta(seconds=1), NOW) is None
    assert unknown_outcome_expired(None, NOW) is None
    expired = unknown_outcome_expired(since, NOW)
    assert (expired.state, expired.error_code, expired.failed_at) == ("failed", "unknown_outcome", NOW)
    assert unknown_outcome_expired(NOW - timedelta(hours=2), NOW, grace=timedelta(hours=1)).state == "failed"


# -- pauses --------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, expected",
    [
        ("120", NOW + timedelta(seconds=120)),
        (" 1.5 ", NOW + timedelta(seconds=1.5)),
        ("0", NOW),
        ("-5", NOW),
        ("99999", NOW + MAX_PAUSE),
        ("Mon, 01 Jun 2026 12:05:00 GMT", NOW + timedelta(minutes=5)),
        ("Mon, 01 Jun 2026 14:05:00 +0200", NOW + timedelta(minutes=5)),
        ("Mon, 01 Jun 2026 11:00:00 GMT", NOW),  # in the past: at once
        ("Tue, 02 Jun 2026 12:00:00 GMT", NOW + MAX_PAUSE),
        ("", None),
        (None, None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, NOW) == expected


def test_rate_limits_pause_the_account_without_using_the_attempt():
    # HTTP 429 / Meta 4, 80007, 130429 all map to rate_limited (tests/test_providers.py)
    assert pause_until("rate_limited", None, NOW) == NOW + DEFAULT_PAUSE
    assert pause_until("rate_limited", "30", NOW) == NOW + timedelta(seconds=30)
    assert pause_until("rate_limited", None, NOW, default_pause=timedelta(seconds=5)) == NOW + timedelta(seconds=5)
    until = pause_until("rate_limited", "300", NOW)
    outcome = outcome_of_error("rate_limited", True, "slow down", 3, NOW, **POLICY, paused_until=until)
    assert (outcome.state, outcome.next_attempt_at, outcome.refund_attempt) == ("queued", until, True)
    assert outcome.error_code == "rate_limited"


@pytest.mark.parametrize("code", ["http_5xx", "timeout", "spam_rate_limited", "invalid_number", "auth"])
def test_other_errors_dont_pause(code):
    assert pause_until(code, "60", NOW) is None
    assert pair_retry_at(code, "60", NOW) is None


def test_pair_rate_limit_delays_only_its_message():
    assert pause_until("pair_rate_limited", None, NOW) is None
    assert pair_retry_at("pair_rate_limited", None, NOW) == NOW + DEFAULT_PAUSE
    assert pair_retry_at("pair_rate_limited", "10", NOW) == NOW + timedelta(seconds=10)
    assert pair_retry_at("rate_limited", None, NOW) is None


# -- crashes -------------------------------------------------------------------
def test_crash_before_the_call_retried_then_internal():
    first = outcome_of_crash(1, 3, NOW, 30)
    assert (first.state, first.error_code, first.refund_attempt) == ("queued", "internal", True)
    assert first.next_attempt_at == NOW + timedelta(seconds=30)
    assert outcome_of_crash(2, 3, NOW, 30).next_attempt_at == NOW + timedelta(seconds=60)
    last = outcome_of_crash(3, 3, NOW, 30)
    assert (last.state, last.error_code, last.failed_at) == ("failed", "internal", NOW)
    assert first.crashed and last.crashed
    assert outcome_of_crash(7, 3, NOW, 30).state == "failed"


def test_crash_during_the_call():
    # the provider may have the message: never again without deduplication
    blind = outcome_of_crash(1, 3, NOW, 30, maybe_sent=True)
    assert (blind.state, blind.error_code) == ("unknown", "internal")
    assert outcome_of_crash(5, 3, NOW, 30, maybe_sent=True).state == "unknown"
    # a provider that deduplicates by key: retried, then internal
    assert outcome_of_crash(1, 3, NOW, 30, maybe_sent=True, deduplicated=True).state == "queued"
    assert outcome_of_crash(3, 3, NOW, 30, maybe_sent=True, deduplicated=True).state == "failed"


def test_reconciliation_counts_crashes():
    attempt_at = NOW - timedelta(minutes=1)
    assert reconciled_outcome(True, None, attempt_at, NOW, crash_count=2, max_crashes=3).state == "queued"
    killed = reconciled_outcome(True, None, attempt_at, NOW, crash_count=3, max_crashes=3)
    assert (killed.state, killed.error_code, killed.crashed) == ("failed", "internal", True)
    # found at the provider: sent, however many crashes
    assert reconciled_outcome(True, "sbx.1", attempt_at, NOW, crash_count=9, max_crashes=3).state == "sent"
    assert reconciled_outcome(False, None, attempt_at, NOW, crash_count=9, max_crashes=3).state == "unknown"
