"""WhatsApp template rules: validation, placeholders, rendering, preview.

Plain Python (no ``odoo`` import) so that it is unit-tested with pytest.

Conventions
-----------
* Placeholders are written ``%%NAME%%`` with ``NAME`` matching
  ``[A-Z][A-Z0-9_]*``. :data:`BUILTINS` always exist.
* Every rule violation is a :class:`TemplateRuleError` carrying a stable
  ``code`` and a ``params`` dict; the Odoo layer turns them into a translated
  message, ``str(error)`` is an English default.
* ``validate_*`` functions return a list of errors (empty = ok), the matching
  ``check_*`` functions raise the first one.

Error codes (params):

================================ ===============================================
``body_empty``                   {}
``body_too_long``                {length, max}
``too_many_spaces``              {count, max}
``media_not_allowed``            {}
``button_type``                  {index, type}
``button_text_empty``            {index}
``button_text_too_long``         {index, text, length, max}
``button_emoji``                 {index, text}
``button_count``                 {type: 'total'|'url'|'phone', count, max}
``button_order``                 {}
``url_invalid``                  {index, url}
``url_too_long``                 {index, length, max}
``phone_invalid``                {index, phone}
``bad_placeholder``              {names, suggestions}
``unknown_placeholders``         {names}
``missing_values``               {names}
================================ ===============================================

``index`` is the 1-based position of the button in the list.
"""

import datetime
import hashlib
import html
import itertools
import json
import re
import unicodedata

import phonenumbers
from babel import Locale
from babel.core import UnknownLocaleError
from babel.dates import format_date, format_time, get_date_format, get_datetime_format
from babel.languages import get_official_languages

from .phone import region_of

__all__ = [
    "BODY_MAX_LENGTH",
    "BUILTINS",
    "BUTTON_TEXT_MAX_LENGTH",
    "BUTTON_TYPES",
    "MAX_BUTTONS",
    "MAX_CONSECUTIVE_SPACES",
    "MAX_PHONE_BUTTONS",
    "MAX_URL_BUTTONS",
    "PHONE_MAX_LENGTH",
    "URL_MAX_LENGTH",
    "TemplateRuleError",
    "check_body",
    "check_buttons",
    "check_placeholders",
    "check_template",
    "format_value",
    "has_emoji",
    "language_for_number",
    "language_names",
    "placeholders",
    "positional_mapping",
    "positional_params",
    "preview_html",
    "recipient_language",
    "render",
    "render_checked",
    "template_signature",
    "template_signatures",
    "to_positional",
    "validate_body",
    "validate_buttons",
    "validate_placeholders",
    "validate_template",
    "whatsapp_length",
]

BUILTINS = ("NOME", "COGNOME", "TELEFONO", "EMAIL")

# Spoki's guide: body max 1,000 characters (stricter than Meta's 1,024), never
# more than 4 consecutive spaces.
BODY_MAX_LENGTH = 1000
MAX_CONSECUTIVE_SPACES = 4

# Button limits, as documented for Meta's message templates:
# - 10 buttons in total, max 2 URL, max 1 PHONE_NUMBER, quick replies must be
#   grouped (all before or all after the call-to-action buttons):
#   https://docs.gupshup.io/docs/template-button-list (mirrors Meta's
#   https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates/components#buttons)
#   https://docs.bird.com/api/touchpoints-api/supported-projects/whatsapp-approved-message-templates/creating-whatsapp-message-templates/text-template-blocks
# - phone number max 20 characters:
#   https://docs.aws.amazon.com/social-messaging/latest/APIReference/API_LibraryTemplateButtonInput.html
# - button text max 25 characters and URL max 2,000 characters: Meta's
#   template components reference (URL above).
MAX_BUTTONS = 10
MAX_URL_BUTTONS = 2
MAX_PHONE_BUTTONS = 1
BUTTON_TEXT_MAX_LENGTH = 25
URL_MAX_LENGTH = 2000
PHONE_MAX_LENGTH = 20
BUTTON_TYPES = ("url", "phone", "quick_reply")

