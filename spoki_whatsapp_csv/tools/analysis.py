"""Analyse the rows of a contact file: normalised numbers, invalid rows with
their reasons, duplicates after normalisation, missing values, the clean rows.

No Odoo import. The phone normaliser is ``spoki_whatsapp.tools.phone.normalize_phone``
(looked up next to this package, under Odoo or in plain Python); dynamic field
values are checked by the parsers the caller passes (the Odoo side passes
parsers built on ``spoki_whatsapp.tools.dynamic_values.typed_text``).
"""

import importlib
import re
from collections import Counter

import phonenumbers
from phonenumbers import phonenumberutil
from phonenumbers.phonemetadata import REGION_CODE_FOR_NON_GEO_ENTITY, PhoneMetadata

from .mapping import BUILTIN_TARGETS

__all__ = ["KEEP_POLICIES", "Analysis", "CleanRow", "Issue", "analyze", "first_value", "is_no_date", "issue_message"]

# Which row of a duplicated number is kept: the first one in the file, or the
# one with the most filled values (the first of those on a tie).
KEEP_POLICIES = ("first", "most_complete")

# Several values in one cell: address-book exports write "first ::: second";
# others put "; " or ", " between two numbers or e-mails. The contact takes
# the first one (merging the digits would make one invalid number).
MULTI_VALUE_RE = re.compile(r"\s*:::\s*")
LIST_SEPARATOR_RE = re.compile(r"\s*[;,]\s*")
LIST_TARGETS = ("phone", "email")

# "No date" values that ERP and spreadsheet exports write for an empty date:
# 00/00/0000, 0000-00-00 (with or without a zero time), __/__/____, - / -.
NO_DATE_RE = re.compile(r"^[\s0_\-/.:]*(?:[tT][\s0:.]*)?$")


def first_value(text, target=None):
    """The first of several values written in one cell: ``a ::: b`` for any
    target, ``a; b`` / ``a, b`` for a phone or an e-mail. A single value
    comes back unchanged."""
    if not text:
        return text
    if ":::" in text:
        text = next((part for part in MULTI_VALUE_RE.split(text) if part), "")
    if target in LIST_TARGETS and (";" in text or "," in text):
        text = next((part for part in LIST_SEPARATOR_RE.split(text) if part), "")
    return text


def is_no_date(text):
    """True for a cell that means "no date" (``00/00/0000``, ``0000-00-00``,
    ``0000-00-00 00:00:00``, ``__/__/____``, ``-``): only zeros, blanks and
    date separators."""
    return bool(NO_DATE_RE.match(text))


PHONE_REASONS = {
    "empty": "No number",
    "unparsable": "Not a phone number",
    "no_region": "No country prefix and no country to guess it from",
    "too_short": "Too short",
    "too_long": "Too long",
    "invalid": "Not a valid number",
}


def phone_module():
    """``spoki_whatsapp.tools.phone``, imported as ``odoo.addons.…`` under
    Odoo and as a plain package in the pytest run (tests/conftest.py)."""
    root = __name__.split("spoki_whatsapp_csv")[0]
    return importlib.import_module(f"{root}spoki_whatsapp.tools.phone")


# ``phonenumbers.is_valid_number`` asks a number's type (premium rate, toll
# free, …, fixed line, mobile: a regular expression each, in that order) to
# tell whether it is valid, twice for a calling code shared by several regions
# (+39: Italy, then the Vatican), and most numbers in contact files are mobile
# numbers, checked last. Valid means "of some type": :func:`is_valid_number`
# asks the same questions, most likely first, and stops at the first yes.
_OTHER_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail")
_CHECKS = {}  # id(metadata) → (metadata, general check, type checks)


def _check_of(desc):
    """``(possible lengths or None, compiled pattern)`` of a number description,
    None when nothing matches it (``phonenumberutil._is_number_matching_desc``)."""
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = frozenset(desc.possible_length) if len(desc.possible_length) > 0 else None
    return lengths, re.compile(desc.national_number_pattern)


