"""The language a contact is addressed in (``res.partner.wa_lang``), for the
numbers of a whole file at once.

``spoki_whatsapp.tools.template_rules.recipient_language(e164, lang)`` parses
each number and looks its region up among the regions of its country calling
code (tens of µs a number: the third of a 100,000-row import went there). The
result only depends on that region's official languages, and for most calling
codes every region sharing it has the same first official language (+39: IT and
VA, Italian): then the calling code alone decides, whatever the number and the
contact's own language. :class:`RecipientLanguages` answers those from a cache
per calling code and asks ``recipient_language`` itself for the others (+1:
the United States and Puerto Rico differ), so the results are identical
(tests/test_csv_tools.py checks it). No Odoo import.
"""

import importlib

from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from .analysis import phone_module

__all__ = ["RecipientLanguages"]


def template_rules_module():
    """``spoki_whatsapp.tools.template_rules`` (under Odoo or in plain Python)."""
    return importlib.import_module(phone_module().__name__.rsplit(".", 1)[0] + ".template_rules")


class RecipientLanguages:
    """``languages(e164, lang)`` → the same as ``recipient_language(e164, lang)``;
    ``languages.fixed(e164)`` → ``(True, code)`` when the number alone decides
    (the contact's language is not needed), else ``(False, None)``."""

    def __init__(self):
        self.rules = template_rules_module()
        self.is_e164 = phone_module().is_e164
        self._by_code = {}  # calling code → (fixed?, code)

    def _calling_code(self, e164):
        """The country calling code of an E.164 number, as ``phonenumbers.parse``
        extracts it (calling codes are prefix-free: the first of 1 to 3 digits
        that is one), or None."""
        if not self.is_e164(e164):
            return None
        for length in (1, 2, 3):
            code = int(e164[1 : 1 + length])
            if code in COUNTRY_CODE_TO_REGION_CODE:
                return code
        return None

    def _region_language(self, region):
        rules = self.rules
        for lang in rules.get_official_languages(region, de_facto=True):
            base = rules._base_lang(lang)
            if len(base) == 2:
                return base
        return None

    def fixed(self, e164):
        code = self._calling_code(e164)
        if code is None:
            return False, None
        found = self._by_code.get(code)
        if found is None:
            languages = {self._region_language(region) for region in COUNTRY_CODE_TO_REGION_CODE[code]}
            # a region without an official language falls back to the contact's
            languages = languages if None not in languages else set()
            found = self._by_code[code] = (True, languages.pop()) if len(languages) == 1 else (False, None)
        return found

    def __call__(self, e164, lang=None):
        known, code = self.fixed(e164)
        if known:
            return code
        return self.rules.recipient_language(e164, lang)
