"""Plain-Python tests of spoki_whatsapp/tools/dynamic_values.py: the typed
values of dynamic fields (the cases of the Odoo tests of spoki.dynamic.value,
templates and the CSV import)."""

from datetime import date, datetime

import pytest

from spoki_whatsapp.tools.dynamic_values import (
    FAST_DATE_RE,
    FIELD_NAME_RE,
    fast_datetime,
    normalise_field_name,
    parse_typed,
    typed_text,
)


@pytest.mark.parametrize("raw", [None, False, ""])
@pytest.mark.parametrize("field_type", ["text", "date", "datetime"])
def test_empty_is_false(field_type, raw):
    assert parse_typed(field_type, raw) is False


def test_text_is_kept_as_text():
    assert parse_typed("text", "XMAS") == "XMAS"
    assert parse_typed("text", 12) == "12"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("1985-06-14", date(1985, 6, 14)),
        ("14/06/1985", date(1985, 6, 14)),
        ("14-06-1985", date(1985, 6, 14)),
        ("14.06.1985", date(1985, 6, 14)),
        (" 31/12/1980 ", date(1980, 12, 31)),
        ("1/5/1990", date(1990, 5, 1)),
        (date(1990, 5, 1), date(1990, 5, 1)),
        (datetime(1990, 5, 1, 10, 30), date(1990, 5, 1)),
    ],
)
def test_dates(raw, expected):
    assert parse_typed("date", raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2026-12-01 15:30", datetime(2026, 12, 1, 15, 30)),
        ("2025-06-01 09:30:15", datetime(2025, 6, 1, 9, 30, 15)),
        ("2025-06-01T09:30", datetime(2025, 6, 1, 9, 30)),
        ("2025-06-01T09:30:15", datetime(2025, 6, 1, 9, 30, 15)),
        ("31/12/1999 23:59", datetime(1999, 12, 31, 23, 59)),
        ("31/12/1999 23:59:58", datetime(1999, 12, 31, 23, 59, 58)),
        ("2025-06-01", datetime(2025, 6, 1)),  # a date alone is midnight
        ("01.06.2025", datetime(2025, 6, 1)),
        (date(2025, 6, 1), datetime(2025, 6, 1)),
        (datetime(2025, 3, 1, 10, 30), datetime(2025, 3, 1, 10, 30)),
    ],
)
def test_datetimes(raw, expected):
    assert parse_typed("datetime", raw) == expected


@pytest.mark.parametrize(
    "field_type, raw",
    [
        ("date", "31/02/2020"),  # no such day
        ("date", "not a date"),
        ("date", "2025-06-01 09:30"),  # a date field takes a date only
        ("datetime", "tomorrow"),
        ("datetime", "2025-13-01 10:00"),
        ("number", "12"),  # not a dynamic field type
    ],
)
def test_bad_values_raise_value_error(field_type, raw):
    with pytest.raises(ValueError):
        parse_typed(field_type, raw)


@pytest.mark.parametrize(
    "text",
    ["2024-05-01", "1/5/1990", "01/05/1990", "2025-06-01 09:30", "2025-06-01T09:30:15", "31/12/1999 23:59"],
)
def test_fast_path_matches_parse_typed(text):
    match = FAST_DATE_RE.match(text)
    assert match
    assert fast_datetime(match) == parse_typed("datetime", text)


@pytest.mark.parametrize(
    "field_type, text, expected",
    [
        ("date", "31/12/1980", "1980-12-31"),
        ("date", "1/5/1990", "1990-05-01"),
        ("date", "14.06.1985", "1985-06-14"),  # not the fast path: parse_typed
        ("date", "2025-06-01 09:30", "2025-06-01"),  # the time is dropped
        ("date", "01.06.2025 09:30", None),  # neither a date nor a date and time
        ("datetime", "2025-06-01 09:30", "2025-06-01 09:30:00"),
        ("datetime", "2025-06-01T09:30:15", "2025-06-01 09:30:15"),
        ("datetime", "01.06.2025", "2025-06-01 00:00:00"),
        ("date", "31/02/2020", None),
        ("date", "soon", None),
        ("datetime", "tomorrow", None),
    ],
)
def test_typed_text(field_type, text, expected):
    if expected is None:
        with pytest.raises(ValueError):
            typed_text(field_type, text)
    else:
        assert typed_text(field_type, text) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("promo code", "PROMO_CODE"),
        ("  Promo  Code ", "PROMO_CODE"),
        ("BIRTHDAY DATE", "BIRTHDAY_DATE"),
        ("data-nascità", "DATA_NASCITA"),
        ("È_NOME", "E_NOME"),
        ("link (utm)", "LINK_UTM"),
        ("PROMO_CODE", "PROMO_CODE"),
        ("1st name", "1ST_NAME"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalise_field_name(raw, expected):
    assert normalise_field_name(raw) == expected


@pytest.mark.parametrize(("raw", "valid"), [("promo code", True), ("1st name", False), ("___", False)])
def test_normalised_name_validity(raw, valid):
    assert bool(FIELD_NAME_RE.match(normalise_field_name(raw))) is valid