_MESSAGES = {
    "body_empty": "The message text is empty.",
    "body_too_long": "The message text is {length} characters long, the maximum is {max}.",
    "too_many_spaces": "The message text contains {count} consecutive spaces, the maximum is {max}.",
    "media_not_allowed": "Images can't be embedded in the message text.",
    "button_type": "Button {index}: unknown type '{type}'.",
    "button_text_empty": "Button {index}: the text is empty.",
    "button_text_too_long": "Button {index} ('{text}'): the text is {length} characters long, the maximum is {max}.",
    "button_emoji": "Button {index} ('{text}'): emoji are not allowed in button text.",
    "button_count": "Too many buttons ({type}): {count}, the maximum is {max}.",
    "button_order": "Quick reply buttons must be grouped together, before or after the link and call buttons.",
    "url_invalid": "Button {index}: '{url}' is not a valid http(s) link.",
    "url_too_long": "Button {index}: the link is {length} characters long, the maximum is {max}.",
    "phone_invalid": "Button {index}: '{phone}' is not a valid international phone number (+country code).",
    "bad_placeholder": "Invalid placeholders {names}: use upper case names, e.g. {suggestions}.",
    "unknown_placeholders": "Unknown placeholders: {names}.",
    "missing_values": "No value for placeholders: {names}.",
    "translation_button_count": "The translation has {count} buttons, the template has {expected}.",
    "translation_button_type": "Button {index} is a '{type}' button in the translation, a '{expected}' one "
    "in the template.",
}


class TemplateRuleError(ValueError):
    """A template rule violation: ``code`` + ``params`` (see module doc)."""

    def __init__(self, code, params=None):
        self.code = code
        self.params = dict(params or {})
        super().__init__(self.default_message())

    def default_message(self):
        shown = {
            key: ", ".join(f"%%{v}%%" if key in ("names", "suggestions") else str(v) for v in value)
            if isinstance(value, (list, tuple))
            else value
            for key, value in self.params.items()
        }
        try:
            return _MESSAGES.get(self.code, self.code).format(**shown)
        except (KeyError, IndexError):
            return self.code

    def __repr__(self):
        return f"TemplateRuleError({self.code!r}, {self.params!r})"


def _raise_first(errors):
    if errors:
        raise errors[0]


# --------------------------------------------------------------------------
# Length
# --------------------------------------------------------------------------


def whatsapp_length(text):
    """Length of ``text`` as counted by WhatsApp Manager's editor.

    Meta doesn't document how "characters" are counted; the WhatsApp Manager
    editor counter is a JavaScript ``string.length``, i.e. UTF-16 code units.
    So a BMP character (letters, accented letters, '€', '☀') counts 1, an
    astral emoji ('😀') counts 2 and composed emoji count all their parts
    ('👍🏽' = 4, flags = 4, ZWJ families more). This is stricter than
    counting code points or graphemes, so a body accepted here is never too
    long for Meta. Placeholders count with their literal text (``%%NOME%%`` =
    8). No Unicode normalisation is applied: text is counted as given.
    """
    if not text:
        return 0
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# --------------------------------------------------------------------------
# Emoji
# --------------------------------------------------------------------------

_EMOJI_RANGES = (
    (0x1F000, 0x1FAFF),  # mahjong … regional indicators … pictographs … ext-A
    (0x2600, 0x27BF),  # misc symbols, dingbats
    (0x2B00, 0x2BFF),  # misc symbols and arrows (⭐, ⬛)
    (0xFE00, 0xFE0F),  # variation selectors (emoji presentation)
    (0x200D, 0x200D),  # zero width joiner
    (0x20E3, 0x20E3),  # combining enclosing keycap
    (0xE0020, 0xE007F),  # tag characters (subdivision flags)
)


def _is_emoji_char(char):
    cp = ord(char)
    for low, high in _EMOJI_RANGES:
        if low <= cp <= high:
            return True
    # Other pictographic symbols (⌚, ▶, ㊗ …). Symbols below U+2190 (©, ®, °,
    # ™, №) are ordinary typography and stay allowed.
    return cp >= 0x2190 and unicodedata.category(char) == "So"


def has_emoji(text):
    """True when ``text`` contains an emoji or emoji-like pictograph.

    Letters (accented or not), digits, punctuation, currency and the common
    typographic symbols (© ® ° ™) are not emoji.
    """
    return any(_is_emoji_char(char) for char in text or "")


# --------------------------------------------------------------------------
# Body
# --------------------------------------------------------------------------

