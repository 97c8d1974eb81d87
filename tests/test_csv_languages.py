"""spoki_whatsapp_csv.tools.languages.RecipientLanguages gives what
template_rules.recipient_language gives, number by number."""

import random

import phonenumbers
import pytest

from spoki_whatsapp.tools.template_rules import recipient_language
from spoki_whatsapp_csv.tools.languages import RecipientLanguages

LANGS = (None, "", "de_CH", "fr_FR", "it_IT", "pt_BR")


def example_numbers():
    """One valid example number per region and type, plus non-geographic ones."""
    numbers = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                numbers.add(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            numbers.add(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
    return sorted(numbers)


def test_same_language_as_recipient_language_for_every_region():
    languages = RecipientLanguages()
    numbers = example_numbers()
    assert len(numbers) > 400
    for number in numbers:
        for lang in LANGS:
            assert languages(number, lang) == recipient_language(number, lang), (number, lang)


def test_random_and_odd_numbers():
    languages = RecipientLanguages()
    rng = random.Random(15)
    numbers = [f"+{rng.randint(1, 999)}{rng.randint(10**5, 10**11)}" for _i in range(3000)]
    numbers += ["", None, "+", "abc", "+0123456789", "+39", "+3934712345678901234", "347 123 4567"]
    for number in numbers:
        for lang in (None, "es_ES"):
            assert languages(number, lang) == recipient_language(number, lang), (number, lang)


@pytest.mark.parametrize(
    ("number", "fixed"),
    [("+393471234567", (True, "it")), ("+390669812345", (True, "it")), ("+17875550123", (False, None))],
)
def test_fixed_by_calling_code(number, fixed):
    assert RecipientLanguages().fixed(number) == fixed
