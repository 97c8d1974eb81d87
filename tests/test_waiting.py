from spoki_whatsapp.tools.waiting import format_waiting


def test_units():
    assert format_waiting(0) == "< 1 min"
    assert format_waiting(59) == "< 1 min"
    assert format_waiting(60) == "1 min"
    assert format_waiting(3600) == "1 h"
    assert format_waiting(3600 + 12 * 60 + 5) == "1 h 12 min"
    assert format_waiting(2 * 86400) == "2 d"
    assert format_waiting(2 * 86400 + 4 * 3600 + 59) == "2 d 4 h"


def test_negative_and_labels():
    assert format_waiting(-5) == "< 1 min"
    assert format_waiting(86400 + 3600, {"day": "g"}) == "1 g 1 h"
