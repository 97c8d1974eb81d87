"""Media both ways through the providers: incoming files, locations, contact
cards and unknown types parsed from each provider's webhook; files downloaded
from and sent to the fake Meta / Spoki servers over real HTTP; the sandbox."""

import time

import pytest

from spoki_whatsapp.tests.fake_provider import (
    meta_contact,
    meta_contacts_message,
    meta_location_message,
    meta_media_message,
    meta_messages_change,
    meta_unsupported_message,
    meta_webhook,
    spoki_media_event,
)
from spoki_whatsapp.tools.providers import PermanentError, get_provider
from spoki_whatsapp.tools.providers.sandbox import incoming_payload, sample_media

PNG = b"\x89PNG\r\n\x1a\n" + b"fake image bytes" * 10
T = 1718000000


def _meta_payload(*messages):
    return meta_webhook([meta_messages_change(contacts=[meta_contact("393331234567", "Ada")], messages=list(messages))])


def test_meta_parses_media_location_contacts_unknown(meta):
    payload = _meta_payload(
        meta_media_message("wamid.I", "393331234567", "image", "111", "image/jpeg", T, caption="Look"),
        meta_media_message("wamid.D", "393331234567", "document", "222", "application/pdf", T, filename="a.pdf"),
        meta_media_message("wamid.V", "393331234567", "audio", "333", "audio/ogg; codecs=opus", T, voice=True),
        meta_media_message("wamid.S", "393331234567", "sticker", "444", "image/webp", T),
        meta_location_message("wamid.L", "393331234567", T, 45.46, 9.19, name="Duomo", address="Milano"),
        meta_contacts_message("wamid.C", "393331234567", T, [("Alan Turing", "+447700900123")]),
        meta_unsupported_message("wamid.U", "393331234567", T),
        meta_unsupported_message("wamid.O", "393331234567", T, mtype="order"),
    )
    _statuses, inbound, _templates = meta.parse_webhook(payload)
    by_id = {item.message_id: item for item in inbound}
    assert sorted(by_id) == sorted(
        ["wamid.I", "wamid.D", "wamid.V", "wamid.S", "wamid.L", "wamid.C", "wamid.U", "wamid.O"]
    )
    image = by_id["wamid.I"]
    assert (image.media_kind, image.media_ref, image.mime_type, image.text) == ("image", "111", "image/jpeg", "Look")
    assert (by_id["wamid.D"].media_kind, by_id["wamid.D"].filename, by_id["wamid.D"].text) == ("document", "a.pdf", "")
    assert by_id["wamid.V"].media_kind == "audio" and by_id["wamid.V"].voice
    assert by_id["wamid.S"].media_kind == "sticker"
    location = by_id["wamid.L"]
    assert location.media_kind == "location"
    assert location.location == {"latitude": 45.46, "longitude": 9.19, "name": "Duomo", "address": "Milano"}
    assert by_id["wamid.C"].media_kind == "contacts"
    assert by_id["wamid.C"].contacts[0]["phones"][0]["phone"] == "+447700900123"
    assert by_id["wamid.U"].media_kind == "unsupported" and by_id["wamid.U"].raw_type.startswith("unsupported")
    assert by_id["wamid.O"].raw_type.startswith("order")
    assert all(item.profile_name == "Ada" for item in inbound)


def test_meta_download_media(fake, meta):
    media_id = fake.add_media(PNG, "image/png")
    media = meta.download_media(media_id, max_bytes=10_000)
    assert (media.data, media.mime_type) == (PNG, "image/png")
    # both calls carry the token: the media lookup and the download itself
    calls = fake.requests_to(media_id, "GET")
    assert [r.path for r in calls] == [f"/v21.0/{media_id}", f"/media-download/{media_id}"]
    assert all(r.headers.get("Authorization") == f"Bearer {fake.meta_token}" for r in calls)


def test_meta_download_too_big_stops(fake, meta):
    media_id = fake.add_media(PNG, "image/png")
    with pytest.raises(PermanentError) as caught:
        meta.download_media(media_id, max_bytes=10)
    assert caught.value.code == "too_big"
    assert not fake.requests_to("/media-download/")  # file_size said it: no download


def test_meta_download_unknown_media(fake, meta):
    with pytest.raises(PermanentError):
        meta.download_media("999999")


def test_meta_send_media_uploads_then_sends(fake, meta):
    result = meta.send_media("+393331234567", "image", PNG, "image/png", "photo.png", "Here it is", "key-1")
    assert result.message_id.startswith("wamid.")
    (upload,) = fake.uploads
    assert (upload["data"], upload["mime_type"], upload["filename"]) == (PNG, "image/png", "photo.png")
    sent = fake.messages[result.message_id]["payload"]
    assert sent["type"] == "image"
    assert sent["image"] == {"id": upload["id"], "caption": "Here it is"}
    assert sent["biz_opaque_callback_data"] == "key-1"


