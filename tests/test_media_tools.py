"""tools/media.py: WhatsApp's MIME allow-lists and size limits, placeholders' data."""

import pytest

from spoki_whatsapp.tools import media
from spoki_whatsapp.tools.media import MB, MediaError


@pytest.mark.parametrize(
    ("mime", "kind"),
    [
        ("image/jpeg", "image"),
        ("IMAGE/PNG", "image"),
        ("video/mp4", "video"),
        ("video/3gpp", "video"),
        ("audio/ogg; codecs=opus", "audio"),
        ("audio/mpeg", "audio"),
        ("application/pdf", "document"),
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "document"),
        ("text/plain", "document"),
        ("image/gif", ""),
        ("application/zip", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_kind_for_mime(mime, kind):
    assert media.kind_for_mime(mime) == kind


@pytest.mark.parametrize(
    ("kind", "limit"),
    [("image", 5 * MB), ("video", 16 * MB), ("audio", 16 * MB), ("document", 100 * MB), ("sticker", 100 * 1024)],
)
def test_meta_size_limits(kind, limit):
    mime = media.ALLOWED_MIMES[kind][0]
    data = b"x" if kind == "sticker" else None
    assert media.check_media(kind, mime, limit, data) == mime  # at the limit: fine
    with pytest.raises(MediaError) as caught:
        media.check_media(kind, mime, limit + 1, data)
    assert (caught.value.code, caught.value.limit) == ("too_big", limit)


def test_animated_sticker_limit():
    animated = b"RIFF" + b"\0" * 4 + b"WEBPVP8X" + b"\0" * 4 + bytes([0x02]) + b"\0" * 20
    static = b"RIFF" + b"\0" * 4 + b"WEBPVP8 " + b"\0" * 30
    assert media.is_animated_webp(animated)
    assert not media.is_animated_webp(static)
    assert media.size_limit("sticker", animated) == 500 * 1024
    assert media.size_limit("sticker", static) == 100 * 1024
    media.check_media("sticker", "image/webp", 400 * 1024, animated)
    with pytest.raises(MediaError):
        media.check_media("sticker", "image/webp", 400 * 1024, static)


def test_mime_not_allowed_for_kind():
    with pytest.raises(MediaError) as caught:
        media.check_media("image", "image/gif", 10)
    assert caught.value.code == "unsupported_type"
    with pytest.raises(MediaError):
        media.check_media("location", "image/png", 10)


def test_check_outgoing():
    assert media.check_outgoing("image/png", 1000) == ("image", "image/png")
    assert media.check_outgoing("audio/ogg; codecs=opus", 1000) == ("audio", "audio/ogg")
    with pytest.raises(MediaError) as caught:
        media.check_outgoing("application/x-msdownload", 10)
    assert caught.value.code == "unsupported_type"
    with pytest.raises(MediaError) as caught:
        media.check_outgoing("image/jpeg", 6 * MB)
    assert caught.value.code == "too_big"
    assert "5 MB" in str(caught.value)


def test_human_size_and_filenames():
    assert media.human_size(5 * MB) == "5 MB"
    assert media.human_size(100 * 1024) == "100 KB"
    assert media.human_size(1536) == "1.5 KB"
    assert media.human_size(12) == "12 B"
    assert media.default_filename("image", "image/jpeg", "wamid.ABC/1") == "image-wamidABC1.jpg"
    assert media.default_filename("audio", "audio/ogg; codecs=opus", "") == "audio-file.ogg"


def test_location_and_contacts_text():
    location = {"latitude": 45.4642035, "longitude": 9.189982, "name": "Duomo", "address": "Piazza del Duomo"}
    assert media.location_text(location) == "Duomo, Piazza del Duomo (45.46420, 9.18998)"
    assert media.location_text({"latitude": "1", "longitude": "2"}) == "1.00000, 2.00000"
    assert "mlat=45.464204" in media.location_url(location)
    assert media.location_url({}) == ""
    contacts = [
        {"name": {"formatted_name": "Ada Lovelace"}, "phones": [{"phone": "+39 333 1234567"}]},
        {"name": {"first_name": "Alan", "last_name": "Turing"}, "phones": [{"wa_id": "447700900123"}]},
        "junk",
    ]
    assert media.contact_cards(contacts) == [("Ada Lovelace", "+39 333 1234567"), ("Alan Turing", "447700900123")]
    assert media.contacts_text(contacts) == "Ada Lovelace, +39 333 1234567; Alan Turing, 447700900123"