def _checks_of(metadata):
    found = _CHECKS.get(id(metadata))
    if found is None or found[0] is not metadata:
        names = (
            ["fixed_line"] + ([] if metadata.same_mobile_and_fixed_line_pattern else ["mobile"]) + list(_OTHER_TYPES)
        )
        types = tuple(check for check in (_check_of(getattr(metadata, name)) for name in names) if check)
        found = _CHECKS[id(metadata)] = (metadata, _check_of(metadata.general_desc), types)
    return found


def _of_some_type(nsn, metadata):
    """``phonenumberutil._number_type_helper(nsn, metadata) != UNKNOWN``."""
    _metadata, general, types = _checks_of(metadata)
    length = len(nsn)
    if general is None or (general[0] is not None and length not in general[0]) or not general[1].fullmatch(nsn):
        return False
    for lengths, pattern in types:
        if (lengths is None or length in lengths) and pattern.fullmatch(nsn):
            return True
    return False


def is_valid_number(number):
    """``phonenumbers.is_valid_number(number)``, the same answer sooner
    (tests/test_csv_tools.py compares them on every region's examples)."""
    return is_valid_nsn(number.country_code, phonenumberutil.national_significant_number(number))


def is_valid_nsn(country_code, nsn):
    """:func:`is_valid_number` of the number of calling code ``country_code``
    and national significant number ``nsn`` (text)."""
    regions = phonenumberutil.COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if regions is None:
        return False
    if len(regions) > 1:
        # phonenumberutil._region_code_for_number_from_list
        for region_code in regions:
            metadata = PhoneMetadata.metadata_for_region(region_code.upper(), None)
            if metadata is None:
                continue
            if metadata.leading_digits is not None:
                if phonenumberutil.re_compile(metadata.leading_digits).match(nsn):
                    break
            elif _of_some_type(nsn, metadata):
                return True  # the region found by its type: valid for it
        else:
            return False
    else:
        region_code = regions[0]
    # phonenumberutil.is_valid_number_for_region
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region_code.upper())
    if metadata is None or (
        region_code != REGION_CODE_FOR_NON_GEO_ENTITY
        and country_code != phonenumberutil.country_code_for_valid_region(region_code)
    ):
        return False
    return _of_some_type(nsn, metadata)


_LENGTH_NOT_KEPT = (
    phonenumbers.ValidationResult.TOO_SHORT,
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    phonenumbers.ValidationResult.INVALID_LENGTH,
)


def split_digits(text, region=None):
    """``(calling code, national significant number)`` of what
    ``phonenumbers.parse(text, region)`` returns, for what ``phone._prepare`` gives:
    ``+`` and ASCII digits (an international number, ``region`` not used), or
    ASCII digits read as a number of ``region`` (upper case). It skips the
    generic steps such a text doesn't need (extension, RFC 3966 context,
    letters, digit normalisation: half of ``parse``'s time). None where
    ``parse`` would raise, or where this shortcut is not sure (a national
    number that starts with an international call prefix or with the
    country's calling code): the caller then uses ``normalize_phone``
    itself (tests/test_csv_phone_validity.py compares the two)."""
    plus = text[:1] == "+"
    digits = text[1:] if plus else text
    if (
        len(digits) <= phonenumberutil._MIN_LENGTH_FOR_NSN
        or len(text) > phonenumberutil._MAX_INPUT_STRING_LENGTH
        or not digits.isdigit()
        or not digits.isascii()
    ):
        return None
    if plus:
        country_code, national = phonenumberutil._extract_country_code(digits)
        if not country_code:
            return None
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(
            country_code, phonenumberutil.region_code_for_country_code(country_code)
        )
    else:
        metadata = PhoneMetadata.metadata_for_region(region, None) if region else None
        if metadata is None or metadata.country_code is None:
            return None
        idd = metadata.international_prefix
        if (idd is not None and phonenumberutil.re_compile(idd).match(digits)) or digits.startswith(
            str(metadata.country_code)
        ):
            return None
        country_code, national = metadata.country_code, digits
    if metadata is None or len(national) < phonenumberutil._MIN_LENGTH_FOR_NSN:
        return None
    _carrier, stripped, _done = phonenumberutil._maybe_strip_national_prefix_carrier_code(national, metadata)
    if phonenumberutil._test_number_length(stripped, metadata) not in _LENGTH_NOT_KEPT:
        national = stripped
    if not phonenumberutil._MIN_LENGTH_FOR_NSN <= len(national) <= phonenumberutil._MAX_LENGTH_FOR_NSN:
        return None
    # (the national significant number of the PhoneNumber parse() makes is
    # this text: its leading zeros are kept as "Italian leading zeros")
    return country_code, national