# Horizontal whitespace counted in a "spaces" run: space, tab, no-break space.
# A tab counts as one space (it is not refused on its own).
_SPACE_RUN_RE = re.compile(rf"[ \t\u00a0]{{{MAX_CONSECUTIVE_SPACES + 1},}}")
_MEDIA_RES = (
    re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)"),  # markdown image
    re.compile(r"data:image/", re.IGNORECASE),  # inline data URI
    re.compile(r"<\s*img\b", re.IGNORECASE),  # pasted HTML image
)


def validate_body(body):
    """Errors of a template body (list, empty = ok)."""
    body = body or ""
    if not body.strip():
        return [TemplateRuleError("body_empty")]
    errors = []
    length = whatsapp_length(body)
    if length > BODY_MAX_LENGTH:
        errors.append(TemplateRuleError("body_too_long", {"length": length, "max": BODY_MAX_LENGTH}))
    runs = [len(m.group()) for m in _SPACE_RUN_RE.finditer(body)]
    if runs:
        errors.append(TemplateRuleError("too_many_spaces", {"count": max(runs), "max": MAX_CONSECUTIVE_SPACES}))
    if any(regex.search(body) for regex in _MEDIA_RES):
        errors.append(TemplateRuleError("media_not_allowed"))
    return errors


def check_body(body):
    _raise_first(validate_body(body))


# --------------------------------------------------------------------------
# Buttons
# --------------------------------------------------------------------------


def _valid_url(url):
    if not url or any(char.isspace() for char in url):
        return False
    parts = re.match(r"^(https?)://([^/?#]+)", url, re.IGNORECASE)
    if not parts:
        return False
    host = parts.group(2).rsplit("@", 1)[-1]
    host = re.sub(r":\d{1,5}$", "", host)
    labels = host.split(".")
    return len(labels) >= 2 and all(re.fullmatch(r"[\w-]+", label) for label in labels)


def _valid_phone(phone):
    if not phone or not phone.startswith("+") or len(phone) > PHONE_MAX_LENGTH:
        return False
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def _button_type(button):
    return (button.get("type") or "").strip().lower()


def validate_buttons(buttons):
    """Errors of a list of buttons ``{'type', 'text', 'value'}`` (list).

    ``type`` is 'url', 'phone' or 'quick_reply'; ``value`` is the URL, the
    phone number (international, with '+'; store it in E.164) or empty.
    """
    buttons = list(buttons or ())
    errors = []
    types = [_button_type(button) for button in buttons]
    if len(buttons) > MAX_BUTTONS:
        errors.append(
            TemplateRuleError(
                "button_count",
                {"type": "total", "count": len(buttons), "max": MAX_BUTTONS},
            )
        )
    for kind, limit in (("url", MAX_URL_BUTTONS), ("phone", MAX_PHONE_BUTTONS)):
        count = types.count(kind)
        if count > limit:
            errors.append(TemplateRuleError("button_count", {"type": kind, "count": count, "max": limit}))
    groups = [kind == "quick_reply" for kind in types if kind in BUTTON_TYPES]
    changes = sum(1 for previous, current in itertools.pairwise(groups) if previous != current)
    if changes > 1:
        errors.append(TemplateRuleError("button_order"))
    for index, (button, kind) in enumerate(zip(buttons, types), start=1):
        text = (button.get("text") or "").strip()
        value = (button.get("value") or "").strip()
        if kind not in BUTTON_TYPES:
            errors.append(TemplateRuleError("button_type", {"index": index, "type": kind}))
        if not text:
            errors.append(TemplateRuleError("button_text_empty", {"index": index}))
        else:
            length = whatsapp_length(text)
            if length > BUTTON_TEXT_MAX_LENGTH:
                errors.append(
                    TemplateRuleError(
                        "button_text_too_long",
                        {
                            "index": index,
                            "text": text,
                            "length": length,
                            "max": BUTTON_TEXT_MAX_LENGTH,
                        },
                    )
                )
            if has_emoji(text):
                errors.append(TemplateRuleError("button_emoji", {"index": index, "text": text}))
        if kind == "url":
            if len(value) > URL_MAX_LENGTH:
                errors.append(
                    TemplateRuleError(
                        "url_too_long",
                        {"index": index, "length": len(value), "max": URL_MAX_LENGTH},
                    )
                )
            elif not _valid_url(value):
                errors.append(TemplateRuleError("url_invalid", {"index": index, "url": value}))
        elif kind == "phone" and not _valid_phone(value):
            errors.append(TemplateRuleError("phone_invalid", {"index": index, "phone": value}))
    return errors


