"""The conversation price list and the sandbox's credit consumption (tools/pricing.py)."""

import pytest

from spoki_whatsapp.tools import pricing
from spoki_whatsapp.tools.providers import provider_class


def test_defaults_cover_every_category():
    assert set(pricing.DEFAULT_PRICES) == set(pricing.CATEGORIES)
    assert pricing.DEFAULT_PRICES["service"] == 0.0
    assert pricing.DEFAULT_PRICES["marketing"] > pricing.DEFAULT_PRICES["utility"] > 0


def test_parse_lines_and_json():
    assert pricing.parse_prices("") == {}
    assert pricing.parse_prices("marketing = 0,05\n# comment\nutility: 0.02") == {"marketing": 0.05, "utility": 0.02}
    assert pricing.parse_prices('{"authentication": 0.01}') == {"authentication": 0.01}
    prices = pricing.price_list(pricing.parse_prices("marketing = 0.1"))
    assert prices["marketing"] == 0.1 and prices["utility"] == pricing.DEFAULT_PRICES["utility"]
    assert pricing.parse_prices(pricing.format_prices(prices)) == prices


@pytest.mark.parametrize(
    "text, problem",
    [
        ("promo = 1", "unknown category"),
        ("marketing = -1", "line 1"),
        ('{"utility": "x"}', "not a number"),
        ("[1]", "line 1"),
    ],
)
def test_parse_refuses(text, problem):
    with pytest.raises(ValueError, match=problem):
        pricing.parse_prices(text)


def test_consumption_by_category():
    assert pricing.conversation_category("business", "utility") == "utility"
    assert pricing.conversation_category("customer", "marketing") == "service"
    assert pricing.conversation_category("business", None) == "service"
    counts = {"marketing": 10, "utility": 5, "service": 7}
    assert pricing.consumption(counts, pricing.price_list({"marketing": 0.1, "utility": 0.02})) == 1.1
    assert pricing.consumption({}) == 0


def test_which_providers_report_a_real_credit():
    assert provider_class("spoki").reports_credit is True
    assert provider_class("sandbox").reports_credit is True  # consumed by the price list
    assert provider_class("meta").reports_credit is False  # Meta bills, it reports no balance
