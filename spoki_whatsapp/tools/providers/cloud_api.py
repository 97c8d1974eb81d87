"""WhatsApp Cloud API vocabulary shared by the provider clients (plain Python).

Spoki is a Meta business solution provider: both APIs speak Meta's terms for
quality ratings, phone statuses, messaging tiers, button types and error codes.
They are defined here once, for ``meta.py``, ``spoki.py`` and the sandbox.

:class:`CloudApiWebhook` is the Cloud API webhook scheme (the
``X-Hub-Signature-256`` header, the ``entry[].changes[]`` payload): the Meta
provider and the sandbox (which plays Meta in demos and tests) use it;
:func:`webhook_routes` splits a payload of the app-level webhook (one Meta app,
several numbers) by the number / WABA each change is for.
"""

import hashlib
import hmac
import logging
import re
from datetime import datetime, timezone

from ..phone import plus_digits
from .base import InboundMessage, PermanentError, StatusEvent, TemplateStatus, TemporaryError, header

UTC = timezone.utc  # noqa: UP017 - datetime.UTC needs Python 3.11, Odoo 18 runs on 3.10+
_logger = logging.getLogger(__name__)

# -- error codes (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes)
#: throttling: app / account / WABA / pair rate limits → retry later
RATE_LIMIT_CODES = {4, 80007, 130429, 131048}
SPAM_RATE_LIMIT_CODE = 131048  # "spam rate limit hit": the app pauses campaigns
#: too many messages to one customer: only that message waits (``pair_rate_limited``)
PAIR_RATE_LIMIT_CODE = 131056
#: Meta-side transient failures
TRANSIENT_CODES = {1, 2, 131000, 131016, 133004}
#: the recipient cannot receive the message
INVALID_NUMBER_CODES = {131026, 131030, 1006}
#: the template cannot be used as sent
TEMPLATE_CODES = {132000, 132001, 132015, 132016}
OUTSIDE_WINDOW_CODE = 131047  # re-engagement message: more than 24 h since last reply
#: token expired / invalid / missing permission
AUTH_CODES = {190, 102, 10, 3}

#: quality rating (Meta: GREEN/YELLOW/RED; Spoki also HIGH/MEDIUM/LOW) → ours;
#: anything else (Meta's UNKNOWN / NA for a new number, a value we don't know,
#: nothing) is 'unknown' — never assumed good.
QUALITY_MAP = {"GREEN": "high", "HIGH": "high", "YELLOW": "medium", "MEDIUM": "medium", "RED": "low", "LOW": "low"}
#: phone status → ours; anything else is 'unknown', never 'connected'
PHONE_STATUS_MAP = {
    "CONNECTED": "connected",
    "FLAGGED": "flagged",
    "RESTRICTED": "restricted",
    "RATE_LIMITED": "restricted",
    "BANNED": "restricted",
    "DISCONNECTED": "restricted",
    "DELETED": "restricted",
    "UNVERIFIED": "restricted",
    "PENDING": "restricted",
}
#: messaging_limit_tier → unique users per 24 h (0 = unlimited)
TIER_MAP = {
    "TIER_50": 50,
    "TIER_250": 250,
    "TIER_1K": 1000,
    "TIER_2K": 2000,
    "TIER_10K": 10000,
    "TIER_100K": 100000,
    "TIER_UNLIMITED": 0,
}
#: our button types → the Cloud API's
BUTTON_TYPES = {
    "url": "URL",
    "phone": "PHONE_NUMBER",
    "phone_number": "PHONE_NUMBER",
    "call": "PHONE_NUMBER",
    "quick_reply": "QUICK_REPLY",
    "reply": "QUICK_REPLY",
}
#: statuses a ``messages`` webhook change carries
MESSAGE_STATUSES = {"sent", "delivered", "read", "failed"}
PLACEHOLDER_RE = re.compile(r"\{\{\s*(\d+)\s*\}\}")
SIGNATURE_HEADER = "X-Hub-Signature-256"


def button_type(button):
    """The Cloud API type of one of our buttons; unsupported → PermanentError."""
    btype = BUTTON_TYPES.get((button.get("type") or "").lower())
    if not btype:
        raise PermanentError(f"Unsupported button type {button.get('type')!r}", code="invalid_template")
    return btype


