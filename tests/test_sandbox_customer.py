"""The sandbox's customer simulator (issue 14): the webhook payloads the
sandbox builds when a user "plays the customer" are parsed like Meta's."""

from spoki_whatsapp.tools.providers import get_provider
from spoki_whatsapp.tools.providers.sandbox import incoming_payload

T = 1718000000
TO = "+393331234567"


def test_quick_reply_button_tap():
    sandbox = get_provider("sandbox", {"app_secret": "s"})
    payload = incoming_payload(TO, "button", "Sono interessato", message_id="wamid.SB1", timestamp=T)
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message["type"] == "button"
    assert message["button"] == {"text": "Sono interessato", "payload": "Sono interessato"}
    (item,) = sandbox.parse_webhook(payload)[1]
    assert (item.message_id, item.text, item.media_kind) == ("wamid.SB1", "Sono interessato", "")


def test_text_and_stop():
    sandbox = get_provider("sandbox", {"app_secret": "s"})
    (item,) = sandbox.parse_webhook(incoming_payload(TO, "text", "STOP", message_id="wamid.SB2", timestamp=T))[1]
    assert item.text == "STOP"