def check_buttons(buttons):
    _raise_first(validate_buttons(buttons))


#: rules on a button's own text (a translation changes only the texts)
_TEXT_CODES = ("button_text_empty", "button_text_too_long", "button_emoji")


def validate_translation_buttons(structure, buttons, lang=None):
    """Errors of the buttons of a translation against ``structure``, the
    template's buttons (``{'type', 'text', 'value'}``): a translation has the
    same number of buttons, of the same kind in the same order (its link and
    number are the template's), each with its own text checked as WhatsApp
    wants it (not empty, at most 25 characters, no emoji). ``lang`` is added
    to the params of every error."""
    structure, buttons = list(structure or ()), list(buttons or ())
    errors = []
    if len(buttons) != len(structure):
        errors.append(
            TemplateRuleError("translation_button_count", {"count": len(buttons), "expected": len(structure)})
        )
    for index, (button, model) in enumerate(zip(buttons, structure), start=1):
        kind, expected = _button_type(button) or _button_type(model), _button_type(model)
        if kind != expected:
            errors.append(
                TemplateRuleError("translation_button_type", {"index": index, "type": kind, "expected": expected})
            )
            continue
        for error in validate_buttons([{"type": expected, "text": button.get("text"), "value": model.get("value")}]):
            if error.code in _TEXT_CODES:
                error.params["index"] = index
                errors.append(error)
    if lang:
        for error in errors:
            error.params["lang"] = lang
    return errors


# --------------------------------------------------------------------------
# Placeholders
# --------------------------------------------------------------------------

# Any %%word%% token; only upper case names are placeholders, other words are
# reported as 'bad_placeholder'. '%%' followed by anything else (spaces,
# digits first, punctuation) is plain text.
_TOKEN_RE = re.compile(r"%%([A-Za-z][A-Za-z0-9_]*)%%")
_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]*")


def _texts(texts):
    if texts is None:
        return []
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, dict):
        texts = texts.values()
    return [text for text in texts if text]


def _tokens(text):
    for match in _TOKEN_RE.finditer(text or ""):
        yield match, bool(_NAME_RE.fullmatch(match.group(1)))


def placeholders(text):
    """Distinct placeholder names of ``text`` in order of first appearance."""
    names = []
    for match, valid in _tokens(text):
        if valid and match.group(1) not in names:
            names.append(match.group(1))
    return names


def validate_placeholders(texts, known_names=()):
    """Errors about placeholders of ``texts`` (a string or an iterable of them).

    ``known_names``: the custom field names defined on the account, the
    :data:`BUILTINS` are always known.
    """
    known = set(BUILTINS) | set(known_names or ())
    bad, used = [], []
    for text in _texts(texts):
        for match, valid in _tokens(text):
            name = match.group(1)
            target = used if valid else bad
            if name not in target:
                target.append(name)
    errors = []
    if bad:
        bad = sorted(bad)
        errors.append(
            TemplateRuleError(
                "bad_placeholder",
                {"names": bad, "suggestions": [n.upper() for n in bad]},
            )
        )
    unknown = sorted(set(used) - known)
    if unknown:
        errors.append(TemplateRuleError("unknown_placeholders", {"names": unknown}))
    return errors


def check_placeholders(texts, known_names=()):
    _raise_first(validate_placeholders(texts, known_names))


def validate_template(body, buttons=(), known_names=(), translations=None, translation_buttons=None):
    """All errors of a template: default body, buttons, each translation,
    placeholders of every body.

    ``translations``: ``{lang: body}``; errors of a translation body get an
    extra ``lang`` param. ``translation_buttons``: ``{lang: buttons}``, the
    buttons of each translation (its own texts), checked against ``buttons``
    (see :func:`validate_translation_buttons`).
    """
    translations = translations or {}
    errors = validate_body(body)
    errors += validate_buttons(buttons)
    for lang, translation in translations.items():
        for error in validate_body(translation):
            error.params["lang"] = lang
            errors.append(error)
    for lang, own in (translation_buttons or {}).items():
        errors += validate_translation_buttons(buttons, own, lang)
    errors += validate_placeholders([body, *translations.values()], known_names)
    return errors


