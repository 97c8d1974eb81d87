"""When to ask a provider again for a sent message's status (plain Python).

Status polling (providers that support it: Spoki, the sandbox) backs off per
message: a message is checked again after half its age, between
``MIN_INTERVAL`` and ``MAX_INTERVAL`` (3 s old → 10 s later, 1 h old → 30 min
later, a day old → 6 h later). ``delivered`` messages are polled (for
``read``) only for ``DELIVERED_POLL_WINDOW`` after sending — many users turn
read receipts off, and they would be polled for days; ``sent`` ones until the
account's ``status_poll_days``. Final states (read, failed) are never polled.
"""

from datetime import timedelta

MIN_INTERVAL = timedelta(seconds=10)
MAX_INTERVAL = timedelta(hours=6)
DELIVERED_POLL_WINDOW = timedelta(hours=24)
#: states whose status may still change at the provider
POLLED_STATES = ("sent", "delivered")


def next_status_check(state, sent_at, now):
    """When to check a message in ``state``, sent at ``sent_at``, again after
    checking it at ``now``; None = don't poll it any more."""
    if state not in POLLED_STATES:
        return None
    age = max(now - (sent_at or now), timedelta(0))
    if state == "delivered" and age >= DELIVERED_POLL_WINDOW:
        return None
    return now + min(max(age / 2, MIN_INTERVAL), MAX_INTERVAL)
