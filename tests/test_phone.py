import pytest

from spoki_whatsapp.tools.phone import normalize_many, normalize_phone, region_of


@pytest.mark.parametrize(
    "raw",
    [
        "+39 347 123 4567",
        "+393471234567",
        "0039 347 1234567",
        "0039-347-123-4567",
        "347 1234567",
        "347-123-4567",
        "3471234567",
        " (347) 123.4567 ",
        "393471234567",
        393471234567.0,
    ],
)
def test_italian_mobile_variants(raw):
    assert normalize_phone(raw, "IT") == ("+393471234567", True, "")


def test_italian_landline_keeps_leading_zero():
    assert normalize_phone("06 1234 5678", "IT").e164 == "+390612345678"
    assert normalize_phone("+39 06 12345678", "US").e164 == "+390612345678"


@pytest.mark.parametrize(
    "raw,region,expected",
    [
        ("+1 650 253 0000", "IT", "+16502530000"),
        ("(650) 253-0000", "US", "+16502530000"),
        ("+44 7911 123456", "IT", "+447911123456"),
        ("07911 123456", "GB", "+447911123456"),
        ("+34 612 345 678", None, "+34612345678"),
        ("0034612345678", "IT", "+34612345678"),
    ],
)
def test_foreign_numbers(raw, region, expected):
    result = normalize_phone(raw, region)
    assert result.e164 == expected and result.valid


@pytest.mark.parametrize(
    "raw,reason",
    [
        ("", "empty"),
        (None, "empty"),
        ("garbage", "unparsable"),
        ("abc-def", "unparsable"),
        ("12", "too_short"),
        ("+39 347 123 4567 8901 234", "too_long"),
    ],
)
def test_garbage_is_invalid_with_reason(raw, reason):
    result = normalize_phone(raw, "IT")
    assert not result.valid
    assert result.reason == reason


def test_no_region_for_national_number():
    result = normalize_phone("347 1234567", None)
    assert not result.valid and result.e164 is None


def test_normalize_many_and_region():
    out = normalize_many(["3471234567", "+34612345678", "3471234567"], "IT")
    assert [r.e164 for r in out] == ["+393471234567", "+34612345678", "+393471234567"]
    assert region_of("+34612345678") == "ES"
    assert region_of("+393471234567") == "IT"
    assert region_of("nonsense") is None


def test_default_region_prefers_the_own_whatsapp_number():
    from spoki_whatsapp.tools.phone import default_region

    assert default_region("+39 02 0000 1001", "US") == "IT"
    assert default_region("+1 212 555 0100", "it") == "US"
    assert default_region("", "it") == "IT"
    assert default_region("0200001001", "es") == "ES"  # no prefix on the own number: not a hint
    assert default_region(None, None) is None
