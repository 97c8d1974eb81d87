from spoki_whatsapp.tools.automation import normalize_text, parse_keywords, text_matches, webhook_occurrence


def test_normalize_text():
    assert normalize_text("  Sono  Interessato ") == "sono interessato"
    assert normalize_text("Perché") == "perche"
    assert normalize_text(None) == ""


def test_button_text_equals_whole_message():
    assert text_matches("sono interessato", "equals", "Sono interessato")
    assert not text_matches("Non sono interessato", "equals", "Sono interessato")
    assert not text_matches("", "equals", "Sono interessato")


def test_keywords_whole_words():
    assert parse_keywords("info, prezzo\nPrezzo,") == ["info", "prezzo"]
    assert text_matches("Vorrei info sul prezzo!", "keywords", "prezzo")
    assert text_matches("Quanto costa? Prezzo?", "keywords", "listino, prezzo")
    assert not text_matches("informazioni", "keywords", "info")
    assert text_matches("vorrei un buono sconto", "keywords", "buono sconto")


def test_webhook_occurrence():
    assert webhook_occurrence({"id": "abc"}) == "webhook:abc"
    assert webhook_occurrence({"idempotency_key": 7, "id": "x"}) == "webhook:7"
    first = webhook_occurrence({"number": "+39347"}, b'{"number": "+39347"}')
    assert first == webhook_occurrence({"number": "+39347"}, b'{"number": "+39347"}')
    assert first != webhook_occurrence({"number": "+39348"}, b'{"number": "+39348"}')
