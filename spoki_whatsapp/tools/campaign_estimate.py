"""When a campaign's messages can go out under the messaging limit (the
campaign pre-flight's estimate). Plain Python: no ``odoo`` import.

The limit counts unique numbers over a rolling 24 hours. ``remaining``
numbers can be reached now; the numbers counted already leave the window one
by one during the next 24 hours (the first at ``next_free_at``), so the whole
limit is usable again within a day, and every further day takes ``limit``
more numbers.
"""

import math
from collections import namedtuple
from datetime import timedelta

DAY = timedelta(hours=24)

LimitSplit = namedtuple("LimitSplit", "now rest rest_from last_from days")
LimitSplit.__doc__ = """``now``: messages that fit under today's remaining limit; ``rest``:
the others; ``rest_from``: when the first of the rest can go (None without
rest); ``last_from``: when the last ones can go at the earliest; ``days``:
days (24-hour windows) the campaign needs, today included."""


def split_under_limit(count, limit, remaining, now, next_free_at=None, free=0):
    """Split ``count`` recipients into those that fit under the limit now and
    the rest. ``limit``: the unique numbers allowed in 24 hours (0 or None:
    unlimited); ``remaining``: those still allowed now; ``free``: recipients
    already counted in the window (sending to them again costs nothing);
    ``next_free_at``: when the oldest counted number leaves the window (None
    when nothing is counted)."""
    count = max(int(count or 0), 0)
    if not limit:
        return LimitSplit(count, 0, None, now, 1 if count else 0)
    free = min(max(int(free or 0), 0), count)
    remaining = max(min(int(remaining or 0), limit), 0)
    fit = min(count, free + remaining)
    rest = count - fit
    if not rest:
        return LimitSplit(fit, 0, None, now, 1 if count else 0)
    rest_from = next_free_at if next_free_at and next_free_at > now else now + DAY
    # the first day takes the whole limit (what is used frees up within it), each next day the limit again
    extra_days = max(math.ceil((count - free - limit) / limit), 0)
    last_from = max(rest_from, now + extra_days * DAY)
    return LimitSplit(fit, rest, rest_from, last_from, extra_days + 1)
