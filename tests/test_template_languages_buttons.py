"""Issue 14, templates: WhatsApp's own language list, buttons per language
(rules and provider payloads), rejection reasons recognised."""

import pytest

from spoki_whatsapp.tools import whatsapp_languages
from spoki_whatsapp.tools.providers.base import TemplateSpec
from spoki_whatsapp.tools.providers.cloud_api import template_rejection_codes
from spoki_whatsapp.tools.template_rules import (
    template_signatures_by_lang,
    validate_template,
    validate_translation_buttons,
)

STRUCTURE = [
    {"type": "url", "text": "Sito", "value": "https://example.com"},
    {"type": "quick_reply", "text": "Conferma", "value": ""},
]


def test_language_list_is_whatsapps_not_odoos():
    codes = dict(whatsapp_languages.language_choices("en_US"))
    assert codes["it"] == "Italian (it)"
    assert codes["en_US"] == "English (US) (en_US)"
    assert {"en", "en_GB", "pt_BR", "zh_TW", "fil", "rw_RW"} <= set(codes)
    assert "it_IT" not in codes  # Meta's code for Italian is 'it'
    italian = dict(whatsapp_languages.language_choices("it_IT"))
    assert italian["en_US"] == "Inglese (Stati Uniti) (en_US)"
    assert italian["it"] == "Italiano (it)"
    labels = [label for _code, label in whatsapp_languages.language_choices("it_IT")]
    assert labels == sorted(labels, key=str.lower)


@pytest.mark.parametrize(
    ("code", "expected"),
    [("it_IT", "it"), ("en_US", "en_US"), ("en", "en"), ("es_ES", "es_ES"), ("de_CH", "de"), ("sr@latin", "sr")],
)
def test_whatsapp_code_of_odoo_codes(code, expected):
    assert whatsapp_languages.whatsapp_code(code) == expected


def test_whatsapp_code_unknown():
    assert whatsapp_languages.whatsapp_code("xx_YY") is None
    assert whatsapp_languages.whatsapp_code("") is None


def test_translation_buttons_same_structure_own_texts():
    assert validate_translation_buttons(STRUCTURE, [{"type": "url", "text": "Website"}, {"text": "Confirm"}]) == []
    errors = validate_translation_buttons(STRUCTURE, [{"type": "url", "text": "Website"}], "en_US")
    assert [(e.code, e.params["lang"]) for e in errors] == [("translation_button_count", "en_US")]
    errors = validate_translation_buttons(STRUCTURE, [{"type": "quick_reply", "text": "Web"}, {"text": "Ok"}])
    assert [e.code for e in errors] == ["translation_button_type"]
    errors = validate_translation_buttons(
        STRUCTURE, [{"type": "url", "text": "A website with a very long label"}, {"text": "Yes 👍"}]
    )
    assert [(e.code, e.params["index"]) for e in errors] == [("button_text_too_long", 1), ("button_emoji", 2)]
    errors = validate_translation_buttons(STRUCTURE, [{"type": "url", "text": ""}, {"text": "Ok"}])
    assert [e.code for e in errors] == ["button_text_empty"]


def test_validate_template_checks_each_language_buttons():
    errors = validate_template(
        "Ciao, a presto!",
        STRUCTURE,
        translations={"en_US": "Hi, see you!"},
        translation_buttons={"en_US": [{"type": "url", "text": "Website"}]},
    )
    assert [(e.code, e.params.get("lang")) for e in errors] == [("translation_button_count", "en_US")]


def test_signatures_use_each_language_buttons():
    bodies = {"it": "Ciao!", "en": "Hi!"}
    english = [{"type": "url", "text": "Website", "value": "https://example.com"}, {"text": "Confirm"}]
    one = template_signatures_by_lang(bodies, {"en": english}, STRUCTURE)
    two = template_signatures_by_lang(bodies, {"en": STRUCTURE}, STRUCTURE)
    assert len(one & two) == 1  # the Italian version is the same, the English one is not


def _spec():
    return TemplateSpec(
        name="promo",
        category="marketing",
        languages={"it": "Ciao, a presto!", "en_US": "Hi, see you soon!"},
        buttons=STRUCTURE,
        lang_buttons={
            "en_US": [
                {"type": "url", "text": "Website", "value": "https://example.com"},
                {"type": "quick_reply", "text": "Confirm", "value": ""},
            ]
        },
    )


def test_spec_buttons_for_language():
    spec = _spec()
    assert [b["text"] for b in spec.buttons_for("en_US")] == ["Website", "Confirm"]
    assert [b["text"] for b in spec.buttons_for("it")] == ["Sito", "Conferma"]


def test_meta_submits_each_language_with_its_buttons(fake, meta):
    meta.submit_template(_spec())
    posts = {r.json["language"]: r.json for r in fake.requests_to("/message_templates", "POST")}
    texts = {
        lang: [b["text"] for c in payload["components"] if c["type"] == "BUTTONS" for b in c["buttons"]]
        for lang, payload in posts.items()
    }
    assert texts == {"it": ["Sito", "Conferma"], "en_US": ["Website", "Confirm"]}
    url = next(c for c in posts["en_US"]["components"] if c["type"] == "BUTTONS")["buttons"][0]
    assert url == {"type": "URL", "text": "Website", "url": "https://example.com"}


def test_spoki_submits_each_language_with_its_buttons(fake, spoki):
    spoki.submit_template(_spec())
    create = fake.requests_to("/templates/", "POST")[0]
    texts = {
        loc["language"]: [b["text"] for b in loc["templatebuttoncomponent_set"]]
        for loc in create.json["templatelocalization_set"]
    }
    assert texts == {"it": ["Sito", "Conferma"], "en_US": ["Website", "Confirm"]}


@pytest.mark.parametrize(
    ("reason", "codes"),
    [
        ("INVALID_FORMAT", ["INVALID_FORMAT"]),
        ("TAG_CONTENT_MISMATCH", ["TAG_CONTENT_MISMATCH"]),
        ("PAUSED: SCAM", ["PAUSED", "SCAM"]),
        ("INVALID_FORMAT: variable parameters can't be at the start or end of the body", ["INVALID_FORMAT"]),
        ("PROMOTIONAL_LINK: link shorteners are not allowed", ["PROMOTIONAL_LINK"]),
        ("promotional; abusive content", ["PROMOTIONAL", "ABUSIVE_CONTENT"]),
        ("Something Meta never said", []),
        ("", []),
    ],
)
def test_rejection_codes(reason, codes):
    assert template_rejection_codes(reason) == codes
