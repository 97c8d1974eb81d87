"""Calendar arithmetic for the reports, in the user's timezone. Pure Python.

Every figure is counted over a half-open UTC range ``[start, stop)`` of naive
datetimes (Odoo stores UTC without tzinfo); the range is the UTC image of local
calendar boundaries (midnight of the first day, midnight after the last day) in
the user's timezone, so a message at 23:59:59 and one at 00:00:00 local time
land in different days, months and years.
"""

import calendar
from datetime import date, datetime, time, timedelta

import pytz

__all__ = [
    "MAX_BUCKETS",
    "PERIODS",
    "PERIOD_STEP",
    "bucket_count",
    "bucket_label",
    "check_tz",
    "day_range_utc",
    "default_range",
    "local_midnight_utc",
    "local_today",
    "month_range",
    "month_options",
    "month_range_utc",
    "parse_month",
    "previous_month",
    "to_local",
]

#: chart groupings, smallest first
PERIODS = ("minute", "hour", "day", "month", "quarter", "year")
#: PostgreSQL interval between two consecutive buckets of a period
PERIOD_STEP = {
    "minute": "1 minute",
    "hour": "1 hour",
    "day": "1 day",
    "month": "1 month",
    "quarter": "3 months",
    "year": "1 year",
}
#: the chart refuses ranges with more buckets than this (a year by minute…)
MAX_BUCKETS = 5000


def check_tz(name):
    """Return ``name`` if it's a known timezone ('UTC' when empty), else raise ValueError."""
    name = name or "UTC"
    if name not in pytz.all_timezones_set:
        raise ValueError(f"Unknown timezone: {name!r}")
    return name


def local_midnight_utc(day, tz_name):
    """Naive UTC datetime of 00:00 local time on ``day`` in ``tz_name``."""
    tz = pytz.timezone(check_tz(tz_name))
    local = tz.localize(datetime.combine(day, time.min), is_dst=False)
    return local.astimezone(pytz.utc).replace(tzinfo=None)


def to_local(value, tz_name):
    """Naive UTC datetime → naive local datetime in ``tz_name``."""
    tz = pytz.timezone(check_tz(tz_name))
    return pytz.utc.localize(value).astimezone(tz).replace(tzinfo=None)


def local_today(now, tz_name):
    """The local calendar date at the naive UTC instant ``now``."""
    return to_local(now, tz_name).date()


def day_range_utc(date_from, date_to, tz_name):
    """UTC range ``[start, stop)`` covering local days ``date_from``..``date_to`` included."""
    if date_to < date_from:
        raise ValueError("The end of the range is before its start")
    return (
        local_midnight_utc(date_from, tz_name),
        local_midnight_utc(date_to + timedelta(days=1), tz_name),
    )


def month_range(year, month):
    """First and last day of a calendar month."""
    last = calendar.monthrange(year, month)[1]
    return date(year, month, 1), date(year, month, last)


def month_range_utc(year, month, tz_name):
    """UTC range ``[start, stop)`` of a local calendar month."""
    first, last = month_range(year, month)
    return day_range_utc(first, last, tz_name)


def previous_month(today):
    """(year, month) of the calendar month before ``today``'s."""
    first = today.replace(day=1) - timedelta(days=1)
    return first.year, first.month


def month_options(today, count=24):
    """``[(year, month), …]`` of the month of ``today`` and the ``count - 1``
    months before it, newest first (the dashboard's month picker)."""
    first = today.replace(day=1)
    return [(day.year, day.month) for day in (_add_months(first, -back) for back in range(count))]


def parse_month(value):
    """``"YYYY-MM"`` → ``(year, month)``; ValueError when malformed."""
    year, _sep, month = str(value or "").partition("-")
    year, month = int(year), int(month)
    if not (2000 <= year <= 2999 and 1 <= month <= 12):
        raise ValueError(f"Not a month: {value!r}")
    return year, month


def _add_months(day, months):
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def default_range(period, today):
    """Default chart range (local dates, both included) for ``period``."""
    if period == "minute":
        return today, today
    if period == "hour":
        return today - timedelta(days=1), today
    if period == "day":
        return today - timedelta(days=29), today
    if period == "month":
        return _add_months(today, -11), today
    if period == "quarter":
        quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        return _add_months(quarter_start, -21), today
    if period == "year":
        return date(today.year - 4, 1, 1), today
    raise ValueError(f"Unknown period: {period!r}")


def bucket_count(period, date_from, date_to):
    """Number of buckets the chart has for local days ``date_from``..``date_to``."""
    days = (date_to - date_from).days + 1
    if period == "minute":
        return days * 1440
    if period == "hour":
        return days * 24
    if period == "day":
        return days
    months = (date_to.year * 12 + date_to.month) - (date_from.year * 12 + date_from.month)
    if period == "month":
        return months + 1
    if period == "quarter":
        return (date_to.year * 4 + (date_to.month - 1) // 3) - (date_from.year * 4 + (date_from.month - 1) // 3) + 1
    if period == "year":
        return date_to.year - date_from.year + 1
    raise ValueError(f"Unknown period: {period!r}")


def bucket_label(period, start):
    """Short, sortable label of the bucket starting at local ``start``."""
    if period == "minute":
        return start.strftime("%Y-%m-%d %H:%M")
    if period == "hour":
        return start.strftime("%Y-%m-%d %H:00")
    if period == "day":
        return start.strftime("%Y-%m-%d")
    if period == "month":
        return start.strftime("%Y-%m")
    if period == "quarter":
        return f"{start.year} Q{(start.month - 1) // 3 + 1}"
    if period == "year":
        return f"{start.year}"
    raise ValueError(f"Unknown period: {period!r}")
