import datetime

import pytest

from spoki_whatsapp.tools.template_rules import (
    BODY_MAX_LENGTH,
    BUILTINS,
    TemplateRuleError,
    check_body,
    check_buttons,
    check_placeholders,
    check_template,
    format_value,
    has_emoji,
    language_for_number,
    language_names,
    placeholders,
    positional_mapping,
    positional_params,
    preview_html,
    recipient_language,
    render,
    render_checked,
    template_signature,
    template_signatures,
    to_positional,
    validate_body,
    validate_buttons,
    validate_placeholders,
    validate_template,
    whatsapp_length,
)


def codes(errors):
    return [error.code for error in errors]


def url(text="Sito", value="https://www.example.com/offerta"):
    return {"type": "url", "text": text, "value": value}


def phone(text="Chiamaci", value="+39 06 1234 5678"):
    return {"type": "phone", "text": text, "value": value}


def reply(text="Sì"):
    return {"type": "quick_reply", "text": text, "value": ""}


# ---------------------------------------------------------------- errors


def test_error_has_code_params_and_english_message():
    error = TemplateRuleError("body_too_long", {"length": 1001, "max": 1000})
    assert isinstance(error, ValueError)
    assert error.code == "body_too_long"
    assert error.params == {"length": 1001, "max": 1000}
    assert str(error) == "The message text is 1001 characters long, the maximum is 1000."


def test_error_message_lists_names():
    error = TemplateRuleError("unknown_placeholders", {"names": ["CITTA", "ZONA"]})
    assert str(error) == "Unknown placeholders: %%CITTA%%, %%ZONA%%."


# ---------------------------------------------------------------- length


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        (None, 0),
        ("Ciao", 4),
        ("Sì, è così", 10),  # accented letters: 1 each
        ("€☀", 2),  # BMP symbols: 1 each
        ("😀", 2),  # astral emoji: 2 UTF-16 units
        ("👍🏽", 4),  # emoji + skin tone modifier
        ("🇮🇹", 4),  # flag = 2 regional indicators
        ("%%NOME%%", 8),  # placeholders count literally
    ],
)
def test_whatsapp_length_counts_utf16_units(text, expected):
    assert whatsapp_length(text) == expected


# ---------------------------------------------------------------- body


def test_body_1000_chars_ok_1001_too_long():
    assert validate_body("a" * BODY_MAX_LENGTH) == []
    errors = validate_body("a" * (BODY_MAX_LENGTH + 1))
    assert codes(errors) == ["body_too_long"]
    assert errors[0].params == {"length": 1001, "max": 1000}


def test_body_length_counts_emoji_as_two():
    assert validate_body("a" * 998 + "😀") == []
    assert codes(validate_body("a" * 999 + "😀")) == ["body_too_long"]


def test_body_emoji_allowed():
    assert validate_body("Ciao %%NOME%% 👋🎉, *offerta* _speciale_ ~vecchia~ ```CODICE```") == []


@pytest.mark.parametrize("body", [None, "", "   \n\t "])
def test_body_empty(body):
    assert codes(validate_body(body)) == ["body_empty"]


def test_four_spaces_ok_five_refused():
    assert validate_body("Ciao    mondo") == []
    errors = validate_body("Ciao     mondo")
    assert codes(errors) == ["too_many_spaces"]
    assert errors[0].params == {"count": 5, "max": 4}


def test_tab_counts_as_a_space_in_a_run():
    assert validate_body("Totale:\t10 €") == []
    assert codes(validate_body("Totale:  \t  10 €")) == ["too_many_spaces"]


def test_newlines_are_not_spaces():
    assert validate_body("Riga 1\n\n\n\n\nRiga 2") == []


@pytest.mark.parametrize(
    "body",
    [
        "Guarda ![foto](https://example.com/a.png)",
        "Logo data:image/png;base64,iVBORw0KGgo=",
        'Foto <img src="https://example.com/a.png">',
    ],
)
def test_embedded_image_refused(body):
    assert codes(validate_body(body)) == ["media_not_allowed"]