def parse_plus_digits(text, region=None):
    """:func:`split_digits` as the ``PhoneNumber`` ``phonenumbers.parse`` returns, or None."""
    found = split_digits(text, region)
    if found is None:
        return None
    country_code, national = found
    number = phonenumbers.PhoneNumber(country_code=country_code)
    phonenumberutil._set_italian_leading_zeros_for_phone_number(national, number)
    number.national_number = int(national)
    return number


def fast_normalizer(phone=None):
    """``normalize_phone`` with a shortcut for the common case: a number
    that is valid as written is parsed and validated once (``normalize_phone``
    validates twice). Anything else goes through ``normalize_phone`` itself,
    so the results are identical (tests/test_csv_tools.py checks it); about
    a third faster on big files."""
    phone = phone or phone_module()
    prepare, full = phone._prepare, phone.normalize_phone
    parse, is_valid, format_number = phonenumbers.parse, is_valid_number, phonenumbers.format_number
    e164_format = phonenumbers.PhoneNumberFormat.E164
    parse_error = phonenumbers.NumberParseException
    result = phone.PhoneResult

    def normalize(raw, region=None):
        prepared = prepare(raw)
        if prepared:
            region_code = None if prepared.startswith("+") else ((region or "").upper() or None)
            if prepared.startswith("+") or region_code:
                found = split_digits(prepared, region_code)
                if found is not None:
                    # E.164 is "+", the calling code and the national significant number
                    if is_valid_nsn(*found):
                        return result(f"+{found[0]}{found[1]}", True, "")
                    return full(raw, region)
                try:
                    number = parse(prepared, region_code)
                except parse_error:
                    return full(raw, region)
                if is_valid(number):
                    return result(format_number(number, e164_format), True, "")
        return full(raw, region)

    return normalize


class CleanRow:
    """A row that will be imported: the E.164 number and the mapped values
    (``values``: dynamic field name → normalised text)."""

    __slots__ = ("row", "phone", "first_name", "last_name", "email", "language", "values", "filled")

    def __init__(self, row, phone, first_name="", last_name="", email="", language="", values=None):
        self.row = row
        self.phone = phone
        self.first_name = first_name
        self.last_name = last_name
        self.email = email
        self.language = language
        self.values = values or {}
        self.filled = sum(1 for value in (first_name, last_name, email, language) if value) + sum(
            1 for value in self.values.values() if value
        )

    def as_list(self, dynamic_names):
        return [self.phone, self.first_name, self.last_name, self.email, self.language] + [
            self.values.get(name, "") for name in dynamic_names
        ]

    def __repr__(self):
        return f"CleanRow({self.row}, {self.phone!r})"


class Issue:
    """Why a row is not in the clean file.

    ``kind``: 'invalid' or 'duplicate'. ``reasons``: list of ``(code, target,
    detail)`` with code 'phone_missing', 'phone_invalid' (detail: the reason
    code of ``normalize_phone``) or 'value_invalid' (target: the column's
    target, detail: the parser's message); duplicates have ``kept_row``.
    """

    __slots__ = ("row", "kind", "reasons", "phone", "kept_row")

    def __init__(self, row, kind, reasons=(), phone="", kept_row=None):
        self.row = row
        self.kind = kind
        self.reasons = list(reasons)
        self.phone = phone
        self.kept_row = kept_row

    def __repr__(self):
        return f"Issue({self.row}, {self.kind!r}, {self.reasons!r}, kept_row={self.kept_row})"


def issue_message(issue, target_label=None):
    """English text of an issue (the Odoo side has translated equivalents)."""
    target_label = target_label or (lambda target: target)
    if issue.kind == "duplicate":
        return f"Duplicate of row {issue.kept_row} ({issue.phone}), which is kept"
    parts = []
    for code, target, detail in issue.reasons:
        if code == "phone_missing":
            parts.append("No number")
        elif code == "phone_invalid":
            parts.append(f"Invalid number: {PHONE_REASONS.get(detail, detail)}")
        else:
            parts.append(f"{target_label(target)}: {detail}")
    return "; ".join(parts)


