"""WhatsApp phone number normalisation (E.164) on top of ``phonenumbers``.

No Odoo import: used by the models, the CSV tool and the pure-Python tests.
"""

import re

import phonenumbers

__all__ = [
    "E164_RE",
    "PhoneResult",
    "digits_of",
    "is_e164",
    "normalize_phone",
    "normalize_many",
    "plus_digits",
    "region_of",
]

_CLEAN_RE = re.compile(r"[^\d+]")
_NON_DIGIT_RE = re.compile(r"\D")
#: An E.164 number as stored: '+', a non-zero country digit, 6 to 15 digits in all.
E164_RE = re.compile(r"^\+[1-9]\d{5,14}$")


def digits_of(number):
    """The digits of a number as providers address it (``393471234567``)."""
    return _NON_DIGIT_RE.sub("", number or "")


def plus_digits(number):
    """``+`` and the digits of a number the provider wrote in E.164 without
    formatting rules (``393471234567`` → ``+393471234567``); '' when empty."""
    found = digits_of(number)
    return f"+{found}" if found else ""


def is_e164(value):
    return bool(E164_RE.match(value or ""))


class PhoneResult(tuple):
    """(e164, valid, reason) — ``e164`` is None when the input can't be parsed.

    ``reason`` is a short English code ('empty', 'unparsable', 'invalid',
    'too_short', 'too_long') for invalid input, '' otherwise; callers map it to a
    translated message.
    """

    __slots__ = ()

    def __new__(cls, e164, valid, reason=""):
        return super().__new__(cls, (e164, valid, reason))

    e164 = property(lambda self: self[0])
    valid = property(lambda self: self[1])
    reason = property(lambda self: self[2])


def _prepare(raw):
    if raw is None or raw is False:  # Odoo's empty value is False
        return ""
    if isinstance(raw, float):
        # Spreadsheet cells: 393471234567.0 → '393471234567'
        raw = f"{raw:.0f}" if raw.is_integer() else str(raw)
    raw = str(raw).strip()
    if not raw:
        return ""
    plus = raw.lstrip().startswith("+")
    digits = _CLEAN_RE.sub("", raw).replace("+", "")
    if not digits:
        return ""
    if plus:
        return "+" + digits
    if digits.startswith("00"):
        # International call prefix used in most of Europe (0039 …)
        return "+" + digits[2:]
    return digits


def normalize_phone(raw, region=None):
    """Return a :class:`PhoneResult` for ``raw`` using ``region`` (ISO 3166
    alpha-2, e.g. 'IT') for numbers written without the country prefix."""
    prepared = _prepare(raw)
    if not prepared:
        has_text = raw not in (None, False) and str(raw).strip()
        return PhoneResult(None, False, "unparsable" if has_text else "empty")
    region = (region or "").upper() or None
    try:
        number = phonenumbers.parse(prepared, None if prepared.startswith("+") else region)
    except phonenumbers.NumberParseException as exc:
        if not prepared.startswith("+") and region is None:
            return PhoneResult(None, False, "no_region")
        reason = {
            phonenumbers.NumberParseException.TOO_SHORT_NSN: "too_short",
            phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too_short",
            phonenumbers.NumberParseException.TOO_LONG: "too_long",
        }.get(exc.error_type, "unparsable")
        return PhoneResult(None, False, reason)
    if not phonenumbers.is_valid_number(number) and not prepared.startswith("+"):
        # Spreadsheets often drop the '+' of a full international number
        # (393471234567): accept it when it is valid as such.
        try:
            alt = phonenumbers.parse("+" + prepared, None)
        except phonenumbers.NumberParseException:
            alt = None
        if alt is not None and phonenumbers.is_valid_number(alt):
            number = alt
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not phonenumbers.is_valid_number(number):
        possible = phonenumbers.is_possible_number_with_reason(number)
        reason = {
            phonenumbers.ValidationResult.TOO_SHORT: "too_short",
            phonenumbers.ValidationResult.TOO_LONG: "too_long",
        }.get(possible, "invalid")
        return PhoneResult(e164, False, reason)
    return PhoneResult(e164, True, "")


def normalize_many(values, region=None):
    """Normalise an iterable of raw values; a small cache makes repeated
    numbers (common in imports) cheap."""
    cache = {}
    out = []
    for raw in values:
        key = (raw, region)
        if key not in cache:
            cache[key] = normalize_phone(raw, region)
        out.append(cache[key])
    return out


def region_of(e164):
    """ISO region code ('IT', 'ES', 'US'…) of an E.164 number, or None."""
    if not e164:
        return None
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.region_code_for_number(number) or None


def default_region(own_number, fallback=None):
    """Region for numbers written without a country prefix: the country of
    the business's own WhatsApp number (``own_number``, any spelling with its
    prefix), else ``fallback`` (e.g. the company's country), else None."""
    own = normalize_phone(own_number) if own_number else None
    region = region_of(own.e164) if own and own.valid else None
    return region or ((fallback or "").upper() or None)
