"""What the send queue does with the result of one provider call (plain Python).

The queue calls the provider, then asks :func:`outcome_of_error` (or builds
:meth:`SendOutcome.sent`) and records the :class:`SendOutcome` as it is: the
retry, backoff, pause and reconciliation rules live here, tested by pytest
without Odoo.

Four kinds of failure, four answers:

* the provider answered with an error: temporary → retry with backoff until
  ``max_attempts``; permanent → fail with the reason; about the account
  (``auth``, ``config``) → wait for a fix without using the attempt;
* the provider says the *account* sends too fast (HTTP 429, ``Retry-After``,
  Meta's throughput codes, all ``rate_limited``): the account's sending
  pauses until :func:`pause_until` and the message waits without using the
  attempt;
* the request may have been processed but we don't know (read timeout,
  connection reset while waiting for the answer, a 2xx we can't read):
  ``outcome unknown``. A provider that deduplicates by idempotency key
  (``supports_lookup``) gets the same key again; any other one is never
  called twice for the message: it waits for the provider's callback (Meta:
  the status webhook carrying ``biz_opaque_callback_data``) and fails as
  ``unknown_outcome`` after the grace period (:func:`unknown_outcome_expired`);
* our own code crashed on the message: counted, retried, failed as
  ``internal`` after ``max_crashes`` (:func:`outcome_of_crash`).
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

#: Permanent provider errors about the account, not the message: the message
#: goes back to the queue (the attempt not consumed) and waits for a fix.
ACCOUNT_ERROR_CODES = ("auth", "config")
ACCOUNT_ERROR_DELAY = timedelta(minutes=10)
#: Longest wait between two attempts after temporary errors.
MAX_BACKOFF = timedelta(hours=1)
#: Errors meaning "this account sends too fast": its sending pauses.
THROUGHPUT_ERROR_CODES = ("rate_limited",)
#: A rate limit on one (business, customer) pair (the providers map theirs to
#: it): only that message waits, the account keeps sending to everybody else.
PAIR_RATE_LIMIT_CODE = "pair_rate_limited"
#: Pause when the provider doesn't say how long (``Retry-After``).
DEFAULT_PAUSE = timedelta(seconds=60)
#: Longest pause a ``Retry-After`` can ask for (a bogus header can't stop an
#: account for days; the queue asks again after that).
MAX_PAUSE = timedelta(hours=1)
#: How long a message whose outcome is unknown waits for the provider's
#: callback before it fails as ``unknown_outcome``.
UNKNOWN_OUTCOME_GRACE = timedelta(hours=24)
#: A dead worker's last requests may still be on their way to the provider
#: when its death is noticed (the provider is still processing what the socket
#: delivered): a lookup by idempotency key answering "not found" is trusted
#: only this long after the worker was first seen dead — more than the HTTP
#: client's timeout (``tools/providers/http.py``), so no request of the dead
#: worker can still be in progress.
LOOKUP_GRACE = timedelta(seconds=15)
#: Error code of a message our own code kept crashing on.
INTERNAL_ERROR = "internal"


@dataclass(frozen=True)
class SendOutcome:
    """The new state of a message after a provider call (or a reconciliation).

    ``state`` is ``sent``, ``queued`` (try again at ``next_attempt_at``, or at
    once when None), ``failed`` or ``unknown`` (the provider may have the
    message: it stays ``sending``, out of any worker's hands, until the
    provider's callback or the grace period settles it, see
    :meth:`unknown`); ``error_code`` and ``detail`` explain a requeue or a
    failure; ``refund_attempt`` gives the attempt back (it never reached the
    provider, or the account, not the message, is at fault); ``crashed``
    counts a crash of the message (see :func:`outcome_of_crash`)."""

    state: str
    provider_message_id: str | None = None
    error_code: str | None = None
    detail: str = ""
    sent_at: datetime | None = None
    failed_at: datetime | None = None
    next_attempt_at: datetime | None = None
    refund_attempt: bool = False
    unknown_since: datetime | None = None
    crashed: bool = False

    @classmethod
    def sent(cls, provider_message_id, at):
        return cls("sent", provider_message_id=provider_message_id, sent_at=at)

    @classmethod
    def failed(cls, code, at, detail=""):
        return cls("failed", error_code=code, detail=detail, failed_at=at)

    @classmethod
    def requeued(cls, at=None, code=None, detail="", refund_attempt=False):
        return cls("queued", error_code=code, detail=detail, next_attempt_at=at, refund_attempt=refund_attempt)

    @classmethod
    def unknown(cls, at, code=None, detail=""):
        """The request may have reached the provider: never sent again; the
        provider's callback (or the grace period) settles it. Recorded as
        ``sending`` without a worker, ``outcome_unknown_since`` = ``at``."""
        return cls("unknown", error_code=code, detail=detail, unknown_since=at)

    @property
    def settled(self):
        """Sent or failed: the message leaves the queue (chatter, conversations)."""
        return self.state in ("sent", "failed")

    @property
    def db_state(self):
        """The ``spoki.message`` state recorded for this outcome."""
        return "sending" if self.state == "unknown" else self.state

    def without_provider_id(self):
        return replace(self, provider_message_id=None)


def backoff_delay(attempt_count, base_delay):
    """Wait before the next attempt after ``attempt_count`` attempts:
    ``base_delay`` × 2ⁿ⁻¹ seconds, at most :data:`MAX_BACKOFF`."""
    seconds = base_delay * 2 ** max(attempt_count - 1, 0)
    return min(timedelta(seconds=seconds), MAX_BACKOFF)


def outcome_of_error(
    code,
    temporary,
    detail,
    attempt_count,
    now,
    max_attempts,
    base_delay,
    *,
    outcome_unknown=False,
    deduplicated=False,
    paused_until=None,
):
    """The outcome of a provider error ``code`` on the ``attempt_count``-th
    attempt:

    * ``outcome_unknown`` (the request may have been processed): without
      ``deduplicated`` (a provider that recognises the idempotency key) the
      message is never sent again (:meth:`SendOutcome.unknown`); with it,
      the error is retried like a temporary one, with the same key;
    * ``paused_until`` (the account sends too fast, see :func:`pause_until`):
      back to the queue until then, the attempt not used;
    * account errors wait for a fix without using the attempt;
    * temporary errors are retried with exponential backoff until
      ``max_attempts``, then fail as ``max_attempts``;
    * permanent errors fail at once."""
    if outcome_unknown and not deduplicated:
        return SendOutcome.unknown(now, code, detail)
    if paused_until:
        return SendOutcome.requeued(paused_until, code, detail, refund_attempt=True)
    if code in ACCOUNT_ERROR_CODES:
        return SendOutcome.requeued(now + ACCOUNT_ERROR_DELAY, code, detail, refund_attempt=True)
    if (temporary or outcome_unknown) and attempt_count < max_attempts:
        return SendOutcome.requeued(now + backoff_delay(attempt_count, base_delay), code, detail)
    if temporary or outcome_unknown:
        return SendOutcome.failed("max_attempts", now, detail)
    return SendOutcome.failed(code, now, detail)


def parse_retry_after(value, now, max_pause=MAX_PAUSE):
    """``Retry-After`` (delay in seconds, or an HTTP date) → when to try again
    (naive UTC, between ``now`` and ``now + max_pause``); None when absent or
    unreadable."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is not None:
            when = when.astimezone(timezone.utc).replace(tzinfo=None)  # noqa: UP017 - Python 3.10
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / infinite
            return None
        when = now + timedelta(seconds=min(max(seconds, 0.0), max_pause.total_seconds()))
    return min(max(when, now), now + max_pause)