class Analysis:
    """Result of :func:`analyze` (all counts are rows unless said)."""

    def __init__(self, mapping, keep):
        self.mapping = dict(mapping)
        self.keep = keep
        self.total_rows = 0
        self.valid_numbers = 0  # rows whose number is valid
        self.invalid_numbers = 0  # rows with a missing or invalid number
        self.value_errors = 0  # rows with a valid number but a badly typed value
        self.duplicate_rows = 0  # rows dropped because their number came earlier/better
        self.duplicate_numbers = 0  # distinct numbers present more than once
        self.missing = Counter()  # target → rows where the mapped cell is empty
        self.unknown_languages = Counter()  # language text → rows (value ignored)
        self.guessed_country = 0  # rows whose valid number had no prefix: read with ``region``
        self.clean_rows = []
        self.issues = []  # sorted by row

    @property
    def clean_count(self):
        return len(self.clean_rows)

    @property
    def invalid_rows(self):
        return [issue for issue in self.issues if issue.kind == "invalid"]

    @property
    def duplicates(self):
        """``{e164: (kept_row, [dropped rows])}``"""
        result = {}
        for issue in self.issues:
            if issue.kind == "duplicate":
                result.setdefault(issue.phone, (issue.kept_row, []))[1].append(issue.row)
        return result

    def issues_by_row(self):
        return {issue.row: issue for issue in self.issues}


def analyze(rows, mapping, *, region=None, keep="first", parsers=None, language=None, normalize=None):
    """Analyse ``rows`` (iterable of ``(row_number, cells)``, e.g.
    ``Table.rows``) mapped by ``mapping`` (``{target: column index}``, phone
    required).

    :param region: ISO country for numbers written without prefix ('IT').
    :param keep: 'first' or 'most_complete' (see :data:`KEEP_POLICIES`).
    :param parsers: ``{target: callable(text) -> text}`` raising ValueError
        with a message for a bad value (dynamic fields by type).
    :param language: ``callable(text) -> code or None``; unknown languages are
        dropped from the row and counted in ``unknown_languages``.
    :param normalize: ``callable(raw, region) -> (e164, valid, reason)``.
    """
    if "phone" not in mapping or mapping["phone"] is None:
        raise ValueError("The phone column must be mapped.")
    if keep not in KEEP_POLICIES:
        raise ValueError(f"keep must be one of {KEEP_POLICIES}")
    analyzer = _Analyzer(mapping, keep, region, parsers or {}, language, normalize or fast_normalizer())
    add = analyzer.add
    for row, cells in rows:
        add(row, cells)
    return analyzer.finish()


