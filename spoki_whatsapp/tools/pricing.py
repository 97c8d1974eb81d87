"""What WhatsApp conversations cost: Meta's per-category price list, the
sandbox's credit consumption. Plain Python (no odoo import).

Meta bills each 24-hour conversation by the category of the template that
opened it (marketing, utility, authentication) or as *service* when the
customer opened it. The defaults below are Meta's rates for Italian numbers
(EUR per conversation; service conversations are free since November 2024);
each WhatsApp account can override any of them (``parse_prices``)."""

import json
import re

__all__ = ["CATEGORIES", "DEFAULT_PRICES", "conversation_category", "consumption", "format_prices", "parse_prices"]

#: billing categories of a conversation, in display order
CATEGORIES = ("marketing", "utility", "authentication", "service")

#: default price of one conversation per category (EUR, Meta's rates for Italy)
DEFAULT_PRICES = {"marketing": 0.0691, "utility": 0.0300, "authentication": 0.0300, "service": 0.0}

_LINE = re.compile(r"^\s*([A-Za-z_]+)\s*[:=]\s*([0-9]+(?:[.,][0-9]+)?)\s*$")


def parse_prices(text):
    """Per-account overrides: ``{category: price}`` from a JSON object or from
    lines ``category = price`` (``:`` works too, ``,`` as decimal separator,
    ``#`` comments). Empty text: no override. ValueError names the first
    problem (unknown category, not a number, negative price)."""
    text = (text or "").strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc.msg}") from None
        if not isinstance(raw, dict):
            raise ValueError("a JSON object is expected")
        items = list(raw.items())
    else:
        items = []
        for number, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            match = _LINE.match(line)
            if not match:
                raise ValueError(f"line {number}: write “category = price”")
            items.append((match.group(1), match.group(2).replace(",", ".")))
    prices = {}
    for category, value in items:
        category = str(category).strip().lower()
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r} (one of: {', '.join(CATEGORIES)})")
        try:
            price = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{category}: {value!r} is not a number") from None
        if price < 0:
            raise ValueError(f"{category}: a price can't be negative")
        prices[category] = price
    return prices


def price_list(overrides=None):
    """The defaults with ``overrides`` applied."""
    return dict(DEFAULT_PRICES, **(overrides or {}))


def format_prices(prices):
    """``category = price`` lines (the editable form of a price list)."""
    return "\n".join(f"{category} = {prices[category]:g}" for category in CATEGORIES if category in prices)


def conversation_category(opened_by, template_category=None):
    """Billing category of a conversation: the template category when a
    template opened it, ``service`` when the customer did (or a free reply)."""
    if opened_by == "business" and template_category in CATEGORIES:
        return template_category
    return "service"


def consumption(counts, prices=None):
    """Credit consumed by ``counts`` (``{category: conversations}``) at
    ``prices`` (the defaults when None); unknown categories cost nothing."""
    prices = price_list() if prices is None else prices
    return round(sum(prices.get(category, 0.0) * count for category, count in counts.items()), 4)