def pause_until(code, retry_after, now, default_pause=DEFAULT_PAUSE, max_pause=MAX_PAUSE):
    """When the account may send again after error ``code`` (``retry_after``:
    the raw ``Retry-After`` header), or None when the error is about the
    message, not the account's throughput. A pair rate limit
    (``pair_rate_limited``) only delays its message."""
    if code not in THROUGHPUT_ERROR_CODES:
        return None
    return parse_retry_after(retry_after, now, max_pause) or now + min(default_pause, max_pause)


def pair_retry_at(code, retry_after, now, default_pause=DEFAULT_PAUSE):
    """When to retry a message refused by a (business, customer) pair rate
    limit (``pair_rate_limited``), or None when the error is not one: the
    message waits without using its attempt; the account keeps sending."""
    if code != PAIR_RATE_LIMIT_CODE:
        return None
    return parse_retry_after(retry_after, now) or now + default_pause


def outcome_of_crash(crash_count, max_crashes, now, base_delay, *, maybe_sent=False, deduplicated=False):
    """Our own code raised on a message (``crash_count`` crashes so far,
    this one included). ``maybe_sent``: the crash happened while the provider
    was being called. A message that may have been sent to a provider that
    can't deduplicate is never sent again (:meth:`SendOutcome.unknown`);
    otherwise it is retried with backoff and fails as ``internal`` after
    ``max_crashes``: a message that breaks the code can't loop forever.
    Crashes have their own budget: they give the attempt back."""
    if maybe_sent and not deduplicated:
        outcome = SendOutcome.unknown(now, INTERNAL_ERROR)
    elif crash_count >= max_crashes:
        outcome = replace(SendOutcome.failed(INTERNAL_ERROR, now), refund_attempt=True)
    else:
        outcome = SendOutcome.requeued(
            now + backoff_delay(crash_count, base_delay), INTERNAL_ERROR, refund_attempt=True
        )
    return replace(outcome, crashed=True)


def reconciled_outcome(supports_lookup, found_id, attempt_at, now, crash_count=0, max_crashes=0):
    """Outcome of a message a dead worker left in ``sending`` (the worker
    crashed or was killed while the message was in flight): with a provider
    lookup by idempotency key, found → sent, not found → back in the queue (the
    attempt never reached the provider; as a crash, so a message that kills its
    worker every time fails as ``internal`` after ``max_crashes``); without a
    lookup nobody can tell: the outcome is unknown, it is never sent twice.
    Every outcome counts the crash."""
    if not supports_lookup:
        outcome = SendOutcome.unknown(now)
    elif found_id:
        outcome = SendOutcome.sent(found_id, attempt_at or now)
    elif max_crashes and crash_count >= max_crashes:
        outcome = SendOutcome.failed(INTERNAL_ERROR, now)
    else:
        outcome = SendOutcome.requeued(refund_attempt=True)
    return replace(outcome, crashed=True)


def lookup_due_at(orphaned_since, now, grace=LOOKUP_GRACE):
    """When a message left in ``sending`` by a dead worker may be looked up at
    the provider: None when it may be now, else the moment to come back.
    ``orphaned_since`` is when the worker was first seen dead (None: just
    now)."""
    due = (orphaned_since or now) + grace
    return None if now >= due else due


def unknown_outcome_expired(unknown_since, now, grace=UNKNOWN_OUTCOME_GRACE):
    """The outcome of a message unknown since ``unknown_since`` when the
    provider's callback didn't come: None while the grace period runs, then
    failed as ``unknown_outcome`` (it was not sent again, to avoid a
    duplicate)."""
    if unknown_since is None or now < unknown_since + grace:
        return None
    return SendOutcome.failed("unknown_outcome", now)