def placeholder_numbers(body):
    """Sorted positional placeholder numbers ({{1}}, {{2}}…) of a body."""
    return sorted({int(n) for n in PLACEHOLDER_RE.findall(body or "")})


def template_examples(spec, lang):
    """Example values of a :class:`TemplateSpec` for ``lang`` (a list, or a
    dict of lists by language), for the reviewers."""
    examples = getattr(spec, "examples", None) or {}
    if isinstance(examples, dict):
        examples = examples.get(lang) or []
    return examples


def unix_time(value, default=None):
    """Unix timestamp (int or string) → naive UTC datetime; ``default`` (now
    when None) when it isn't one."""
    try:
        return datetime.fromtimestamp(int(value), UTC).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError):
        return default if default is not None else datetime.now(UTC).replace(tzinfo=None)


def classify_error(code, message="", http_status=None):
    """``(error class, our code)`` of a Cloud API error code (a send's error,
    or the ``errors[0].code`` of a ``failed`` status)."""
    try:
        code = int(code)
    except (TypeError, ValueError):
        code = None
    text = (message or "").lower()
    if code == SPAM_RATE_LIMIT_CODE:
        return TemporaryError, "spam_rate_limited"
    if code == PAIR_RATE_LIMIT_CODE:
        return TemporaryError, "pair_rate_limited"
    if code in RATE_LIMIT_CODES or http_status == 429:
        return TemporaryError, "rate_limited"
    if code in TRANSIENT_CODES or (http_status or 0) >= 500:
        return TemporaryError, "http_5xx"
    if code in INVALID_NUMBER_CODES or (code == 100 and "phone" in text):
        return PermanentError, "invalid_number"
    if code in TEMPLATE_CODES:
        return PermanentError, "template_not_approved"
    if code == OUTSIDE_WINDOW_CODE:
        return PermanentError, "outside_window"
    if code in AUTH_CODES or (code is not None and 200 <= code <= 299) or http_status == 401:
        return PermanentError, "auth"
    if code is not None:
        return PermanentError, f"meta_{code}"
    return PermanentError, f"http_{http_status}" if http_status else "error"


def status_error(code, message=""):
    """``(our code, detail)`` of a ``failed`` status event: numeric Cloud API
    codes (131026, 131048…) are mapped like send errors ('invalid_number',
    'spam_rate_limited'…), the original code kept in the detail."""
    raw = str(code or "").strip()
    detail = message or ""
    if not raw.isdigit():
        return raw or "failed", detail
    _cls, ours = classify_error(raw, detail)
    return ours, f"{detail} (#{raw})" if detail else f"#{raw}"


def verify_signature(app_secret: str, raw_body: bytes, header_value: str) -> bool:
    """Check Meta's ``X-Hub-Signature-256: sha256=<hex>`` webhook header:
    HMAC-SHA256 of the exact raw body keyed with the app secret. False on a
    missing secret / header or a malformed header."""
    if not app_secret or not header_value or raw_body is None:
        return False
    if isinstance(raw_body, str):
        raw_body = raw_body.encode()
    scheme, sep, received = header_value.strip().partition("=")
    if not sep or scheme.strip().lower() != "sha256":
        return False
    received = received.strip().lower()
    if len(received) != 64 or any(c not in "0123456789abcdef" for c in received):
        return False
    expected = hmac.new(app_secret.encode(), bytes(raw_body), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received)


#: Cloud API message types that carry a file (the message's object has ``id``,
#: ``mime_type`` and, per type, ``caption`` / ``filename`` / ``voice`` / ``animated``)
FILE_TYPES = ("image", "document", "audio", "video", "sticker")
#: types that are not a customer's message: ignored
IGNORED_TYPES = ("system", None)


