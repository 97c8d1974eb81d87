"""The embedded sandbox provider: no network, no credentials, deterministic.

A fresh install works end to end with it:

* sends are accepted for valid E.164 numbers and get an id that encodes the
  send time, so statuses need no server-side state: ``delivered`` after
  ``delivery_delay`` seconds, ``read`` after ``read_delay`` seconds — except
  for numbers ending in ``0``, which play users with read receipts off (they
  stay ``delivered``, as the guide says real ones do);
* numbers that are not valid phone numbers fail permanently
  (``invalid_number``); numbers ending in ``99999`` are "not on WhatsApp"
  (permanent ``not_on_whatsapp``), to exercise failures in demos;
* templates move queued → in_review after ``review_delay`` seconds and →
  approved / rejected after ``approve_delay`` seconds. The sandbox rejects,
  like Meta does, a body that starts or ends with a placeholder ("variable
  parameters can't be at the start or end of the template") and a body that
  contains a link shortener (bit.ly, tinyurl.com, goo.gl, t.co) — Meta's
  commerce policy flags those as misleading links.

Like Meta, the sandbox takes reactions (:meth:`SandboxProvider.send_reaction`)
and quoted replies (``reply_to``: accepted, nothing to check), and
:func:`incoming_payload` builds the customer's reactions (``kind="reaction"``,
``reaction_to``) and replies (``reply_to``) for demos and tests.
"""

import hashlib
import re
import struct
import threading
import time
import zlib
from datetime import datetime, timedelta

import phonenumbers

from ..media import MediaError, check_media
from ..phone import digits_of
from .base import (
    AccountInfo,
    MediaFile,
    PermanentError,
    SendResult,
    StatusEvent,
    TemplateStatus,
    WhatsAppProvider,
)
from .cloud_api import CloudApiWebhook

_SHORTENER_RE = re.compile(r"\b(bit\.ly|tinyurl\.com|goo\.gl|t\.co)/", re.I)
_PLACEHOLDER_EDGE_RE = re.compile(r"^\s*(%%[A-Z0-9_]+%%|\{\{\d+\}\})|(%%[A-Z0-9_]+%%|\{\{\d+\}\})\s*$")

REJECT_REASONS = {
    "e": "INVALID_FORMAT: variable parameters can't be at the start or end of the body",
    "s": "PROMOTIONAL_LINK: link shorteners are not allowed",
}


def sandbox_template_rejection(bodies):
    """Reason code the sandbox would reject ``bodies`` for, or ''."""
    for body in bodies:
        if _PLACEHOLDER_EDGE_RE.search(body or ""):
            return "e"
        if _SHORTENER_RE.search(body or ""):
            return "s"
    return ""


#: what the sandbox "receives" for each kind: (MIME type, file name, caption)
SAMPLE_MEDIA = {
    "image": ("image/png", "", "Ecco la foto del prodotto"),
    "document": ("application/pdf", "ordine.pdf", ""),
    "audio": ("audio/ogg", "", ""),
    "video": ("video/mp4", "", ""),
    "sticker": ("image/webp", "", ""),
}


def _png(width, height, seed):
    """A small RGB PNG (a colour gradient picked by ``seed``), standard library only."""
    r0, g0, b0 = seed[0], seed[1], seed[2]
    rows = b"".join(
        b"\x00" + bytes(c for x in range(width) for c in ((r0 + x * 3) % 256, (g0 + y * 3) % 256, b0))
        for y in range(height)
    )

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _pdf(text):
    body = f"BT /F1 18 Tf 40 100 Td ({text}) Tj ET".encode()
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 200]/Contents 4 0 R"
        b"/Resources<</Font<</F1 5 0 R>>>>>>endobj\n"
        b"4 0 obj<</Length " + str(len(body)).encode() + b">>stream\n" + body + b"\nendstream endobj\n"
        b"5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )


def sample_media(kind, ref=""):
    """Deterministic bytes of a sandbox file of ``kind`` (``ref`` seeds them):
    a real PNG for images, a one-page PDF for documents, tagged bytes for
    the others (enough for a demo: they are stored, not played)."""
    seed = hashlib.sha1(f"{kind}|{ref}".encode()).digest()
    mime, filename, _caption = SAMPLE_MEDIA.get(kind, ("application/octet-stream", "", ""))
    if kind == "image":
        data = _png(48, 32, seed)
    elif kind == "document":
        data = _pdf("Sandbox document")
    elif kind == "sticker":
        data = b"RIFF" + struct.pack("<I", 24) + b"WEBPVP8 " + bytes(16)
    else:
        data = f"sandbox {kind} {seed.hex()}".encode()
    return MediaFile(data, mime, filename)