def test_meta_send_document_and_audio(fake, meta):
    doc = meta.send_media("+393331234567", "document", b"%PDF-1.4", "application/pdf", "offer.pdf", "", "k2")
    payload = fake.messages[doc.message_id]["payload"]
    assert payload["document"]["filename"] == "offer.pdf" and "caption" not in payload["document"]
    audio = meta.send_media("+393331234567", "audio", b"OggS", "audio/ogg", "note.ogg", "ignored", "k3")
    assert "caption" not in fake.messages[audio.message_id]["payload"]["audio"]  # audio takes no caption


def test_meta_send_media_upload_error_is_plain(fake, meta):
    fake.fail_next(status=500, path="/media")
    with pytest.raises(Exception) as caught:
        meta.send_media("+393331234567", "image", PNG, "image/png", "p.png", "", "k4")
    assert caught.value.temporary and not caught.value.outcome_unknown
    assert not fake.messages  # nothing was sent


def test_spoki_parses_media_and_unknown(spoki):
    events = [
        spoki_media_event("s1", "+393331234567", "Image", "https://files.example/1.jpg", "image/jpeg", caption="Hi"),
        spoki_media_event("s2", "+393331234567", "Voice", "https://files.example/2.ogg", "audio/ogg"),
        spoki_media_event(
            "s3", "+393331234567", "Location", "", location={"latitude": 1.5, "longitude": 2.5, "name": "Here"}
        ),
        spoki_media_event("s4", "+393331234567", "Poll", ""),
        {"event": "message.inbound", "data": {"id": "s5", "phone": "+393331234567", "text": "plain"}},
    ]
    _s, inbound, _t = spoki.parse_webhook(events)
    by_id = {item.message_id: item for item in inbound}
    assert (by_id["s1"].media_kind, by_id["s1"].media_ref, by_id["s1"].text) == (
        "image",
        "https://files.example/1.jpg",
        "Hi",
    )
    assert by_id["s2"].media_kind == "audio" and by_id["s2"].voice
    assert by_id["s3"].location == {"latitude": 1.5, "longitude": 2.5, "name": "Here"}
    assert (by_id["s4"].media_kind, by_id["s4"].raw_type) == ("unsupported", "Poll")
    assert (by_id["s5"].media_kind, by_id["s5"].text) == ("", "plain")


def test_spoki_download_and_send(fake, spoki):
    media_id = fake.add_media(PNG, "image/jpeg", provider="spoki")
    media = spoki.download_media(fake.media_url(media_id))
    assert (media.data, media.mime_type) == (PNG, "image/jpeg")
    result = spoki.send_media("+393331234567", "document", b"%PDF", "application/pdf", "a.pdf", "Offer", "sk-1")
    (upload,) = fake.uploads
    assert upload["data"] == b"%PDF"
    payload = fake.messages[result.message_id]["payload"]
    assert payload["content_type"] == "Document" and payload["url"] == fake.media_url(upload["id"])
    assert (payload["text"], payload["filename"]) == ("Offer", "a.pdf")
    # the idempotency key deduplicates a retried send
    again = spoki.send_media("+393331234567", "document", b"%PDF", "application/pdf", "a.pdf", "Offer", "sk-1")
    assert again.message_id == result.message_id and fake.counters["spoki_sends"] == 1


def test_spoki_download_refuses_plain_http_elsewhere(spoki):
    with pytest.raises(PermanentError) as caught:
        spoki.download_media("http://files.example/1.jpg")
    assert caught.value.code == "config"


def test_sandbox_incoming_photo_and_download():
    sandbox = get_provider("sandbox", {})
    payload = incoming_payload("+393331234567", "image", timestamp=T)
    _s, (item,), _t = sandbox.parse_webhook(payload)
    assert (item.media_kind, item.mime_type, item.from_number) == ("image", "image/png", "+393331234567")
    media = sandbox.download_media(item.media_ref)
    assert media.data.startswith(b"\x89PNG") and media.mime_type == "image/png"
    assert media.data == sample_media("image", item.media_ref.split(".", 2)[2]).data  # deterministic
    with pytest.raises(PermanentError):
        sandbox.download_media("nope")
    for kind in ("location", "contacts", "document", "mystery"):
        _s, (item,), _t = sandbox.parse_webhook(incoming_payload("+393331234567", kind, timestamp=time.time()))
        assert item.media_kind == ("unsupported" if kind == "mystery" else kind)


def test_sandbox_send_media_checks_rules():
    sandbox = get_provider("sandbox", {})
    assert sandbox.send_media("+393331234567", "image", PNG, "image/png", "p.png", "", "sbx-k").message_id
    with pytest.raises(PermanentError) as caught:
        sandbox.send_media("+393331234567", "image", b"x" * (5 * 1024 * 1024 + 1), "image/png", "p.png", "", "k")
    assert caught.value.code == "too_big"
