"""What the send queue does with the result of one provider call (plain Python).

The queue calls the provider, then asks :func:`outcome_of_error` (or builds
:meth:`SendOutcome.sent`) and records the :class:`SendOutcome` as it is: the
retry and backoff rules live here, tested by pytest without Odoo.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

#: Permanent provider errors about the account, not the message: the message
#: goes back to the queue (the attempt not consumed) and waits for a fix.
ACCOUNT_ERROR_CODES = ("auth", "config")
ACCOUNT_ERROR_DELAY = timedelta(minutes=10)
#: Longest wait between two attempts after temporary errors.
MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True)
class SendOutcome:
    """The new state of a message after a provider call (or a reconciliation).

    ``state`` is ``sent``, ``queued`` (try again at ``next_attempt_at``, or at
    once when None) or ``failed``; ``error_code`` and ``detail`` explain a
    requeue or a failure; ``refund_attempt`` gives the attempt back (it never
    reached the provider, or the account, not the message, is at fault)."""

    state: str
    provider_message_id: str | None = None
    error_code: str | None = None
    detail: str = ""
    sent_at: datetime | None = None
    failed_at: datetime | None = None
    next_attempt_at: datetime | None = None
    refund_attempt: bool = False

    @classmethod
    def sent(cls, provider_message_id, at):
        return cls("sent", provider_message_id=provider_message_id, sent_at=at)

    @classmethod
    def failed(cls, code, at, detail=""):
        return cls("failed", error_code=code, detail=detail, failed_at=at)

    @classmethod
    def requeued(cls, at=None, code=None, detail="", refund_attempt=False):
        return cls("queued", error_code=code, detail=detail, next_attempt_at=at, refund_attempt=refund_attempt)

    @property
    def settled(self):
        """Sent or failed: the message leaves the queue (chatter, conversations)."""
        return self.state in ("sent", "failed")

    def without_provider_id(self):
        return replace(self, provider_message_id=None)


def backoff_delay(attempt_count, base_delay):
    """Wait before the next attempt after ``attempt_count`` attempts:
    ``base_delay`` × 2ⁿ⁻¹ seconds, at most :data:`MAX_BACKOFF`."""
    seconds = base_delay * 2 ** max(attempt_count - 1, 0)
    return min(timedelta(seconds=seconds), MAX_BACKOFF)


def outcome_of_error(code, temporary, detail, attempt_count, now, max_attempts, base_delay):
    """The outcome of a provider error ``code`` on the ``attempt_count``-th
    attempt: account errors wait for a fix without using the attempt; temporary
    errors are retried with exponential backoff until ``max_attempts``, then
    fail as ``max_attempts``; permanent errors fail at once."""
    if code in ACCOUNT_ERROR_CODES:
        return SendOutcome.requeued(now + ACCOUNT_ERROR_DELAY, code, detail, refund_attempt=True)
    if temporary and attempt_count < max_attempts:
        return SendOutcome.requeued(now + backoff_delay(attempt_count, base_delay), code, detail)
    if temporary:
        return SendOutcome.failed("max_attempts", now, detail)
    return SendOutcome.failed(code, now, detail)


def reconciled_outcome(supports_lookup, found_id, attempt_at, now):
    """Outcome of a message a dead worker left in ``sending``: with a provider
    lookup by idempotency key, found → sent, not found → back in the queue (the
    attempt never reached the provider); without a lookup nobody can tell, so
    it fails as ``unknown_outcome`` and is never sent twice."""
    if not supports_lookup:
        return SendOutcome.failed("unknown_outcome", now)
    if found_id:
        return SendOutcome.sent(found_id, attempt_at or now)
    return SendOutcome.requeued(refund_attempt=True)