def incoming_payload(from_number, kind="text", text="", phone_number_id="", message_id="", timestamp=None, **extra):
    """A Cloud API webhook payload of one message the customer ``from_number``
    sends to the sandbox number (the sandbox plays Meta): ``kind`` text,
    image, document, audio, video, sticker (a sandbox media id the sandbox
    "downloads"), location (``extra``: latitude, longitude, name, address),
    contacts (``extra['contacts']``), reaction (``text`` the emoji, '' = removed;
    ``extra['reaction_to']`` the message reacted to), button (the customer taps
    the quick-reply button ``text`` of a template; ``extra['payload']``, the
    text by default) or any other type (an unknown one); ``extra['reply_to']``
    quotes a message (``context``)."""
    stamp = int(timestamp if timestamp is not None else time.time())
    wa_id = digits_of(from_number)
    message_id = message_id or "wamid.SBX" + hashlib.sha1(f"{wa_id}|{kind}|{stamp}|{text}".encode()).hexdigest()[:20]
    message = {"from": wa_id, "id": message_id, "timestamp": str(stamp), "type": kind}
    if kind == "text":
        message["text"] = {"body": text}
    elif kind == "button":
        message["button"] = {"text": text, "payload": extra.get("payload") or text}
    elif kind == "reaction":
        message["reaction"] = {"message_id": extra.get("reaction_to") or ""}
        if text:
            message["reaction"]["emoji"] = text
    elif kind in SAMPLE_MEDIA:
        mime, filename, caption = SAMPLE_MEDIA[kind]
        media = {"id": f"sbxmedia.{kind}.{message_id}", "mime_type": mime, "sha256": ""}
        if kind in ("image", "video", "document") and (text or caption):
            media["caption"] = text or caption
        if filename:
            media["filename"] = filename
        if kind == "audio":
            media["voice"] = True
        message[kind] = media
    elif kind == "location":
        message["location"] = {
            "latitude": extra.get("latitude", 45.4642),
            "longitude": extra.get("longitude", 9.19),
            "name": extra.get("name", "Duomo di Milano"),
            "address": extra.get("address", "Piazza del Duomo, Milano"),
        }
    elif kind == "contacts":
        message["contacts"] = extra.get("contacts") or [
            {"name": {"formatted_name": "Ada Lovelace", "first_name": "Ada"}, "phones": [{"phone": "+393331234567"}]}
        ]
    else:
        message["errors"] = [{"code": 131051, "title": "Message type unknown"}]
    if extra.get("reply_to"):
        message["context"] = {"from": "", "id": extra["reply_to"]}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "", "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": extra.get("profile_name", "")}, "wa_id": wa_id}],
        "messages": [message],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "", "changes": [{"field": "messages", "value": value}]}],
    }


