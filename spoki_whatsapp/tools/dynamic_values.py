"""Typed values of dynamic fields (plain Python, no Odoo import).

``spoki.dynamic.value`` stores them, templates render them and the CSV import
checks and normalises a whole file of them: every one parses values here.
"""

import re
import unicodedata
from datetime import date, datetime

__all__ = [
    "DATETIME_FORMATS",
    "DATE_FORMATS",
    "FAST_DATE_RE",
    "FIELD_NAME_RE",
    "fast_datetime",
    "normalise_field_name",
    "parse_typed",
    "typed_text",
]

DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y")
DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
)

#: YYYY-MM-DD or DD/MM/YYYY, optionally followed by HH:MM[:SS]: the spellings
#: :func:`parse_typed` meets most often, parsed without strptime's cost.
FAST_DATE_RE = re.compile(
    r"^(?:(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})|(?P<d2>\d{1,2})/(?P<m2>\d{1,2})/(?P<y2>\d{4}))"
    r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?$"
)


def _strptime(raw, formats):
    text = str(raw).strip()
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError(raw)


def parse_typed(field_type, raw):
    """Parse ``raw`` for ``field_type`` ('text', 'date' or 'datetime'); returns
    the typed value (False when empty) or raises ValueError. Dates accept ISO
    and day-first forms."""
    if raw in (None, False, ""):
        return False
    if field_type == "text":
        return str(raw)
    if field_type == "date":
        if isinstance(raw, datetime):
            return raw.date()
        if isinstance(raw, date):
            return raw
        return _strptime(raw, DATE_FORMATS).date()
    if field_type == "datetime":
        if isinstance(raw, datetime):
            return raw
        if isinstance(raw, date):
            return datetime(raw.year, raw.month, raw.day)
        return _strptime(raw, DATETIME_FORMATS + DATE_FORMATS)
    raise ValueError(raw)


def fast_datetime(match):
    """The datetime of a :data:`FAST_DATE_RE` match (ValueError for a day
    that doesn't exist, e.g. 31/02/2020)."""
    parts = match.groupdict()
    year, month, day = (parts["y"], parts["m"], parts["d"]) if parts["y"] else (parts["y2"], parts["m2"], parts["d2"])
    return datetime(int(year), int(month), int(day), int(parts["H"] or 0), int(parts["M"] or 0), int(parts["S"] or 0))


def typed_text(field_type, text):
    """The canonical text of a 'date' (``YYYY-MM-DD``) or 'datetime'
    (``YYYY-MM-DD HH:MM:SS``) value written as ``text``, or ValueError. A date
    field also accepts a date and time (the time is dropped)."""
    match = FAST_DATE_RE.match(text)
    if match:
        moment = fast_datetime(match)
    elif field_type == "date":
        try:
            return parse_typed("date", text).isoformat()
        except ValueError:
            moment = parse_typed("datetime", text)
    else:
        moment = parse_typed("datetime", text)
    return moment.date().isoformat() if field_type == "date" else moment.strftime("%Y-%m-%d %H:%M:%S")


#: A dynamic field's name: UPPER_SNAKE, starting with a letter.
FIELD_NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def normalise_field_name(raw):
    """The UPPER_SNAKE spelling of what a user typed as a dynamic field's name:
    ``"promo code"`` → ``"PROMO_CODE"``, ``"data-nascità"`` → ``"DATA_NASCITA"``.
    Accents are dropped, every run of other characters becomes one underscore.
    The result may still be invalid (``"1st name"`` → ``"1ST_NAME"``): check it
    with :data:`FIELD_NAME_RE`."""
    text = unicodedata.normalize("NFKD", raw or "")
    text = "".join(char for char in text if not unicodedata.combining(char))
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()
