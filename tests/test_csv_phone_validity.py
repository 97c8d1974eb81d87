"""spoki_whatsapp_csv.tools.analysis.is_valid_number answers as
phonenumbers.is_valid_number (it asks the likeliest number types first)."""

import random

import phonenumbers

from spoki_whatsapp.tools.phone import normalize_phone
from spoki_whatsapp_csv.tools.analysis import fast_normalizer, is_valid_number, parse_plus_digits

TYPES = list(range(11))  # every phonenumbers.PhoneNumberType but UNKNOWN


def examples():
    numbers = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in TYPES:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                numbers.append(example)
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            numbers.append(example)
    return numbers


def variants(number, rng):
    """The number, its neighbours and shorter/longer forms: valid and invalid ones."""
    nsn = phonenumbers.national_significant_number(number)
    texts = {nsn, nsn[:-1], nsn + "0", nsn[:-2] + "99", str(rng.randint(1, 9)) + nsn[1:]}
    for _i in range(6):
        position = rng.randrange(len(nsn))
        texts.add(nsn[:position] + str(rng.randint(0, 9)) + nsn[position + 1 :])
    for text in texts:
        try:
            yield phonenumbers.parse(f"+{number.country_code}{text}", None)
        except phonenumbers.NumberParseException:
            continue


def test_same_answer_as_phonenumbers():
    rng = random.Random(15)
    checked = valid = 0
    for example in examples():
        for number in variants(example, rng):
            expected = phonenumbers.is_valid_number(number)
            assert is_valid_number(number) == expected, phonenumbers.format_number(number, 0)
            checked, valid = checked + 1, valid + expected
    assert checked > 5000 and 0.2 < valid / checked < 0.8, (checked, valid)


def test_random_numbers_and_the_normalizer():
    rng = random.Random(39)
    normalize = fast_normalizer()
    for _i in range(20000):
        raw = f"+{rng.randint(1, 999)} {rng.randint(10**4, 10**11)}"
        try:
            number = phonenumbers.parse(raw, None)
        except phonenumbers.NumberParseException:
            number = None
        if number is not None:
            assert is_valid_number(number) == phonenumbers.is_valid_number(number), raw
        assert normalize(raw, "IT") == normalize_phone(raw, "IT"), raw
    for raw in ["347 123 4567", "06 6988 1234", "+39 06 698 12345", "0039 3471234567", "+1 787 555 0123", "12"]:
        assert normalize(raw, "IT") == normalize_phone(raw, "IT"), raw


def test_parse_plus_digits_same_number_as_parse():
    rng = random.Random(7)
    texts = []
    for example in examples():
        nsn = phonenumbers.national_significant_number(example)
        code = example.country_code
        texts += [f"+{code}{nsn}", f"+{code}0{nsn}", f"+{code}{nsn[:-1]}", f"+{code}00{nsn}", f"+{code}1{nsn}"]
    texts += [f"+{rng.randint(1, 999)}{rng.randint(0, 10**12)}" for _i in range(20000)]
    texts += ["+", "+1", "+12", "+0391234567", "+39" + "9" * 20, "+3906698", "+390669812345"]
    shortcut = 0
    for text in texts:
        number = parse_plus_digits(text)
        if number is None:
            continue
        shortcut += 1
        assert number == phonenumbers.parse(text, None), text
        assert phonenumbers.format_number(number, 0) == phonenumbers.format_number(phonenumbers.parse(text, None), 0)
    assert shortcut > 0.9 * len(texts) - 100, (shortcut, len(texts))


def test_parse_national_digits_same_number_as_parse():
    rng = random.Random(8)
    cases = []
    for example in examples():
        region = phonenumbers.region_code_for_number(example)
        if region in (None, "001"):
            continue
        nsn = phonenumbers.national_significant_number(example)
        prefix = phonenumbers.PhoneMetadata.metadata_for_region(region).national_prefix or ""
        for text in (nsn, prefix + nsn, nsn[:-1], nsn + "7", f"{example.country_code}{nsn}", "00" + nsn, "011" + nsn):
            cases.append((text, region))
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    cases += [(str(rng.randint(10**2, 10**12)), rng.choice(regions)) for _i in range(20000)]
    cases += [("3471234567", "IT"), ("0669812345", "IT"), ("393471234567", "IT"), ("12", "IT"), ("3471234567", "ZZ")]
    shortcut = 0
    for text, region in cases:
        number = parse_plus_digits(text, region)
        if number is None:
            continue
        shortcut += 1
        assert number == phonenumbers.parse(text, region), (text, region)
    assert shortcut > 0.8 * len(cases), (shortcut, len(cases))


def test_normalizer_on_national_numbers():
    rng = random.Random(40)
    normalize = fast_normalizer()
    regions = ["IT", "VA", "US", "GB", "DE", "FR", "ES", "CH", "BR", "AR", "MX", "IN", "JP", "AU", "RU", "KZ"]
    for _i in range(20000):
        region = rng.choice(regions)
        raw = str(rng.choice([rng.randint(10**5, 10**10), rng.randint(10**9, 10**11)]))
        raw = rng.choice(["", "0", "00", "+", "011"]) + raw
        assert normalize(raw, region) == normalize_phone(raw, region), (raw, region)