class _Analyzer:
    """One pass of :func:`analyze`: :meth:`add` each row, then :meth:`finish`."""

    def __init__(self, mapping, keep, region, parsers, language, normalize):
        self.result = Analysis(mapping, keep)
        self.keep = keep
        self.region = region
        self.parsers = parsers
        self.language = language
        self.normalize = normalize
        self.targets = [(target, index) for target, index in mapping.items() if index is not None]
        self.dynamic = [(target, index) for target, index in self.targets if target not in BUILTIN_TARGETS]
        self.get = {target: mapping.get(target) for target in BUILTIN_TARGETS}
        self.phone_index = self.get["phone"]
        self.cleaned = [(target, index, parsers.get(target) is not None) for target, index in self.targets]
        self.cache = {}  # raw number → (normalize()'s result, country guessed)
        self.prepare = phone_module()._prepare
        self.slot_by_phone = {}  # e164 → index in clean_rows
        self.duplicates = {}  # e164 → [row numbers of every row with it]
        self.issues = []

    def cell(self, cells, target):
        index = self.get[target]
        return cells[index] if index is not None else ""

    def add(self, row, cells):
        result = self.result
        result.total_rows += 1
        cells = self._first_values(cells)
        missing = result.missing
        for target, index in self.targets:
            if not cells[index]:
                missing[target] += 1
        reasons = []
        raw_phone = cells[self.phone_index]
        e164, valid = self._phone(raw_phone, reasons)
        if reasons:
            result.invalid_numbers += 1
        else:
            result.valid_numbers += 1
        values = self._values(cells, reasons)
        lang = self._language(self.cell(cells, "language"))
        if reasons:
            if not any(code.startswith("phone") for code, _t, _d in reasons):
                result.value_errors += 1
            # the number as written when it is not valid, normalised otherwise
            self.issues.append(Issue(row, "invalid", reasons, phone=e164 if e164 and valid else raw_phone))
            return
        first_name, last_name = self.cell(cells, "first_name"), self.cell(cells, "last_name")
        if not (first_name or last_name):
            # a row of a company (ERP exports: "Ragione sociale"): named after it
            first_name = self.cell(cells, "company")
        clean = CleanRow(
            row,
            e164,
            first_name,
            last_name,
            self.cell(cells, "email"),
            lang,
            values,
        )
        self._keep(clean)

    def _first_values(self, cells):
        """``cells`` with the first value of every mapped cell holding
        several (see :func:`first_value`); a "no date" in a typed (parsed)
        column is read as empty."""
        changed = None
        for target, index, typed in self.cleaned:
            text = cells[index]
            if not text:
                continue
            value = first_value(text, target)
            if typed and is_no_date(value):
                value = ""
            if value != text:
                changed = changed or list(cells)
                changed[index] = value
        return changed or cells

    def _phone(self, raw_phone, reasons):
        """``(e164, valid)`` of the row's number; a reason is added when it
        is missing or invalid."""
        if not raw_phone:
            reasons.append(("phone_missing", "phone", ""))
            return None, False
        cached = self.cache.get(raw_phone)
        if cached is None:
            normalized = self.normalize(raw_phone, self.region)
            cached = self.cache[raw_phone] = (normalized, self._guessed(raw_phone, normalized))
        (e164, valid, reason), guessed = cached
        if not valid:
            reasons.append(("phone_invalid", "phone", reason))
        elif guessed:
            self.result.guessed_country += 1
        return e164, valid

    def _guessed(self, raw_phone, normalized):
        """Whether a valid number was read with ``region`` (written without
        prefix, and not a full international number that lost its ``+``)."""
        if not normalized[1]:
            return False
        prepared = self.prepare(raw_phone)
        return not prepared.startswith("+") and normalized[0] != "+" + prepared

    def _values(self, cells, reasons):
        """The dynamic values of the row, parsed; a reason per bad value."""
        values = {}
        for target, index in self.dynamic:
            text = cells[index]
            parser = self.parsers.get(target)
            if text and parser is not None:
                try:
                    text = parser(text)
                except ValueError as exc:
                    reasons.append(("value_invalid", target, str(exc)))
                    continue
            values[target] = text
        return values

    def _language(self, lang):
        """The language code of the row ('' when unknown, counted)."""
        if lang and self.language is not None:
            code = self.language(lang)
            if code is None:
                self.result.unknown_languages[lang] += 1
            lang = code or ""
        return lang

    def _keep(self, clean):
        """Add a valid row, or note it as a duplicate of the row kept for its number."""
        clean_rows = self.result.clean_rows
        slot = self.slot_by_phone.get(clean.phone)
        if slot is None:
            self.slot_by_phone[clean.phone] = len(clean_rows)
            clean_rows.append(clean)
            return
        self.duplicates.setdefault(clean.phone, [clean_rows[slot].row]).append(clean.row)
        if self.keep == "most_complete" and clean.filled > clean_rows[slot].filled:
            clean_rows[slot] = clean

    def finish(self):
        result, issues = self.result, self.issues
        for e164, dup_rows in self.duplicates.items():
            kept = result.clean_rows[self.slot_by_phone[e164]].row
            result.duplicate_numbers += 1
            for row in dup_rows:
                if row != kept:
                    result.duplicate_rows += 1
                    issues.append(Issue(row, "duplicate", phone=e164, kept_row=kept))
        if self.keep == "most_complete" and self.duplicates:
            result.clean_rows.sort(key=lambda clean: clean.row)
        issues.sort(key=lambda issue: issue.row)
        result.issues = issues
        return result
