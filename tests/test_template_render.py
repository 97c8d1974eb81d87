"""Plain-Python tests of spoki_whatsapp/tools/template_render.py: the batch
renderer gives, contact by contact, exactly what the per-record rendering of
``spoki.template._render_for_partners`` gave before it (kept below as
``per_record_render``, the loop of that method with the ORM reads replaced by
the same plain values), on a varied sample."""

import random
from datetime import date, datetime

import pytest
import pytz

from spoki_whatsapp.tools import template_rules
from spoki_whatsapp.tools.template_render import BatchRenderer, builtin_values


def provider_lang(code):
    return (code or "").split("_")[0]


def per_record_render(bodies, mapping, template_lang, payload, default_tz, partners):
    """The per-record loop of ``_render_for_partners`` before the batch
    renderer (``partners``: ``[(id, wa_phone, lang, tz, values)]``)."""
    langs = list(bodies)
    names_by_lang = {lang: template_rules.placeholders(body) for lang, body in bodies.items()}
    tz_cache, format_cache, result = {}, {}, {}
    for partner_id, wa_phone, partner_lang, partner_tz, partner_values in partners:
        lang = (
            template_rules.language_for_number(wa_phone, langs, partner_lang, template_lang)
            if len(langs) > 1
            else langs[0]
        )
        tz_name = partner_tz or default_tz
        if tz_name not in tz_cache:
            try:
                tz_cache[tz_name] = pytz.timezone(tz_name)
            except pytz.UnknownTimeZoneError:
                tz_cache[tz_name] = pytz.utc
        tz = tz_cache[tz_name]
        values = dict(partner_values, **payload)
        texts = {}
        for name in names_by_lang[lang]:
            value = values.get(name)
            if isinstance(value, datetime):
                if value.tzinfo is None:
                    value = pytz.utc.localize(value)
                value = value.astimezone(tz).replace(tzinfo=None)
            if isinstance(value, (date, datetime)):
                key = (lang, value)
                if key not in format_cache:
                    format_cache[key] = template_rules.format_value(value, lang)
                value = format_cache[key]
            elif value is not None and value is not False and not isinstance(value, str):
                value = template_rules.format_value(value, lang)
            texts[name] = value
        body, missing = template_rules.render(bodies[lang], texts)
        result[partner_id] = {
            "lang": lang,
            "provider_lang": provider_lang(lang),
            "body": body,
            "params": template_rules.positional_params(mapping, texts, names=names_by_lang[lang]),
            "missing": missing,
        }
    return result


BODIES = {
    "it_IT": "Ciao %%NOME%% %%COGNOME%%, il %%APPUNTAMENTO%% alle %%ORA%%: codice %%CODICE%%. %%nome%% resta",
    "en_US": "Hi %%NOME%%! On %%APPUNTAMENTO%% (%%ORA%%) code %%CODICE%% for %%EMAIL%% %%%%",
    "es_ES": "%%NOME%%: %%CODICE%% %%NUMERO%%",
}
NAMES = ["Maria Grazia Verdi", "Mario Rossi", "ACME Srl", "Cher", "", None, "  Anna   Bianchi "]
PHONES = ["+393331234567", "+14155550123", "+34612345678", "+447700900123", None, "+4930123456"]
LANGS = ["it_IT", "en_US", "es_ES", "de_DE", False, "en_GB"]
TZS = ["Europe/Rome", "America/New_York", False, "Not/AZone", "Asia/Tokyo"]
CODES = ["ABC", "", "  ", "a\nb\tc", "x      y", False, "%%COGNOME%%", " padded "]


def _sample(seed, count=300):
    rng = random.Random(seed)
    partners = []
    for partner_id in range(1, count + 1):
        name = rng.choice(NAMES)
        first, last = rng.choice([(False, False), (False, False), ("Gio", False), (False, "Neri"), ("Lu", "Bo")])
        phone = rng.choice(PHONES)
        values = builtin_values(name, rng.random() < 0.1, first, last, phone, rng.choice(["a@b.it", False]))
        if rng.random() < 0.9:
            values["APPUNTAMENTO"] = rng.choice([date(2026, 7, 15), date(2027, 1, 2), ""])
        if rng.random() < 0.8:
            values["ORA"] = datetime(2026, 7, 15, rng.randrange(24), rng.choice([0, 30]))
        if rng.random() < 0.8:
            values["CODICE"] = rng.choice(CODES)
        partners.append((partner_id, phone, rng.choice(LANGS), rng.choice(TZS), values))
    return partners


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    "bodies, payload",
    [
        (BODIES, {}),
        ({"it_IT": BODIES["it_IT"]}, {}),
        (BODIES, {"NUMERO": 42, "CODICE": "PROMO"}),
        ({"en_US": BODIES["en_US"]}, {"ORA": datetime(2026, 1, 1, 23, 30), "APPUNTAMENTO": date(2026, 2, 1)}),
    ],
)
def test_batch_renderer_matches_per_record_rendering(seed, bodies, payload):
    partners = _sample(seed)
    mapping = template_rules.positional_mapping(list(bodies.values()), previous={"OLD": 1})
    expected = per_record_render(bodies, mapping, "en_US", payload, "Europe/Rome", partners)
    renderer = BatchRenderer(
        bodies,
        mapping,
        template_lang="en_US",
        payload=payload,
        default_tz="Europe/Rome",
        provider_langs={lang: provider_lang(lang) for lang in bodies},
    )
    got = {pid: renderer.render(phone, lang, tz, values) for pid, phone, lang, tz, values in partners}
    assert got == expected
    assert any(r["missing"] for r in got.values()) and any(not r["missing"] for r in got.values())


def test_builtin_values():
    assert builtin_values("Maria Grazia Verdi", False, False, False, "+39333", False) == {
        "NOME": "Maria Grazia",
        "COGNOME": "Verdi",
        "TELEFONO": "+39333",
        "EMAIL": "",
    }
    assert builtin_values("ACME Srl", True, False, False, None, "a@b.it")["NOME"] == "ACME Srl"
    assert builtin_values("Mario Rossi", False, "Gio", False, None, None)["COGNOME"] == ""


def test_render_one_contact():
    renderer = BatchRenderer({"it_IT": "Ciao %%NOME%%, alle %%ORA%%"}, {"NOME": 1, "ORA": 2}, "it_IT")
    result = renderer.render("+393331234567", "it_IT", "Europe/Rome", {"NOME": "Anna", "ORA": datetime(2026, 7, 15, 8)})
    assert result == {
        "lang": "it_IT",
        "provider_lang": "it_IT",
        "body": "Ciao Anna, alle 15/07/2026, 10:00",
        "params": ["Anna", "15/07/2026, 10:00"],
        "missing": [],
    }
    missing = renderer.render(None, False, False, {"NOME": " "})
    assert missing["body"] == "Ciao %%NOME%%, alle %%ORA%%"
    assert (missing["params"], missing["missing"]) == (["", ""], ["NOME", "ORA"])
