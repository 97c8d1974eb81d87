"""WhatsApp media rules (plain Python, no Odoo import).

What the Cloud API accepts, per message kind
(developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types):

=========  ==============================================  =====================
kind       MIME types                                      max size
=========  ==============================================  =====================
image      image/jpeg, image/png                           5 MB
video      video/mp4, video/3gpp                           16 MB
audio      audio/aac, audio/amr, audio/mpeg, audio/mp4,    16 MB
           audio/ogg (opus)
document   text/plain, application/pdf, MS Office files    100 MB
sticker    image/webp                                      100 KB static,
                                                           500 KB animated
=========  ==============================================  =====================

Spoki relays the same limits (it is a Meta business solution provider); the
sandbox applies them too, so a demo refuses what WhatsApp would.

Kinds of incoming messages that carry no file: ``location`` and ``contacts``;
anything else WhatsApp may send and we don't know is ``unsupported`` (shown
with a placeholder, never dropped).
"""

import mimetypes

MB = 1024 * 1024
KB = 1024

#: kinds whose message carries a file (stored as an attachment)
FILE_KINDS = ("image", "video", "audio", "document", "sticker")
#: kinds of incoming messages that carry data but no file
DATA_KINDS = ("location", "contacts")
#: every kind an incoming message may have besides plain text
INBOUND_KINDS = FILE_KINDS + DATA_KINDS + ("unsupported",)
#: kinds an agent can send from a chat (stickers are not sent from Odoo)
OUTGOING_KINDS = ("image", "video", "audio", "document")

ALLOWED_MIMES = {
    "image": ("image/jpeg", "image/png"),
    "video": ("video/mp4", "video/3gpp"),
    "audio": ("audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"),
    "document": (
        "text/plain",
        "application/pdf",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    "sticker": ("image/webp",),
}
SIZE_LIMITS = {
    "image": 5 * MB,
    "video": 16 * MB,
    "audio": 16 * MB,
    "document": 100 * MB,
    "sticker": 100 * KB,
}
ANIMATED_STICKER_LIMIT = 500 * KB
#: the most any incoming file may weigh (the download stops beyond it)
MAX_DOWNLOAD = max(SIZE_LIMITS.values())
#: kinds whose Cloud API object takes a caption
CAPTION_KINDS = ("image", "video", "document")

#: fallback extension when the MIME type names none (``mimetypes`` misses some)
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "video/3gpp": ".3gp",
    "audio/aac": ".aac",
    "audio/amr": ".amr",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/ogg": ".ogg",
    "text/plain": ".txt",
    "application/pdf": ".pdf",
}


class MediaError(ValueError):
    """A file WhatsApp would refuse: ``code`` is ``unsupported_type`` or
    ``too_big``; ``limit`` the size limit in bytes (``too_big``)."""

    def __init__(self, message, code, kind="", mime="", size=0, limit=0):
        super().__init__(message)
        self.code = code
        self.kind = kind
        self.mime = mime
        self.size = size
        self.limit = limit


def normalize_mime(mime):
    """``'Audio/OGG; codecs=opus'`` → ``'audio/ogg'`` ('' when empty)."""
    return (mime or "").split(";", 1)[0].strip().lower()


def kind_for_mime(mime):
    """The kind a file of MIME type ``mime`` is sent as (an outgoing kind),
    or '' when WhatsApp takes no such file."""
    mime = normalize_mime(mime)
    for kind in OUTGOING_KINDS:
        if mime in ALLOWED_MIMES[kind]:
            return kind
    return ""


def is_animated_webp(data):
    """True for an animated WebP (VP8X chunk with the animation flag)."""
    data = data or b""
    return (
        len(data) > 20
        and data[:4] == b"RIFF"
        and data[8:12] == b"WEBP"
        and data[12:16] == b"VP8X"
        and bool(data[20] & 0x02)
    )