def check_template(body, buttons=(), known_names=(), translations=None):
    _raise_first(validate_template(body, buttons, known_names, translations))


# --------------------------------------------------------------------------
# Positional parameters ({{1}}, {{2}} …)
# --------------------------------------------------------------------------


def positional_mapping(texts, previous=None):
    """``{name: index}`` (1-based) for providers using ``{{1}}``, ``{{2}}``.

    Order of first appearance across ``texts`` (default body first, then the
    translations). With ``previous`` (the mapping already used with the
    provider) existing indexes never change – names no longer used are kept
    too, so an index never gets a new meaning – and new names are appended
    after the highest index.
    """
    mapping = dict(previous or {})
    last = max(mapping.values(), default=0)
    for text in _texts(texts):
        for name in placeholders(text):
            if name not in mapping:
                last += 1
                mapping[name] = last
    return mapping


def to_positional(body, mapping):
    """``body`` with ``%%NAME%%`` replaced by ``{{index}}``.

    Raises 'unknown_placeholders' for names missing from ``mapping``.
    """
    missing = sorted(set(placeholders(body)) - set(mapping))
    if missing:
        raise TemplateRuleError("unknown_placeholders", {"names": missing})

    def repl(match):
        name = match.group(1)
        return "{{" + str(mapping[name]) + "}}" if _NAME_RE.fullmatch(name) else match.group(0)

    return _TOKEN_RE.sub(repl, body or "")


_PARAM_SPACES_RE = re.compile(rf" {{{MAX_CONSECUTIVE_SPACES + 1},}}")


def _clean_param(value):
    # Meta refuses parameter values with new lines, tabs or more than 4
    # consecutive spaces.
    value = re.sub(r"[\r\n\t]+", " ", value)
    return _PARAM_SPACES_RE.sub(" " * MAX_CONSECUTIVE_SPACES, value).strip()


def positional_params(mapping, values, names=None):
    """Parameter values ordered by index.

    ``values``: ``{name: str}`` (already rendered, e.g. with
    :func:`format_value`); ``None``/``False`` become ''. ``names`` limits the
    list to the placeholders actually used by the body being sent (e.g.
    ``placeholders(body_of_that_language)``). New lines/tabs are replaced by a
    space and space runs cut to 4, as Meta requires for parameters.
    """
    wanted = mapping if names is None else [name for name in names if name in mapping]
    result = []
    for name in sorted(wanted, key=lambda n: mapping[n]):
        value = values.get(name)
        result.append(_clean_param("" if value is None or value is False else str(value)))
    return result


# --------------------------------------------------------------------------
# Language choice
# --------------------------------------------------------------------------


def _norm_lang(code):
    return (code or "").replace("-", "_").split("@")[0].split(".")[0].strip()


def _base_lang(code):
    return _norm_lang(code).split("_")[0].lower()


def _match_lang(wanted, available, region=None):
    """Best code of ``available`` for language ``wanted`` ('it' or 'it_IT').

    Exact match first (``wanted_region`` when ``region`` is given), then the
    bare language ('it'), then the same language in any region (in the order
    of ``available``).
    """
    wanted = _norm_lang(wanted)
    if not wanted:
        return None
    by_norm = {}
    for code in available:
        by_norm.setdefault(_norm_lang(code).lower(), code)
    exact = f"{wanted}_{region}" if region and "_" not in wanted else wanted
    for key in (exact.lower(), wanted.lower()):
        if key in by_norm:
            return by_norm[key]
    base = _base_lang(wanted)
    if base in by_norm:
        return by_norm[base]
    for code in available:
        if _base_lang(code) == base:
            return code
    return None