def test_link_to_image_is_plain_text():
    assert validate_body("Catalogo: https://example.com/catalogo.png") == []


def test_check_body_raises_first_error():
    with pytest.raises(TemplateRuleError) as info:
        check_body("x" * 1001 + "     ")
    assert info.value.code == "body_too_long"
    check_body("ok")


# ---------------------------------------------------------------- emoji


@pytest.mark.parametrize("text", ["Sì, è così", "Perché no?", "20°C", "Marca™ ©", "5 € - 10%"])
def test_no_emoji_in_ordinary_text(text):
    assert not has_emoji(text)


@pytest.mark.parametrize("text", ["Ok 👍", "⭐ Stelle", "☎ Chiama", "1️⃣", "❤️", "🇮🇹"])
def test_emoji_detected(text):
    assert has_emoji(text)


# ---------------------------------------------------------------- buttons


def test_valid_buttons():
    assert validate_buttons([url(), url("Catalogo"), phone(), reply("Sì, è così"), reply("No")]) == []
    assert validate_buttons([]) == []


def test_emoji_in_button_refused_accents_ok():
    assert validate_buttons([reply("Sì, è così")]) == []
    errors = validate_buttons([reply("Sì 👍")])
    assert codes(errors) == ["button_emoji"]
    assert errors[0].params == {"index": 1, "text": "Sì 👍"}


def test_button_text_25_ok_26_too_long():
    assert validate_buttons([reply("x" * 25)]) == []
    errors = validate_buttons([reply("x" * 26)])
    assert codes(errors) == ["button_text_too_long"]
    assert errors[0].params["length"] == 26
    assert errors[0].params["max"] == 25


def test_button_text_empty():
    assert codes(validate_buttons([reply("  ")])) == ["button_text_empty"]


def test_button_counts():
    assert validate_buttons([reply(f"R{i}") for i in range(10)]) == []
    errors = validate_buttons([reply(f"R{i}") for i in range(11)])
    assert [(e.code, e.params["type"]) for e in errors] == [("button_count", "total")]
    errors = validate_buttons([url(), url(), url()])
    assert [(e.code, e.params) for e in errors] == [("button_count", {"type": "url", "count": 3, "max": 2})]
    errors = validate_buttons([phone(), phone()])
    assert [(e.code, e.params) for e in errors] == [("button_count", {"type": "phone", "count": 2, "max": 1})]


def test_quick_replies_must_be_grouped():
    assert validate_buttons([reply(), reply("No"), url(), phone()]) == []
    assert validate_buttons([url(), phone(), reply(), reply("No")]) == []
    assert codes(validate_buttons([reply(), url(), reply("No")])) == ["button_order"]
    assert codes(validate_buttons([url(), reply(), phone()])) == ["button_order"]


def test_unknown_button_type():
    errors = validate_buttons([{"type": "copy_code", "text": "Copia", "value": "X"}])
    assert codes(errors) == ["button_type"]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "www.example.com",
        "ftp://example.com",
        "https://",
        "https://localhost",
        "https://exa mple.com",
        "javascript:alert(1)",
    ],
)
def test_url_invalid(value):
    errors = validate_buttons([url(value=value)])
    assert codes(errors) == ["url_invalid"]
    assert errors[0].params == {"index": 1, "url": value}


def test_url_length_limit():
    base = "https://example.com/"
    assert validate_buttons([url(value=base + "a" * (2000 - len(base)))]) == []
    assert codes(validate_buttons([url(value=base + "a" * (2001 - len(base)))])) == ["url_too_long"]


@pytest.mark.parametrize("value", ["+393471234567", "+39 06 1234 5678", "+1 202 555 0123"])
def test_phone_valid(value):
    assert validate_buttons([phone(value=value)]) == []


@pytest.mark.parametrize("value", ["", "3471234567", "+39 123", "chiamaci", "+39 347 123 4567 000000"])
def test_phone_invalid(value):
    errors = validate_buttons([phone(value=value)])
    assert codes(errors) == ["phone_invalid"]