def size_limit(kind, data=None):
    """Size limit in bytes of a ``kind`` file (a sticker's depends on whether
    ``data`` is animated); 0 for a kind without a file."""
    if kind == "sticker" and data is not None and is_animated_webp(data):
        return ANIMATED_STICKER_LIMIT
    if kind == "sticker" and data is None:
        return ANIMATED_STICKER_LIMIT  # unknown yet: the larger of the two
    return SIZE_LIMITS.get(kind, 0)


def human_size(size):
    """``5242880`` → ``'5 MB'``, ``102400`` → ``'100 KB'``."""
    if size >= MB:
        value, unit = size / MB, "MB"
    elif size >= KB:
        value, unit = size / KB, "KB"
    else:
        return f"{size} B"
    return f"{value:.1f}".rstrip("0").rstrip(".") + f" {unit}"


def check_media(kind, mime, size, data=None):
    """Raise :class:`MediaError` when WhatsApp would refuse a ``kind`` file of
    MIME type ``mime`` and ``size`` bytes; returns the normalised MIME type."""
    mime = normalize_mime(mime)
    if kind not in FILE_KINDS or mime not in ALLOWED_MIMES[kind]:
        raise MediaError(
            f"{mime or 'unknown type'} can't be sent as {kind or 'a file'}", "unsupported_type", kind, mime
        )
    limit = size_limit(kind, data)
    if size > limit:
        raise MediaError(
            f"{human_size(size)} is over the {human_size(limit)} limit of {kind} files",
            "too_big",
            kind,
            mime,
            size,
            limit,
        )
    return mime


def check_outgoing(mime, size, data=None):
    """``(kind, mime)`` of a file an agent sends, or :class:`MediaError`."""
    kind = kind_for_mime(mime)
    if not kind:
        raise MediaError(f"{normalize_mime(mime) or 'unknown type'} can't be sent on WhatsApp", "unsupported_type")
    return kind, check_media(kind, mime, size, data)


def default_filename(kind, mime, ref=""):
    """A file name for an incoming file that has none: ``image-<ref>.jpg``."""
    mime = normalize_mime(mime)
    extension = _EXTENSIONS.get(mime) or mimetypes.guess_extension(mime or "") or ""
    stem = "".join(c for c in str(ref or "") if c.isalnum() or c in "-_")[-40:] or "file"
    return f"{kind or 'file'}-{stem}{extension}"


def location_text(location):
    """Readable location: ``'Name, Address (45.46420, 9.18998)'``."""
    location = location or {}
    words = ", ".join(str(location[key]).strip() for key in ("name", "address") if location.get(key))
    coords = ""
    try:
        coords = f"{float(location['latitude']):.5f}, {float(location['longitude']):.5f}"
    except (KeyError, TypeError, ValueError):
        coords = ""
    if words and coords:
        return f"{words} ({coords})"
    return words or coords


def location_url(location):
    """A map link to the location ('' without coordinates)."""
    try:
        lat, lon = float(location["latitude"]), float(location["longitude"])
    except (KeyError, TypeError, ValueError):
        return ""
    return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=17/{lat:.6f}/{lon:.6f}"


def contact_cards(contacts):
    """``[(name, first phone)]`` of a Cloud API ``contacts`` array (the
    formatted name, else first + last name; the phone's ``wa_id`` when there
    is no ``phone``)."""
    cards = []
    for contact in contacts or []:
        if not isinstance(contact, dict):
            continue
        name = contact.get("name") or {}
        if isinstance(name, str):
            label = name
        else:
            label = name.get("formatted_name") or " ".join(
                part for part in (name.get("first_name"), name.get("last_name")) if part
            )
        phones = [p for p in contact.get("phones") or [] if isinstance(p, dict)]
        phone = next((p.get("phone") or p.get("wa_id") for p in phones if p.get("phone") or p.get("wa_id")), "")
        cards.append((str(label or "").strip(), str(phone or "").strip()))
    return cards


def contacts_text(contacts):
    """``'Ada Lovelace, +39 333 1234567; Alan, +44…'``."""
    return "; ".join(", ".join(part for part in card if part) for card in contact_cards(contacts))