def _region_for(e164):
    region = region_of(e164)
    if region:
        return region
    # Numbers that are possible but not valid (e.g. +1 555 …): use the main
    # region of the country calling code.
    try:
        number = phonenumbers.parse(e164 or "", None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_country_code(number.country_code)
    return region if region and region not in ("ZZ", "001") else None


def language_for_number(e164, available_langs, partner_lang=None, default_lang=None):
    """Language code (one of ``available_langs``) to use for a recipient.

    1. Region of the number (+39 → IT), then the region's official and
       de facto official languages from CLDR (babel), in CLDR order; for each
       one: ``lang_REGION`` exactly, else the same language in any region.
       Languages merely spoken by a share of the population (English in Italy)
       are not used: the partner's language is a better hint.
    2. ``partner_lang``: exact, then same base language.
    3. ``default_lang``: exact, then same base language.
    4. The first available language; None when ``available_langs`` is empty.
    """
    available = [code for code in (available_langs or ()) if code]
    if not available:
        return None
    region = _region_for(e164) if e164 else None
    if region:
        for lang in get_official_languages(region, de_facto=True):
            found = _match_lang(lang, available, region)
            if found:
                return found
    for lang in (partner_lang, default_lang):
        found = _match_lang(lang, available) if lang else None
        if found:
            return found
    return available[0]


def recipient_language(e164, partner_lang=None):
    """Base language code ('it', 'es', 'en'…) a contact is addressed in, as the
    guide's "Lingua" filter sees it: the first official language of the
    number's country (+39 → 'it', +34 → 'es'), else the contact's own language
    ('de_CH' → 'de'); None when neither is known."""
    region = _region_for(e164) if e164 else None
    if region:
        for lang in get_official_languages(region, de_facto=True):
            base = _base_lang(lang)
            if len(base) == 2:
                return base
    base = _base_lang(partner_lang)
    return base if len(base) == 2 else None


def language_names(display_lang=None):
    """``[(code, name)]`` of the two-letter language codes, named in
    ``display_lang`` ('it_IT' → "italiano", "spagnolo"…), sorted by name."""
    names = _locale(display_lang).languages
    return sorted(
        ((code, name) for code, name in names.items() if len(code) == 2 and code.isalpha()),
        key=lambda item: item[1].lower(),
    )


# --------------------------------------------------------------------------
# Values and rendering
# --------------------------------------------------------------------------

_FOUR_DIGIT_YEAR_RE = re.compile(r"(?<!y)yy(?!y)")


def _locale(lang):
    for code in (_norm_lang(lang), _base_lang(lang), "en_US"):
        if not code:
            continue
        try:
            return Locale.parse(code)
        except (ValueError, TypeError, UnknownLocaleError):
            continue
    return Locale.parse("en_US")


def format_value(value, lang=None):
    """Text of a placeholder value in the locale of ``lang`` ('it_IT', 'en_US' …).

    Dates use the locale's *short* pattern with the year forced to 4 digits
    (unambiguous in a message that may be read years later): it_IT
    '25/12/2026', en_US '12/25/2026', en_GB '25/12/2026'. Datetimes add the
    short time ('25/12/2026, 14:30'). Datetimes must be naive and already
    converted to the recipient/user timezone by the caller: no timezone
    conversion happens here. Other values: ``str(value)``; ``None``/``False``
    → ''. ``lang`` None or unknown → en_US.
    """
    if value is None or value is False:
        return ""
    if isinstance(value, (datetime.date, datetime.datetime)):
        locale = _locale(lang)
        pattern = _FOUR_DIGIT_YEAR_RE.sub("y", get_date_format("short", locale=locale).pattern)
        date_text = format_date(value, format=pattern, locale=locale)
        if not isinstance(value, datetime.datetime):
            return date_text
        time_text = format_time(value, format="short", locale=locale)
        return (
            get_datetime_format("short", locale=locale)
            .replace("'", "")
            .replace("{0}", time_text)
            .replace("{1}", date_text)
        )
    return str(value)


def _is_missing(value):
    return value is None or value is False or (isinstance(value, str) and not value.strip())


def render(body, values, formatter=None):
    """``(text, missing)``: ``body`` with its placeholders replaced.

    ``values``: ``{name: value}``; strings are used as they are, other values
    (date, datetime, numbers) go through ``formatter(value)`` – default
    ``format_value(value)`` (en_US). ``missing``: sorted names without a value
    (absent, None, False or blank); their ``%%NAME%%`` stays in the text and
    the caller must not send it. Replacement is single pass: a value
    containing ``%%X%%`` is not expanded again.
    """
    values = values or {}
    formatter = formatter or format_value
    missing = set()

    def repl(match):
        name = match.group(1)
        if not _NAME_RE.fullmatch(name):
            return match.group(0)
        value = values.get(name)
        if _is_missing(value):
            missing.add(name)
            return match.group(0)
        return value if isinstance(value, str) else formatter(value)

    text = _TOKEN_RE.sub(repl, body or "")
    return text, sorted(missing)


def render_checked(body, values, formatter=None):
    """Rendered text; raises 'missing_values' {names} when a value is missing."""
    text, missing = render(body, values, formatter)
    if missing:
        raise TemplateRuleError("missing_values", {"names": missing})
    return text


# --------------------------------------------------------------------------
# Preview
# --------------------------------------------------------------------------

_SENTINEL_RE = re.compile("\ue000(\\d+)\ue001")
_CODE_RE = re.compile(r"```(.+?)```", re.DOTALL)
_STYLE_RES = (
    (re.compile(r"(?<!\w)\*(?=\S)([^*\n]+?)(?<=\S)\*(?!\w)"), "b"),
    (re.compile(r"(?<!\w)_(?=\S)([^_\n]+?)(?<=\S)_(?!\w)"), "i"),
    (re.compile(r"(?<!\w)~(?=\S)([^~\n]+?)(?<=\S)~(?!\w)"), "s"),
)
_BUTTON_CLASSES = {
    "url": "o_spoki_btn_url",
    "phone": "o_spoki_btn_phone",
    "quick_reply": "o_spoki_btn_reply",
}


def preview_html(body, buttons=()):
    """Safe HTML of a WhatsApp-like bubble for ``body`` and ``buttons``.

    The text is escaped first; then ```mono``` → <code>, *bold* → <b>,
    _italic_ → <i>, ~strike~ → <s>, placeholders → <span
    class="o_spoki_placeholder">, new lines → <br/>.
    """
    text = (body or "").replace("\r\n", "\n").replace("\r", "\n")
    text = html.escape(text.replace("\ue000", "").replace("\ue001", ""), quote=True)
    protected = []

    def protect(fragment):
        protected.append(fragment)
        return f"\ue000{len(protected) - 1}\ue001"

    text = _CODE_RE.sub(lambda m: protect(f"<code>{m.group(1)}</code>"), text)
    text = _TOKEN_RE.sub(
        lambda m: (
            protect(f'<span class="o_spoki_placeholder">{m.group(0)}</span>')
            if _NAME_RE.fullmatch(m.group(1))
            else m.group(0)
        ),
        text,
    )
    for regex, tag in _STYLE_RES:
        text = regex.sub(lambda m, tag=tag: f"<{tag}>{m.group(1)}</{tag}>", text)
    text = _SENTINEL_RE.sub(lambda m: protected[int(m.group(1))], text)
    text = text.replace("\n", "<br/>")

    parts = [f'<div class="o_spoki_wa_bubble"><div class="o_spoki_wa_text">{text}</div>']
    buttons = list(buttons or ())
    if buttons:
        parts.append('<div class="o_spoki_wa_buttons">')
        for button in buttons:
            css = _BUTTON_CLASSES.get(_button_type(button), "o_spoki_btn_reply")
            label = html.escape(button.get("text") or "", quote=True)
            title = html.escape(button.get("value") or "", quote=True)
            title_attr = f' title="{title}"' if title else ""
            parts.append(f'<div class="o_spoki_wa_button {css}"{title_attr}>{label}</div>')
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


# --------------------------------------------------------------------------
# Duplicate detection
# --------------------------------------------------------------------------


def _canonical_buttons(buttons):
    return json.dumps(
        [
            {
                "type": _button_type(button),
                "text": (button.get("text") or "").strip(),
                "value": (button.get("value") or "").strip(),
            }
            for button in (buttons or ())
        ],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def template_signature(body, buttons=()):
    """sha1 hex of one body (stripped) + the buttons (canonical JSON, order
    kept)."""
    payload = (body or "").strip() + "\n" + _canonical_buttons(buttons)
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()


def template_signatures_by_lang(bodies, buttons_by_lang, default_buttons=()):
    """Like :func:`template_signatures` with the buttons of each language:
    ``bodies`` and ``buttons_by_lang`` are ``{lang: …}`` (a language without
    buttons of its own uses ``default_buttons``)."""
    return {
        template_signature(body, buttons_by_lang.get(lang, default_buttons))
        for lang, body in bodies.items()
        if (body or "").strip()
    }


def template_signatures(bodies, buttons=()):
    """Set of signatures, one per non-empty body (default + translations;
    a ``{lang: body}`` dict is accepted). Two templates are duplicates (same
    body in any language and same buttons) when their sets intersect."""
    return {template_signature(body, buttons) for body in _texts(bodies) if body.strip()}