def test_button_errors_are_indexed_and_check_raises():
    errors = validate_buttons([reply("Ok"), reply("Ok 😀")])
    assert errors[0].params["index"] == 2
    with pytest.raises(TemplateRuleError, match="emoji"):
        check_buttons([reply("Ok 😀")])


# ---------------------------------------------------------------- placeholders


def test_builtins():
    assert BUILTINS == ("NOME", "COGNOME", "TELEFONO", "EMAIL")


def test_placeholders_in_order_of_first_appearance():
    body = "Ciao %%NOME%% %%COGNOME%%, il %%DATA_1%% ... %%NOME%% 100%% sicuro %%nome%%"
    assert placeholders(body) == ["NOME", "COGNOME", "DATA_1"]
    assert placeholders("") == []
    assert placeholders("50%% di sconto, %% A B%%") == []


def test_unknown_placeholders_listed_sorted():
    errors = validate_placeholders(["%%ZONA%% %%NOME%%", "%%CITTA%% %%CODICE%%"], ["CODICE"])
    assert codes(errors) == ["unknown_placeholders"]
    assert errors[0].params == {"names": ["CITTA", "ZONA"]}
    assert validate_placeholders("%%NOME%% %%EMAIL%% %%CODICE%%", {"CODICE"}) == []


def test_lowercase_placeholder_is_bad_with_suggestion():
    errors = validate_placeholders("Ciao %%nome%% %%Codice_cliente%%")
    assert codes(errors) == ["bad_placeholder"]
    assert errors[0].params == {
        "names": ["Codice_cliente", "nome"],
        "suggestions": ["CODICE_CLIENTE", "NOME"],
    }


def test_check_placeholders_raises():
    with pytest.raises(TemplateRuleError) as info:
        check_placeholders("%%NOME%% %%SCONOSCIUTO%%", ())
    assert info.value.code == "unknown_placeholders"
    assert info.value.params == {"names": ["SCONOSCIUTO"]}
    check_placeholders("%%NOME%%", None)


def test_validate_template_collects_all_and_tags_translation_lang():
    errors = validate_template(
        "Ciao %%NOME%%",
        [reply("Ok 😀")],
        known_names=(),
        translations={"en_US": "Hi %%FIRST%%     there"},
    )
    assert codes(errors) == ["button_emoji", "too_many_spaces", "unknown_placeholders"]
    assert errors[1].params["lang"] == "en_US"
    check_template("Ciao %%NOME%%", [reply()], translations={"en_US": "Hi %%NOME%%"})


# ---------------------------------------------------------------- positional


def test_positional_mapping_order_across_body_and_translations():
    mapping = positional_mapping(["Ciao %%NOME%%, codice %%CODICE%%", "Hi %%NOME%% %%EXTRA%% %%CODICE%%"])
    assert mapping == {"NOME": 1, "CODICE": 2, "EXTRA": 3}


def test_positional_mapping_keeps_previous_indexes_stable():
    previous = {"CODICE": 1, "NOME": 2}
    mapping = positional_mapping(["%%NOME%% %%CITTA%% %%CODICE%%"], previous)
    assert mapping == {"CODICE": 1, "NOME": 2, "CITTA": 3}
    assert previous == {"CODICE": 1, "NOME": 2}  # not mutated
    # A name no longer used keeps its index: indexes never change meaning.
    assert positional_mapping(["%%NOME%% %%ZONA%%"], mapping) == {
        "CODICE": 1,
        "NOME": 2,
        "CITTA": 3,
        "ZONA": 4,
    }


def test_to_positional_and_params():
    mapping = {"CODICE": 1, "NOME": 2}
    assert to_positional("Ciao %%NOME%%, codice %%CODICE%% (%%NOME%%) %%nome%%", mapping) == (
        "Ciao {{2}}, codice {{1}} ({{2}}) %%nome%%"
    )
    with pytest.raises(TemplateRuleError) as info:
        to_positional("%%CITTA%%", mapping)
    assert info.value.params == {"names": ["CITTA"]}
    values = {"NOME": "Mario", "CODICE": "A1\nB2     C3", "ALTRO": "x"}
    assert positional_params(mapping, values) == ["A1 B2    C3", "Mario"]
    assert positional_params({"CODICE": 1, "NOME": 2, "ZONA": 3}, values, names=["NOME", "CODICE"]) == [
        "A1 B2    C3",
        "Mario",
    ]
    assert positional_params({"NOME": 1}, {}) == [""]


