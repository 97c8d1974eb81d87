"""The send queue's retry rules (spoki_whatsapp/tools/send_policy.py)."""

from datetime import datetime, timedelta

import pytest

from spoki_whatsapp.tools.providers.http import DEFAULT_TIMEOUT
from spoki_whatsapp.tools.send_policy import (
    ACCOUNT_ERROR_DELAY,
    LOOKUP_GRACE,
    MAX_BACKOFF,
    UNKNOWN_OUTCOME_GRACE,
    SendOutcome,
    backoff_delay,
    lookup_due_at,
    outcome_of_error,
    reconciled_outcome,
    unknown_outcome_expired,
)

NOW = datetime(2026, 6, 1, 12, 0, 0)
POLICY = {"max_attempts": 3, "base_delay": 30}


def test_sent():
    outcome = SendOutcome.sent("wamid.1", NOW)
    assert (outcome.state, outcome.provider_message_id, outcome.sent_at) == ("sent", "wamid.1", NOW)
    assert outcome.settled
    assert outcome.without_provider_id().provider_message_id is None


@pytest.mark.parametrize("attempt, seconds", [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (20, 3600)])
def test_backoff_doubles_up_to_an_hour(attempt, seconds):
    assert backoff_delay(attempt, 30) == timedelta(seconds=seconds)
    assert backoff_delay(attempt, 30) <= MAX_BACKOFF


def test_temporary_error_retried_with_backoff_then_failed():
    first = outcome_of_error("http_5xx", True, "boom", 1, NOW, **POLICY)
    assert (first.state, first.error_code, first.next_attempt_at, first.refund_attempt) == (
        "queued",
        "http_5xx",
        NOW + timedelta(seconds=30),
        False,
    )
    assert not first.settled
    second = outcome_of_error("timeout", True, "slow", 2, NOW, **POLICY)
    assert second.next_attempt_at == NOW + timedelta(seconds=60)
    last = outcome_of_error("timeout", True, "slow", 3, NOW, **POLICY)
    assert (last.state, last.error_code, last.detail, last.failed_at) == ("failed", "max_attempts", "slow", NOW)


def test_permanent_error_fails_at_once():
    outcome = outcome_of_error("invalid_number", False, "no such number", 1, NOW, **POLICY)
    assert (outcome.state, outcome.error_code, outcome.failed_at, outcome.next_attempt_at) == (
        "failed",
        "invalid_number",
        NOW,
        None,
    )


@pytest.mark.parametrize("code", ["auth", "config"])
def test_account_errors_wait_without_using_the_attempt(code):
    outcome = outcome_of_error(code, False, "token expired", 5, NOW, **POLICY)
    assert (outcome.state, outcome.error_code, outcome.refund_attempt) == ("queued", code, True)
    assert outcome.next_attempt_at == NOW + ACCOUNT_ERROR_DELAY


def test_dead_workers_messages_are_looked_up_after_the_grace():
    # first seen dead now: its last request may still be processed by the
    # provider, a "not found" now could send it twice
    assert lookup_due_at(None, NOW) == NOW + LOOKUP_GRACE
    assert lookup_due_at(NOW - timedelta(seconds=5), NOW) == NOW - timedelta(seconds=5) + LOOKUP_GRACE
    assert lookup_due_at(NOW - LOOKUP_GRACE, NOW) is None
    # longer than the HTTP client waits for an answer
    assert LOOKUP_GRACE.total_seconds() > DEFAULT_TIMEOUT


def test_reconciliation():
    attempt_at = NOW - timedelta(minutes=1)
    found = reconciled_outcome(True, "sbx.1", attempt_at, NOW)
    assert (found.state, found.provider_message_id, found.sent_at) == ("sent", "sbx.1", attempt_at)
    missing = reconciled_outcome(True, None, attempt_at, NOW)
    assert (missing.state, missing.refund_attempt, missing.error_code) == ("queued", True, None)
    # without a lookup: never sent twice; unknown until the provider's
    # callback, failed as unknown_outcome after the grace period
    blind = reconciled_outcome(False, None, attempt_at, NOW)
    assert (blind.state, blind.db_state, blind.unknown_since) == ("unknown", "sending", NOW)
    expired = unknown_outcome_expired(NOW, NOW + UNKNOWN_OUTCOME_GRACE)
    assert (expired.state, expired.error_code) == ("failed", "unknown_outcome")
