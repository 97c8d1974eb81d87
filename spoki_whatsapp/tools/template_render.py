"""Rendering one template for many contacts (plain Python, no Odoo import).

``spoki.template._render_for_partners`` reads what the contacts need in a few
set-based queries (``res.partner._spoki_render_data``) and hands the rows to
:class:`BatchRenderer`, which renders them without touching the database: the
language choice, timezone conversion, locale formatting, placeholder
replacement and positional parameters are those of :mod:`template_rules`, with
what doesn't depend on the contact (the bodies split at their placeholders,
formatted dates, timezones) computed once per batch.
"""

from datetime import date, datetime

import pytz

from . import template_rules
from .names import split_name

__all__ = ["BatchRenderer", "builtin_values"]


def builtin_values(name, is_company, first_name, last_name, wa_phone, email):
    """``{NOME, COGNOME, TELEFONO, EMAIL}`` of a contact: the explicit
    first/last names when either is set, else split from the name (see
    :func:`names.split_name`)."""
    if first_name or last_name:
        first, last = first_name or "", last_name or ""
    else:
        first, last = split_name(name, is_company)
    return {"NOME": first, "COGNOME": last, "TELEFONO": wa_phone or "", "EMAIL": email or ""}


def _compile(body):
    """``body`` as ``[literal, name, literal, name, …, literal]`` split at its
    placeholders (tokens that aren't placeholders, e.g. ``%%nome%%``, stay in
    the literals), so that rendering is a join (same result as
    :func:`template_rules.render`)."""
    parts, last = [], 0
    for match, valid in template_rules._tokens(body or ""):
        if valid:
            parts.append((body or "")[last : match.start()])
            parts.append(match.group(1))
            last = match.end()
    parts.append((body or "")[last:])
    return parts


def _clean_param(value):
    # template_rules._clean_param without its two regular expressions for the
    # usual value (no new line, tab or run of spaces): same result
    if "\n" in value or "\r" in value or "\t" in value or "     " in value:
        return template_rules._clean_param(value)
    return value.strip()


class BatchRenderer:
    """Render one template (``bodies``: ``{lang: body}``, the main language
    first) for many contacts.

    ``mapping``: the template's positional mapping ``{name: index}``;
    ``template_lang``: its language (fallback of the language choice);
    ``payload``: ``{NAME: value}`` overriding the contacts' values (already
    typed); ``default_tz``: timezone of contacts without one;
    ``provider_langs``: ``{lang: provider code}``.
    """

    def __init__(self, bodies, mapping, template_lang=None, payload=None, default_tz="UTC", provider_langs=None):
        self.bodies = bodies
        self.langs = list(bodies)
        self.template_lang = template_lang
        self.payload = payload or {}
        self.default_tz = default_tz or "UTC"
        self.provider_langs = provider_langs or {}
        self.names = {lang: template_rules.placeholders(body) for lang, body in bodies.items()}
        self.parts = {lang: _compile(body) for lang, body in bodies.items()}
        self.param_names = {
            lang: sorted((name for name in names if name in mapping), key=lambda n: mapping[n])
            for lang, names in self.names.items()
        }
        self._tz_cache, self._format_cache = {}, {}

    def _tz(self, tz_name):
        tz_name = tz_name or self.default_tz
        tz = self._tz_cache.get(tz_name)
        if tz is None:
            try:
                tz = pytz.timezone(tz_name)
            except pytz.UnknownTimeZoneError:
                tz = pytz.utc
            self._tz_cache[tz_name] = tz
        return tz

    def _text(self, value, lang, tz_name):
        """A value as the text put in the message (None/False stay as they are)."""
        if isinstance(value, datetime):
            if value.tzinfo is None:
                value = pytz.utc.localize(value)
            value = value.astimezone(self._tz(tz_name)).replace(tzinfo=None)
        if isinstance(value, (date, datetime)):
            key = (lang, value)
            text = self._format_cache.get(key)
            if text is None:
                text = self._format_cache[key] = template_rules.format_value(value, lang)
            return text
        if value is not None and value is not False and not isinstance(value, str):
            return template_rules.format_value(value, lang)
        return value

    def render(self, wa_phone=None, partner_lang=None, tz=None, values=None):
        """``{'lang', 'provider_lang', 'body', 'params', 'missing'}`` for one
        contact (number, language, timezone, ``{NAME: typed value}``); see
        ``spoki.template._render_for_partners``."""
        langs = self.langs
        lang = (
            template_rules.language_for_number(wa_phone, langs, partner_lang, self.template_lang)
            if len(langs) > 1
            else langs[0]  # one language: no number parsing needed
        )
        values = values or {}
        payload = self.payload
        texts = {}
        for name in self.names[lang]:
            value = payload[name] if name in payload else values.get(name)
            if value is not None and value is not False and not isinstance(value, str):
                value = self._text(value, lang, tz)
            texts[name] = value
        parts = self.parts[lang]
        out, missing = [parts[0]], set()
        for index in range(1, len(parts), 2):
            name = parts[index]
            value = texts.get(name)
            if value is None or value is False or not value.strip():
                missing.add(name)
                out.append(f"%%{name}%%")
            else:
                out.append(value)
            out.append(parts[index + 1])
        params = []
        for name in self.param_names[lang]:
            value = texts.get(name)
            params.append(_clean_param("" if value is None or value is False else value))
        return {
            "lang": lang,
            "provider_lang": self.provider_langs.get(lang, lang),
            "body": "".join(out),
            "params": params,
            "missing": sorted(missing),
        }