# ---------------------------------------------------------------- language


AVAILABLE = ["en_US", "it_IT", "es_ES", "en_GB", "pt_BR"]


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+393471234567", "it_IT"),
        ("+442079460958", "en_GB"),
        ("+34912345678", "es_ES"),
        ("+12025550123", "en_US"),
        ("+15550000000", "en_US"),  # not a valid number but +1 → US
        ("+5511987654321", "pt_BR"),
    ],
)
def test_language_from_number(number, expected):
    assert language_for_number(number, AVAILABLE, partner_lang="es_ES", default_lang="it_IT") == expected


def test_language_same_base_language_any_region():
    assert language_for_number("+442079460958", ["it_IT", "en_US"]) == "en_US"
    assert language_for_number("+393471234567", ["en", "it"]) == "it"
    assert language_for_number("+41446681800", ["fr_FR", "it_IT"]) == "fr_FR"  # CH: de, gsw, fr, it


def test_language_fallbacks_for_unparsable_number():
    assert language_for_number("not a number", AVAILABLE, partner_lang="es_ES", default_lang="it_IT") == "es_ES"
    assert language_for_number(None, AVAILABLE, partner_lang="es_MX") == "es_ES"  # same base language
    assert language_for_number("", AVAILABLE, partner_lang="fr_FR", default_lang="it_IT") == "it_IT"
    assert language_for_number("+33123456789", ["it_IT", "en_US"], default_lang="it_IT") == "it_IT"  # FR: no fr
    assert language_for_number("xx", ["en_GB", "it_IT"]) == "en_GB"
    assert language_for_number("+393471234567", []) is None


# ---------------------------------------------------------------- values / render


def test_format_date_per_locale():
    day = datetime.date(2026, 12, 25)
    assert format_value(day, "it_IT") == "25/12/2026"
    assert format_value(day, "en_US") == "12/25/2026"
    assert format_value(day, "en_GB") == "25/12/2026"
    assert format_value(day, "it") == "25/12/2026"
    assert format_value(day, "xx_XX") == "12/25/2026"  # unknown → en_US


def test_format_datetime_per_locale():
    moment = datetime.datetime(2026, 12, 25, 14, 30)
    assert format_value(moment, "it_IT") == "25/12/2026, 14:30"
    assert format_value(moment, "en_US").startswith("12/25/2026, 2:30")
    assert format_value(moment, "en_US").endswith("PM")


def test_format_other_values():
    assert format_value(None, "it_IT") == ""
    assert format_value(False, "it_IT") == ""
    assert format_value(0, "it_IT") == "0"
    assert format_value("testo", "it_IT") == "testo"


def test_render_with_formatter_and_missing_values():
    body = "Ciao %%NOME%% %%COGNOME%%, appuntamento il %%DATA%%. Email: %%EMAIL%% %%TELEFONO%%"
    values = {
        "NOME": "Mario",
        "COGNOME": "  ",
        "DATA": datetime.date(2026, 12, 25),
        "EMAIL": None,
        "TELEFONO": False,
    }
    text, missing = render(body, values, formatter=lambda v: format_value(v, "it_IT"))
    assert text == "Ciao Mario %%COGNOME%%, appuntamento il 25/12/2026. Email: %%EMAIL%% %%TELEFONO%%"
    assert missing == ["COGNOME", "EMAIL", "TELEFONO"]


def test_render_complete_and_single_pass():
    text, missing = render("Ciao %%NOME%%! %%nome%% resta", {"NOME": "%%COGNOME%%"})
    assert (text, missing) == ("Ciao %%COGNOME%%! %%nome%% resta", [])
    assert render("Il %%DATA%%", {"DATA": datetime.date(2026, 1, 5)}) == (
        "Il 1/5/2026",
        [],
    )