def message_text(message):
    """Text of an inbound Cloud API message (a file's caption, '' without
    one); None for messages to ignore (system notices)."""
    mtype = message.get("type")
    if mtype == "text":
        return (message.get("text") or {}).get("body") or ""
    if mtype == "button":  # quick reply button of a template
        button = message.get("button") or {}
        return button.get("text") or button.get("payload") or ""
    if mtype == "interactive":
        interactive = message.get("interactive") or {}
        reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
        return reply.get("title") or reply.get("id") or ""
    if mtype in IGNORED_TYPES:
        return None
    media = message.get(mtype) if isinstance(message.get(mtype), dict) else {}
    if mtype == "reaction":  # the emoji; absent when the customer removed their reaction
        return media.get("emoji") or ""
    return media.get("caption") or ""


def message_context(message):
    """``reply_to`` and ``reaction_to`` of an :class:`InboundMessage` for a
    Cloud API message: a reply names the quoted message in ``context.id`` (a
    forwarded message has a context without id: not a reply); a reaction
    (``type: reaction``) names the message reacted to in ``reaction.message_id``."""
    values = {}
    context = message.get("context") if isinstance(message.get("context"), dict) else {}
    if context.get("id"):
        values["reply_to"] = str(context["id"])
    if message.get("type") == "reaction":
        reaction = message.get("reaction") if isinstance(message.get("reaction"), dict) else {}
        values["reaction_to"] = str(reaction.get("message_id") or "")
    return values


def message_media(message):
    """The media fields of an :class:`InboundMessage` for a Cloud API
    message: ``{}`` for text (and buttons, replies, reactions); otherwise
    ``media_kind`` and what goes with it. A type we don't know (Meta's
    ``unsupported``, ``ephemeral``, ``order``, a new one…) is ``unsupported``
    with its ``raw_type``: it is shown as a placeholder, never dropped."""
    mtype = message.get("type")
    if mtype in ("text", "button", "interactive", "reaction") or mtype in IGNORED_TYPES:
        return {}
    obj = message.get(mtype) if isinstance(message.get(mtype), dict) else {}
    if mtype in FILE_TYPES:
        return {
            "media_kind": mtype,
            "media_ref": str(obj.get("id") or obj.get("link") or ""),
            "mime_type": obj.get("mime_type") or "",
            "filename": obj.get("filename") or "",
            "voice": bool(obj.get("voice")),
            "raw_type": mtype,
        }
    if mtype == "location":
        keys = ("latitude", "longitude", "name", "address", "url")
        return {"media_kind": "location", "location": {k: obj[k] for k in keys if obj.get(k) not in (None, "")}}
    if mtype == "contacts":
        contacts = message.get("contacts")
        return {"media_kind": "contacts", "contacts": contacts if isinstance(contacts, list) else []}
    errors = message.get("errors") or []
    detail = (
        (errors[0].get("title") or errors[0].get("message") or "") if errors and isinstance(errors[0], dict) else ""
    )
    return {"media_kind": "unsupported", "raw_type": str(mtype) + (f" ({detail})" if detail else "")}


def map_template_status(status, reason):
    """Cloud API template status / event + reason → (our status, reason)."""
    status = (status or "").upper()
    reason = "" if reason is None or str(reason).upper() == "NONE" else str(reason)
    if not status:
        return "in_review", ""
    mapped = TEMPLATE_STATUS_MAP.get(status)
    if mapped is None:  # PAUSED, DISABLED, PENDING_DELETION, ARCHIVED…
        return "rejected", f"{status}: {reason}" if reason else status
    if status == "FLAGGED":
        return mapped, f"FLAGGED: {reason}" if reason else "FLAGGED"
    return mapped, reason if mapped == "rejected" else ""


#: template status (API field ``status`` and webhook ``event``) → ours
TEMPLATE_STATUS_MAP = {
    "PENDING": "in_review",
    "IN_APPEAL": "in_review",
    "APPROVED": "approved",
    "REINSTATED": "approved",
    "FLAGGED": "approved",  # still sendable, quality warning (reason kept)
    "REJECTED": "rejected",
}