class SandboxProvider(CloudApiWebhook, WhatsAppProvider):
    """Webhooks (for tests and demos that push events) use the Cloud API
    scheme: signed with the account's app secret, Meta's payload shape."""

    kind = "sandbox"
    label = "Sandbox (embedded, no credentials)"
    config_fields = {
        "delivery_delay": "sandbox_delivery_delay",
        "read_delay": "sandbox_read_delay",
        "review_delay": "sandbox_review_delay",
        "approve_delay": "sandbox_approve_delay",
        "quality": "quality",
        "phone_status": "phone_status",
        "credit": "credit_left",
        "app_secret": "meta_app_secret",
    }
    supports_status_polling = True
    supports_lookup = True
    simulated = True
    supports_reactions = True
    supports_replies = True
    reports_credit = True  # the credit set on the account minus its conversations at the price list

    # idempotency key → message id, shared by every instance of the process
    # (the sandbox has no server; this is its "server-side" memory).
    _sent = {}
    _lock = threading.Lock()

    def __init__(self, config, clock=None):
        super().__init__(config, clock=clock)
        self.delivery_delay = int(self.config.get("delivery_delay", 2))
        self.read_delay = int(self.config.get("read_delay", 10))
        self.review_delay = int(self.config.get("review_delay", 30))
        self.approve_delay = int(self.config.get("approve_delay", 120))
        self.app_secret = self.config.get("app_secret") or ""

    # -- messages ---------------------------------------------------------
    def _check_number(self, to):
        try:
            number = phonenumbers.parse(to, None)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            raise PermanentError(f"{to} is not a valid phone number", code="invalid_number")
        if to.endswith("99999"):
            raise PermanentError(f"{to} is not on WhatsApp", code="not_on_whatsapp")

    def _send(self, to, idempotency_key):
        self._check_number(to)
        with self._lock:
            if idempotency_key and idempotency_key in self._sent:
                return SendResult(self._sent[idempotency_key], "sent")
            stamp = int(self.clock().timestamp())
            digest = hashlib.sha1(f"{idempotency_key}|{to}|{stamp}".encode()).hexdigest()[:16]
            last = to[-1] if to else "1"
            message_id = f"sbx.{digest}.{stamp}.{last}"
            if idempotency_key:
                self._sent[idempotency_key] = message_id
        return SendResult(message_id, "sent")

    def send_template(self, to, template_name, language, params, idempotency_key):
        return self._send(to, idempotency_key)

    def send_text(self, to, body, idempotency_key, reply_to=""):
        if not (body or "").strip():
            raise PermanentError("Empty message", code="empty_body")
        return self._send(to, idempotency_key)

    def send_reaction(self, to, message_id, emoji, idempotency_key=""):
        """Accepted like a text (one id per call; nothing is stored)."""
        if not message_id:
            raise PermanentError("The reaction names no message", code="not_found")
        return self._send(to, idempotency_key)

    def send_media(self, to, kind, data, mime_type, filename, caption, idempotency_key, reply_to=""):
        """Accepted like a text (the file checked against WhatsApp's rules)."""
        try:
            check_media(kind, mime_type, len(data or b""), data)
        except MediaError as exc:
            raise PermanentError(str(exc), code=exc.code) from exc
        return self._send(to, idempotency_key)

    media_download_inline = True

    def download_media(self, ref, max_bytes=None):
        """The sandbox's media ids are ``sbxmedia.<kind>.<seed>``: generated bytes."""
        parts = str(ref or "").split(".", 2)
        if len(parts) != 3 or parts[0] != "sbxmedia":
            raise PermanentError(f"Unknown sandbox media {ref!r}", code="not_found")
        media = sample_media(parts[1], parts[2])
        if max_bytes is not None and len(media.data) > max_bytes:
            raise PermanentError(f"The file is larger than {max_bytes} bytes", code="too_big")
        return media

    def find_message(self, idempotency_key):
        return self._sent.get(idempotency_key)

    def get_statuses(self, message_ids):
        now = self.clock()
        events = []
        for message_id in message_ids:
            parts = (message_id or "").split(".")
            if len(parts) != 4 or parts[0] != "sbx":
                continue
            sent_at = datetime.utcfromtimestamp(int(parts[2]))
            if now >= sent_at + timedelta(seconds=self.read_delay) and parts[3] != "0":
                events.append(
                    StatusEvent(
                        message_id,
                        "delivered",
                        sent_at + timedelta(seconds=self.delivery_delay),
                    )
                )
                events.append(StatusEvent(message_id, "read", sent_at + timedelta(seconds=self.read_delay)))
            elif now >= sent_at + timedelta(seconds=self.delivery_delay):
                events.append(
                    StatusEvent(
                        message_id,
                        "delivered",
                        sent_at + timedelta(seconds=self.delivery_delay),
                    )
                )
        return events

    # -- templates --------------------------------------------------------
    def submit_template(self, spec):
        code = sandbox_template_rejection(spec.languages.values()) or "a"
        stamp = int(self.clock().timestamp())
        digest = hashlib.sha1(f"{spec.name}|{stamp}".encode()).hexdigest()[:10]
        return TemplateStatus(f"sbxtpl.{digest}.{stamp}.{code}", "queued")

    def get_template_status(self, external_id):
        parts = (external_id or "").split(".")
        if len(parts) != 4 or parts[0] != "sbxtpl":
            raise PermanentError(f"Unknown template {external_id}", code="unknown_template")
        submitted = datetime.utcfromtimestamp(int(parts[2]))
        elapsed = (self.clock() - submitted).total_seconds()
        if elapsed < self.review_delay:
            return TemplateStatus(external_id, "queued")
        if elapsed < self.approve_delay:
            return TemplateStatus(external_id, "in_review")
        if parts[3] in REJECT_REASONS:
            return TemplateStatus(external_id, "rejected", REJECT_REASONS[parts[3]])
        return TemplateStatus(external_id, "approved")

    # -- account ----------------------------------------------------------
    def get_account_info(self):
        return AccountInfo(
            quality=self.config.get("quality", "high"),
            phone_status=self.config.get("phone_status", "connected"),
            tier_limit=None,  # the sandbox lets the tier policy decide
            credit=self.config.get("credit"),
        )