def test_render_checked():
    assert render_checked("Ciao %%NOME%%", {"NOME": "Anna"}) == "Ciao Anna"
    with pytest.raises(TemplateRuleError) as info:
        render_checked("Ciao %%NOME%% %%CODICE%%", {})
    assert info.value.code == "missing_values"
    assert info.value.params == {"names": ["CODICE", "NOME"]}


# ---------------------------------------------------------------- preview


def test_preview_formatting_and_placeholders():
    out = preview_html("Ciao %%NOME_CLIENTE%%!\n*Saldi* _solo_ ~oggi~ ```CODE_1``` snake_case_word")
    assert out.startswith('<div class="o_spoki_wa_bubble">')
    assert '<span class="o_spoki_placeholder">%%NOME_CLIENTE%%</span>' in out
    assert "<br/>" in out
    assert "<b>Saldi</b>" in out
    assert "<i>solo</i>" in out
    assert "<s>oggi</s>" in out
    assert "<code>CODE_1</code>" in out
    assert "snake_case_word" in out  # not italic inside a word
    assert 'class="o_spoki_wa_buttons"' not in out


def test_preview_escapes_html():
    out = preview_html(
        '<script>alert("x")</script> *<img src=x onerror=alert(1)>*',
        [{"type": "url", "text": "<b>x</b>", "value": 'https://e.com/"><script>'}],
    )
    assert "<script>" not in out
    assert "<img" not in out
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in out
    assert "&lt;b&gt;x&lt;/b&gt;" in out
    assert 'title="https://e.com/&quot;&gt;&lt;script&gt;"' in out


def test_preview_buttons():
    out = preview_html("Ciao", [url(), phone(), reply("Sì")])
    assert '<div class="o_spoki_wa_buttons">' in out
    assert out.count("o_spoki_wa_button ") == 3
    assert 'o_spoki_btn_url" title="https://www.example.com/offerta">Sito</div>' in out
    assert "o_spoki_btn_phone" in out
    assert 'o_spoki_btn_reply">Sì</div>' in out


# ---------------------------------------------------------------- signatures


def test_signatures_detect_duplicates_in_any_language():
    buttons = [reply("Sì"), url()]
    existing = template_signatures({"it_IT": "Ciao %%NOME%%", "en_US": "Hi %%NOME%%"}, buttons)
    assert len(existing) == 2
    assert all(len(sig) == 40 for sig in existing)
    new = template_signatures(["  Hi %%NOME%%\n", "Hola %%NOME%%"], buttons)
    assert existing & new
    assert not existing & template_signatures(["Hi %%NOME%%"], [reply("Sì")])
    assert not existing & template_signatures(["Hi  %%NOME%%"], buttons)  # no whitespace collapsing


def test_signature_is_stable_and_button_key_order_insensitive():
    first = template_signature("Ciao", [{"type": "url", "text": "Sito", "value": "https://a.it"}])
    second = template_signature("Ciao ", [{"value": "https://a.it ", "text": " Sito", "type": "URL"}])
    assert first == second
    assert template_signatures(["", "  "], []) == set()


@pytest.mark.parametrize(
    ("number", "partner_lang", "expected"),
    [
        ("+393471234567", None, "it"),
        ("+393471234567", "en_US", "it"),  # the prefix wins, as when a template is sent
        ("+34612345678", "it_IT", "es"),
        ("+442079460958", None, "en"),
        ("+15555550123", None, "en"),  # possible but not valid: the country code's main region
        (None, "de_CH", "de"),
        ("", "fr_FR", "fr"),
        (None, None, None),
        ("", "", None),
    ],
)
def test_recipient_language(number, partner_lang, expected):
    assert recipient_language(number, partner_lang) == expected


def test_language_names():
    italian = dict(language_names("it_IT"))
    english = dict(language_names("en_US"))
    assert italian["it"] == "italiano"
    assert italian["es"] == "spagnolo"
    assert english["es"] == "Spanish"
    assert all(len(code) == 2 for code in english)
    assert dict(language_names("xx_unknown"))["it"] == "Italian"