#: Template rejection reasons as Meta reports them (``rejected_reason`` of the
#: API, ``reason`` of the webhook; Spoki forwards Meta's), the statuses that
#: stop an approved template (reported "PAUSED: <reason>", see
#: :func:`map_template_status`) and the sandbox's PROMOTIONAL_LINK. The app
#: explains each code in the user's language and keeps the raw text beside it.
#: https://developers.facebook.com/docs/whatsapp/business-management-api/webhooks/components#message_template_status_update
TEMPLATE_REJECTION_CODES = (
    "ABUSIVE_CONTENT",
    "INCORRECT_CATEGORY",
    "INVALID_FORMAT",
    "PROMOTIONAL_LINK",
    "PROMOTIONAL",
    "SCAM",
    "TAG_CONTENT_MISMATCH",
    "PAUSED",
    "DISABLED",
    "FLAGGED",
    "PENDING_DELETION",
    "ARCHIVED",
)
_REJECTION_RES = [
    (code, re.compile(r"(?<![A-Z0-9_])" + code.replace("_", r"[_\s-]") + r"(?![A-Z0-9_])"))
    for code in TEMPLATE_REJECTION_CODES
]


def template_rejection_codes(reason):
    """The known codes of :data:`TEMPLATE_REJECTION_CODES` in a raw rejection
    reason, in the order they appear ('PAUSED: SCAM' → ['PAUSED', 'SCAM'];
    'invalid format' → ['INVALID_FORMAT']); [] when none is known."""
    text = str(reason or "").upper()
    found = []
    for code, regex in _REJECTION_RES:
        for match in regex.finditer(text):
            span = match.span()
            if not any(start <= span[0] and span[1] <= end for _c, (start, end) in found):
                found.append((code, span))
    return list(dict.fromkeys(code for code, _span in sorted(found, key=lambda item: item[1])))


def _status_event(item):
    errors = item.get("errors") or []
    error = errors[0] if errors else {}
    details = (error.get("error_data") or {}).get("details") or ""
    return StatusEvent(
        message_id=item.get("id") or "",
        status=(item.get("status") or "").lower(),
        timestamp=unix_time(item.get("timestamp")),
        error_code=str(error.get("code") or ""),
        error_message=error.get("title") or error.get("message") or details,
        # sends carry the message's idempotency key as biz_opaque_callback_data:
        # an event whose wamid we never stored still finds its message
        idempotency_key=str(item.get("biz_opaque_callback_data") or ""),
    )


def _entry_time(entry):
    """The ``time`` of a webhook entry (when Meta sent the change), or None."""
    stamp = entry.get("time")
    return unix_time(stamp) if str(stamp or "").isdigit() else None


#: webhook fields routed by the WABA (the entry id) rather than by the number
WABA_FIELDS = {"message_template_status_update"}


def webhook_routes(payload):
    """Split an app-level webhook payload (one Meta app for several numbers
    and WABAs) by destination: ``(routes, dropped)`` where ``routes`` is a list
    of ``(config key, value, sub-payload)`` — ``("phone_number_id", id, …)``
    for ``messages`` changes (``value.metadata.phone_number_id``),
    ``("waba_id", entry id, …)`` for template status changes — each
    sub-payload shaped like Meta's, for :meth:`CloudApiWebhook.parse_webhook`
    of the accounts that match. ``dropped`` describes the changes that name no
    destination (no metadata, no entry id): they are refused, never guessed.
    Other fields (quality, account updates…) are not used and ignored."""
    routes, dropped = {}, []
    if not isinstance(payload, dict):
        return [], ["payload is not a JSON object"]
    for entry in payload.get("entry") or []:
        if not isinstance(entry, dict):
            dropped.append("entry is not a JSON object")
            continue
        entry_id = str(entry.get("id") or "")
        for change in entry.get("changes") or []:
            field = change.get("field") if isinstance(change, dict) else None
            value = change.get("value") if isinstance(change, dict) else None
            if field in WABA_FIELDS:
                route = ("waba_id", entry_id)
            elif field == "messages":
                metadata = value.get("metadata") if isinstance(value, dict) else None
                route = ("phone_number_id", str((metadata or {}).get("phone_number_id") or ""))
            else:
                continue
            if not route[1]:
                dropped.append(f"{field} change without {route[0]}")
                continue
            entries = routes.setdefault(route, {})
            part = entries.setdefault(entry_id, {key: val for key, val in entry.items() if key != "changes"})
            part.setdefault("changes", []).append(change)
    return [
        (key, value, {"object": payload.get("object"), "entry": list(entries.values())})
        for (key, value), entries in routes.items()
    ], dropped


def _inbound_messages(value):
    contacts = value.get("contacts") or []
    for message in value.get("messages") or []:
        text = message_text(message)
        if text is None:
            continue
        context = message_context(message)
        if message.get("type") == "reaction" and not context.get("reaction_to"):
            _logger.warning("WhatsApp webhook: reaction %s names no message: ignored", message.get("id"))
            continue
        sender = message.get("from") or ""
        profile = next((c for c in contacts if c.get("wa_id") == sender), contacts[0] if contacts else {})
        yield InboundMessage(
            message_id=message.get("id") or "",
            from_number=plus_digits(sender),
            text=text,
            timestamp=unix_time(message.get("timestamp")),
            profile_name=(profile.get("profile") or {}).get("name") or "",
            **message_media(message),
            **context,
        )


class CloudApiWebhook:
    """Webhook side of the Cloud API, for providers that have ``app_secret``,
    ``phone_number_id`` and ``waba_id`` attributes (empty = don't filter)."""

    app_secret = ""
    phone_number_id = ""
    waba_id = ""

    webhook_secret_key = "app_secret"

    def verify_webhook(self, headers, raw_body):
        return self.verify_webhook_with(self.app_secret, headers, raw_body)

    @classmethod
    def verify_webhook_with(cls, secret, headers, raw_body):
        return verify_signature(secret, raw_body, header(headers, SIGNATURE_HEADER))

    @classmethod
    def webhook_is_statuses_only(cls, payload):
        """Only ``messages`` changes without incoming messages."""
        if not isinstance(payload, dict):
            return False
        for entry in payload.get("entry") or []:
            for change in (entry.get("changes") if isinstance(entry, dict) else None) or []:
                value = change.get("value") if isinstance(change, dict) else None
                if change.get("field") != "messages" or not isinstance(value, dict) or value.get("messages"):
                    return False
        return True

    def status_error(self, code, message=""):
        return status_error(code, message)

    webhook_routes = staticmethod(webhook_routes)

    def _not_ours(self, field, entry_id, number_id):
        """Why a change is skipped ('' = it is for this account): an account
        with a phone number id / WABA id takes only changes that name them
        (a change without them is refused, never assumed to be ours)."""
        if field in WABA_FIELDS:
            return f"WABA {entry_id or '(none)'}" if self.waba_id and entry_id != self.waba_id else ""
        if self.phone_number_id and number_id != self.phone_number_id:
            return f"phone number id {number_id or '(none)'}"
        return ""

    def parse_webhook(self, payload):
        """Meta's ``{"object": "whatsapp_business_account", "entry": [...]}``
        → (status_events, inbound_messages, template_statuses). Changes for
        another phone number id / WABA than the configured one, or that name
        none, are skipped (and logged); template statuses carry the entry's
        ``time``."""
        statuses, inbound, templates = [], [], []
        if not isinstance(payload, dict):
            return statuses, inbound, templates
        for entry in payload.get("entry") or []:
            entry_id = str(entry.get("id") or "")
            for change in entry.get("changes") or []:
                field = change.get("field")
                value = change.get("value") or {}
                if field not in WABA_FIELDS and field != "messages":
                    continue
                number_id = str((value.get("metadata") or {}).get("phone_number_id") or "")
                skipped = self._not_ours(field, entry_id, number_id)
                if skipped:
                    _logger.warning("WhatsApp webhook: %s change for %s dropped: not this account's", field, skipped)
                    continue
                if field in WABA_FIELDS:
                    status, reason = map_template_status(value.get("event"), value.get("reason"))
                    template_id = str(value.get("message_template_id") or "")
                    templates.append(TemplateStatus(template_id, status, reason, timestamp=_entry_time(entry)))
                    continue
                statuses += [
                    _status_event(item)
                    for item in value.get("statuses") or []
                    if (item.get("status") or "").lower() in MESSAGE_STATUSES
                ]
                inbound += _inbound_messages(value)
        return statuses, inbound, templates
