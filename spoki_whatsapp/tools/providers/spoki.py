"""Spoki REST API provider (https://app.spoki.it/api/1/), plain Python.

What is VERIFIED (public docs: spoki.it/api-documentation and the official
Postman collection "Spoki API", documenter.getpostman.com/view/21611004/UzBqnPvF,
as mirrored by SDKs generated from it):

* base URL ``https://app.spoki.it/api/1/`` (newer docs: ``https://api.spoki.com/api/1/``),
  JSON resources, auth by the ``X-Spoki-Api-Key`` header; errors 400 / 401 /
  404 / 429 as HTTP statuses;
* ``POST /messages/send/`` sends both kinds of message:
  template → ``{"type": "Template", "phone": "+39…", "template": <numeric id>,
  "language", "custom_fields": {CODE: value}, "metadata": {…}}``; free text →
  ``{"type": "Message", "content_type": "Text", "phone", "text", "metadata"}``;
  ``metadata`` is echoed back in the outbound-message webhook;
* templates: ``GET /templates/?search=``, ``POST /templates/`` with
  ``name, category, subcategory, templatelocalization_set[{language,
  body_template_component{component_type, text}, templatebuttoncomponent_set,
  example_custom_fields}]``, ``POST /templates/{id}/submit/`` (request
  approval), ``GET /templates/{id}/``; placeholders are ``%%CODE%%``;
* ``GET /accounts/`` / ``GET /accounts/{id}/`` (fields such as
  ``phone_status``, ``quality_score``, ``daily_limit``, ``current_credit``);
* webhooks are subscribed with ``/external-webhooks/`` (events
  ``message.outbound``, ``message.inbound``…).

What is ASSUMED (not in the public collection — kept behind tolerant parsing
and documented so it can be adjusted in one place):

* the send answer carries the message id as ``id`` / ``message_id`` / ``uuid``
  (or nested under ``message``); without one the id is ``idem:<key>``;
* idempotency: an ``Idempotency-Key`` header is sent (and the key travels in
  ``metadata.idempotency_key``, which *is* documented); ``find_message`` asks
  ``GET /messages/?idempotency_key=<key>``. A ProviderError from it means
  "unknown", never "not sent";
* status polling: ``GET /messages/{id}/`` → ``{"status", "status_updated_at"…}``
  (``supports_status_polling`` is True; config ``status_polling: False`` turns
  it off and statuses then come only from webhooks);
* positional ``{{n}}`` parameters become custom fields ``%%P<n>%%`` (prefix
  configurable with ``param_prefix``); those custom fields must exist in the
  Spoki account;
* template localization ``status`` strings APPROVED / PENDING / REJECTED /
  DRAFT (plus Meta's PAUSED / DISABLED);
* account ``quality_score`` as GREEN/YELLOW/RED (or HIGH/MEDIUM/LOW),
  ``current_credit`` in thousandths of euro;
* webhook body ``{"event": "message.outbound", "data": {…}}`` and the V2
  signature header ``X-Spoki-Signature: t=<unix>,v2=<hex>`` = HMAC-SHA256 of
  ``"<t>.<raw body>"`` (see :func:`verify_signature`).

Media (ASSUMED, like the rest of the message shapes above):

* incoming ``message.inbound`` events carry ``content_type`` (``Text``,
  ``Image``, ``Document``, ``Audio``, ``Voice``, ``Video``, ``Sticker``,
  ``Location``, ``Contacts``) with the file's ``url`` (or ``media_url``, or a
  nested ``media``/``file`` object with ``url``, ``mime_type``, ``filename``),
  ``caption`` (or ``text``), ``location`` ``{latitude, longitude, name,
  address}`` and ``contacts`` (Cloud API cards); the file is fetched from that
  URL with the API key (https only, like every call);
* sending a file: ``POST /media/`` (multipart ``file``) → ``{"id", "url"}``,
  then ``POST /messages/send/`` with ``{"type": "Message", "content_type":
  "Image"|"Document"|"Audio"|"Video", "phone", "url", "text": caption,
  "filename"}`` — the same idempotency key as any send.

Reactions and quoted replies: NOT SUPPORTED (``supports_reactions`` and
``supports_replies`` are False). Neither the public documentation nor the
Postman collection describes a reaction event, a reaction send or a quoted
message (Meta's ``context``) on Spoki's API, and nothing is guessed: an
inbound event with an unknown ``content_type`` (a reaction, if Spoki ever
forwards one) is stored with the "[Unsupported message: …]" placeholder like
any unknown type; agents can't react in Spoki chats (refused with a reason);
a reply is sent as a plain message, without the quote (``reply_to`` ignored).

Config keys: ``endpoint`` (default ``https://app.spoki.it/api/1``),
``api_key``, ``timeout`` (10), ``spoki_account_id`` (optional: Spoki's id of the
account; ``account_id`` is the caller's own id, not Spoki's), ``webhook_secret``,
``param_prefix`` ('P'), ``status_polling`` (True).
"""

import hashlib
import hmac
import threading
import time
from datetime import datetime, timezone
from typing import ClassVar

from ..media import CAPTION_KINDS, FILE_KINDS
from ..phone import plus_digits
from .base import (
    AccountInfo,
    InboundMessage,
    MediaFile,
    PermanentError,
    ProviderError,
    SendResult,
    StatusEvent,
    TemplateStatus,
    TemporaryError,
    WhatsAppProvider,
    header,
)
from .cloud_api import (
    PHONE_STATUS_MAP,
    PLACEHOLDER_RE,
    QUALITY_MAP,
    TIER_MAP,
    button_type,
    placeholder_numbers,
    template_examples,
)
from .cloud_api import status_error as cloud_api_status_error
from .http import JsonHttpClient, decode_json, error_detail
from .http import raise_for_response as _generic_raise_for_response

UTC = timezone.utc  # noqa: UP017 - datetime.UTC needs Python 3.11, Odoo 18 runs on 3.10+
DEFAULT_ENDPOINT = "https://app.spoki.it/api/1"

MESSAGE_STATUS_MAP = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "seen": "read",
    "failed": "failed",
    "error": "failed",
    "undelivered": "failed",
}
TEMPLATE_STATUS_MAP = {
    "DRAFT": "queued",
    "PENDING": "in_review",
    "REVIEW": "in_review",
    "IN_REVIEW": "in_review",
    "SUBMITTED": "in_review",
    "IN_APPEAL": "in_review",
    "APPROVED": "approved",
    "REJECTED": "rejected",
    "PAUSED": "rejected",
    "DISABLED": "rejected",
}
SIGNATURE_HEADER = "X-Spoki-Signature"


def verify_signature(secret, raw_body, header_value, now=None, tolerance=300):
    """Spoki V2 webhook signature (ASSUMED format, see module doc):
    ``t=<unix>,v2=<64 hex>``, HMAC-SHA256 of ``"<t>.<raw body>"`` with the
    webhook signing secret, timestamp within ``tolerance`` seconds."""
    if not secret or not header_value or raw_body is None or tolerance < 0:
        return False
    if isinstance(raw_body, str):
        raw_body = raw_body.encode()
    parts = {}
    for part in header_value.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or key in parts:
            return False
        parts[key] = value
    stamp, received = parts.get("t", ""), parts.get("v2", "").lower()
    if not stamp.isdigit() or len(received) != 64 or any(c not in "0123456789abcdef" for c in received):
        return False
    if abs((now if now is not None else time.time()) - int(stamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + bytes(raw_body), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received)


def _raise_for_response(response, body=None):
    """Spoki status → error mapping: the generic one, refined for 400/422
    bodies that name the phone, the template or the 24 h window (ASSUMED
    wording — Spoki documents statuses, not error codes)."""
    if body is None:
        body = decode_json(response)
    status = response.status_code
    if status in (400, 409, 422):
        message = error_detail(body, response) or f"HTTP {status}"
        keys = {str(k).lower() for k in body} if isinstance(body, dict) else set()
        text = message.lower()
        code = None
        if "phone" in keys:
            code = "invalid_number"
        elif "template" in keys:
            code = "template_not_approved"
        elif ("24" in text and "hour" in text) or "window" in text:
            code = "outside_window"
        elif "template" in text:
            code = "template_not_approved"
        elif "phone" in text or "number" in text:
            code = "invalid_number"
        elif "credit" in text:
            code = "no_credit"
        if code:
            raise PermanentError(message, code=code, http_status=status)
    try:
        return _generic_raise_for_response(response, body)
    except ProviderError as exc:
        exc.retry_after = header(response.headers, "Retry-After") or None
        raise


def _parse_time(value, default):
    if value in (None, ""):
        return default
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        try:
            return datetime.fromtimestamp(int(value), UTC).replace(tzinfo=None)
        except (ValueError, OverflowError):
            return default
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))  # noqa: FURB162 - 3.10
    except ValueError:
        return default
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _unwrap(body, singular):
    """Spoki represents a single resource either flat or under its singular
    name (``{"message": {…}}``)."""
    if isinstance(body, dict) and isinstance(body.get(singular), dict):
        return body[singular]
    return body if isinstance(body, dict) else {}


def _items(body, plural):
    """Collections: a bare list, ``{"<plural>": […]}`` or ``{"results": […]}``."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key in (plural, "results", "data"):
            if isinstance(body.get(key), list):
                return body[key]
    return []


def _extract_id(body):
    body = _unwrap(body, "message")
    for key in ("id", "message_id", "uuid"):
        if body.get(key) not in (None, ""):
            return str(body[key])
    return ""


#: Spoki ``content_type`` of an incoming message → our media kind
INBOUND_CONTENT_TYPES = {
    "image": "image",
    "document": "document",
    "file": "document",
    "audio": "audio",
    "voice": "audio",
    "ptt": "audio",
    "video": "video",
    "sticker": "sticker",
    "location": "location",
    "contacts": "contacts",
    "contact": "contacts",
    "vcard": "contacts",
}
#: kinds that are plain text (or a button) on Spoki
TEXT_CONTENT_TYPES = ("", "text", "button", "interactive", "quick_reply", "reply")


def inbound_media(data):
    """The media fields of an :class:`InboundMessage` for a Spoki inbound
    event's ``data`` (ASSUMED shape, see the module doc): ``{}`` for text; a
    content type we don't know is ``unsupported``, never dropped."""
    raw = str(data.get("content_type") or data.get("message_type") or "").strip()
    if raw.lower() in TEXT_CONTENT_TYPES:
        return {}
    kind = INBOUND_CONTENT_TYPES.get(raw.lower())
    if kind is None:
        return {"media_kind": "unsupported", "raw_type": raw}
    if kind in FILE_KINDS:
        nested = next((data[k] for k in ("media", "file", kind) if isinstance(data.get(k), dict)), {})
        return {
            "media_kind": kind,
            "media_ref": str(data.get("url") or data.get("media_url") or nested.get("url") or nested.get("link") or ""),
            "mime_type": str(data.get("mime_type") or nested.get("mime_type") or ""),
            "filename": str(data.get("filename") or nested.get("filename") or nested.get("name") or ""),
            "voice": raw.lower() in ("voice", "ptt") or bool(nested.get("voice")),
            "raw_type": raw,
        }
    if kind == "location":
        location = data.get("location") if isinstance(data.get("location"), dict) else data
        keys = ("latitude", "longitude", "name", "address")
        return {
            "media_kind": "location",
            "location": {k: location[k] for k in keys if location.get(k) not in (None, "")},
        }
    contacts = data.get("contacts")
    return {"media_kind": "contacts", "contacts": contacts if isinstance(contacts, list) else []}


class SpokiProvider(WhatsAppProvider):
    kind = "spoki"
    label = "Spoki API"
    config_fields = {"api_key": "spoki_api_key", "webhook_secret": "spoki_webhook_secret"}
    supports_status_polling = True
    supports_lookup = True
    reports_credit = True  # ``current_credit`` of the account

    # template name → id, shared per (endpoint, api key) by every instance
    _template_cache: ClassVar[dict] = {}
    _cache_lock = threading.Lock()

    def __init__(self, config, clock=None):
        super().__init__(config, clock=clock)
        cfg = self.config
        self.endpoint = (cfg.get("endpoint") or DEFAULT_ENDPOINT).rstrip("/")
        self.api_key = cfg.get("api_key") or ""
        self.account_id = cfg.get("spoki_account_id") or ""
        self.webhook_secret = cfg.get("webhook_secret") or ""
        self.param_prefix = cfg.get("param_prefix") or "P"
        self.supports_status_polling = bool(cfg.get("status_polling", True))
        self.http = JsonHttpClient(
            self.endpoint,
            headers={"X-Spoki-Api-Key": self.api_key} if self.api_key else None,
            timeout=float(cfg.get("timeout") or 10),
            raise_for_response=_raise_for_response,
        )

    def _require_key(self):
        if not self.api_key:
            raise PermanentError("Spoki provider is not configured: missing api_key", code="config")

    webhook_secret_key = "webhook_secret"

    def verify_webhook(self, headers, raw_body, now=None):
        return self.verify_webhook_with(self.webhook_secret, headers, raw_body, now=now)

    @classmethod
    def verify_webhook_with(cls, secret, headers, raw_body, now=None):
        return verify_signature(secret, raw_body, header(headers, SIGNATURE_HEADER), now=now)

    @classmethod
    def webhook_is_statuses_only(cls, payload):
        """Only ``message.outbound`` events (statuses of our messages)."""
        events = payload if isinstance(payload, list) else [payload]
        return all(
            isinstance(event, dict)
            and str(event.get("event") or event.get("type") or "").startswith("message.outbound")
            for event in events
        )

    def status_error(self, code, message=""):
        # Spoki relays WhatsApp's own error codes on failed messages.
        return cloud_api_status_error(code, message)

    @staticmethod
    def template_ref(name, external_id):
        # Spoki sends templates by their numeric id when it is known.
        return external_id if (external_id or "").isdigit() else name

    # -- messages -----------------------------------------------------------
    @classmethod
    def clear_template_cache(cls):
        with cls._cache_lock:
            cls._template_cache.clear()

    def _template_id(self, template_name, refresh=False):
        """Numeric Spoki id of a template given by id or by name (cached)."""
        name = str(template_name or "").strip()
        if name.isdigit():
            return int(name)
        cache_key = (self.endpoint, self.api_key, name)
        with self._cache_lock:
            if refresh:
                self._template_cache.pop(cache_key, None)
            elif cache_key in self._template_cache:
                return self._template_cache[cache_key]
        body = self.http.get("templates/", params={"search": name})
        for item in _items(body, "templates"):
            if str(item.get("name")) == name and item.get("id") is not None:
                with self._cache_lock:
                    self._template_cache[cache_key] = item["id"]
                return item["id"]
        raise PermanentError(f"Template {name!r} does not exist in Spoki", code="template_not_approved")

    def _send(self, payload, idempotency_key):
        self._require_key()
        headers = None
        if idempotency_key:
            payload["metadata"] = {"idempotency_key": idempotency_key}
            headers = {"Idempotency-Key": idempotency_key}
        body = self.http.post("messages/send/", json=payload, headers=headers)
        message_id = _extract_id(body)
        if not message_id:
            if not idempotency_key:
                raise TemporaryError(
                    "Spoki accepted the call but returned no message id",
                    code="bad_response",
                )
            message_id = f"idem:{idempotency_key}"
        # Later states (delivered / read / failed) come from polling or webhooks.
        return SendResult(message_id, "sent")

    def send_template(self, to, template_name, language, params, idempotency_key):
        self._require_key()
        template_id = self._template_id(template_name)
        payload = {
            "type": "Template",
            "phone": plus_digits(to),
            "template": template_id,
            "language": language,
            "custom_fields": {f"{self.param_prefix}{i}": str(v) for i, v in enumerate(params or [], 1)},
        }
        try:
            return self._send(payload, idempotency_key)
        except PermanentError as exc:
            if exc.code != "template_not_approved" or str(template_name).strip().isdigit():
                raise
            # The cached name → id may be stale (template re-created): the
            # send was rejected, so looking the id up again and retrying is safe.
            fresh_id = self._template_id(template_name, refresh=True)
            if fresh_id == template_id:
                raise
            payload["template"] = fresh_id
            return self._send(payload, idempotency_key)

    def send_text(self, to, body, idempotency_key, reply_to=""):
        if not (body or "").strip():
            raise PermanentError("Empty message", code="empty_body")
        payload = {
            "type": "Message",
            "content_type": "Text",
            "phone": plus_digits(to),
            "text": body,
        }
        return self._send(payload, idempotency_key)

    # -- media --------------------------------------------------------------
    def send_media(self, to, kind, data, mime_type, filename, caption, idempotency_key, reply_to=""):
        """Upload (``POST /media/``), then send the file's URL (ASSUMED, see
        the module doc). An upload sends nothing to anybody: its failures are
        plain errors; the send carries the idempotency key."""
        self._require_key()
        uploaded = _unwrap(
            self.http.request("POST", "media/", files={"file": (filename or "file", data, mime_type)}), "media"
        )
        url = uploaded.get("url") or uploaded.get("file")
        if not url:
            raise TemporaryError("Spoki accepted the upload but returned no URL", code="bad_response")
        payload = {
            "type": "Message",
            "content_type": kind.capitalize(),
            "phone": plus_digits(to),
            "url": url,
        }
        if caption and kind in CAPTION_KINDS:
            payload["text"] = caption
        if filename:
            payload["filename"] = filename
        return self._send(payload, idempotency_key)

    def download_media(self, ref, max_bytes=None):
        """The file at the URL of the inbound event (with the API key)."""
        self._require_key()
        if not ref:
            raise PermanentError("The message names no file URL", code="not_found")
        data, content_type = self.http.download(str(ref), max_bytes=max_bytes)
        return MediaFile(data, content_type, "")

    def find_message(self, idempotency_key):
        """Provider id of the send made with ``idempotency_key`` or None.
        Raises ProviderError when Spoki can't be asked (treat as unknown).

        Only an item that carries the key (``metadata.idempotency_key``, or a
        top-level ``idempotency_key``) is accepted: a server that ignores the
        filter answers a list of other messages, and taking one of them would
        mark an unsent message as sent."""
        if not idempotency_key:
            return None
        self._require_key()
        body = self.http.get("messages/", params={"idempotency_key": idempotency_key})
        for item in _items(body, "messages"):
            if not isinstance(item, dict):
                continue
            meta = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
            keys = {meta.get("idempotency_key"), item.get("idempotency_key")}
            if idempotency_key in keys and item.get("id") not in (None, ""):
                return str(item["id"])
        return None

    def get_statuses(self, message_ids):
        if not self.supports_status_polling:
            return []
        self._require_key()
        events = []
        now = self.clock()
        for message_id in message_ids:
            if not message_id or str(message_id).startswith("idem:"):
                continue
            try:
                body = self.http.get(f"messages/{message_id}/")
            except PermanentError as exc:
                if exc.code == "not_found":
                    continue
                raise
            item = _unwrap(body, "message")
            status = MESSAGE_STATUS_MAP.get(str(item.get("status") or "").lower())
            if not status:
                continue
            stamp = item.get("status_updated_at") or item.get("updated_at") or item.get("timestamp")
            events.append(
                StatusEvent(
                    message_id=str(message_id),
                    status=status,
                    timestamp=_parse_time(stamp, now),
                    error_code=str(item.get("error_code") or "") if status == "failed" else "",
                    error_message=str(item.get("error_message") or item.get("error") or "")
                    if status == "failed"
                    else "",
                )
            )
        return events

    # -- templates ----------------------------------------------------------
    def _localization(self, spec, lang, body):
        numbers = placeholder_numbers(body)
        text = PLACEHOLDER_RE.sub(lambda m: f"%%{self.param_prefix}{int(m.group(1))}%%", body or "")
        examples = template_examples(spec, lang)
        buttons = []
        for order, button in enumerate(spec.buttons_for(lang)):
            btype = button_type(button)
            buttons.append(
                {
                    "button_type": btype,
                    "text": button.get("text") or "",
                    "order": order,
                    "url": button.get("value") if btype == "URL" else None,
                    "phone_number": button.get("value") if btype == "PHONE_NUMBER" else None,
                }
            )
        return {
            "language": lang,
            "body_template_component": {
                "component_type": "BODY",
                "format": None,
                "text": text,
                "parameters": [],
            },
            "templatebuttoncomponent_set": buttons,
            "example_custom_fields": {
                f"{self.param_prefix}{n}": str(examples[n - 1]) if n - 1 < len(examples) else f"example {n}"
                for n in numbers
            },
        }

    @staticmethod
    def _template_state(item):
        """Spoki template JSON → (status, reason)."""
        item = _unwrap(item, "template")
        localizations = item.get("templatelocalization_set") or []
        results = []
        for loc in localizations:
            raw = str(loc.get("status") or "").upper()
            status = TEMPLATE_STATUS_MAP.get(raw, "in_review" if raw else "queued")
            reason = ""
            if status == "rejected":
                reason = (
                    "; ".join(str(loc.get(k)) for k in ("rejection_reason", "rejection_detail") if loc.get(k)) or raw
                )
            results.append((status, reason))
        if not results:
            raw = str(item.get("status") or "").upper()
            results = [
                (
                    TEMPLATE_STATUS_MAP.get(raw, "in_review" if raw else "queued"),
                    item.get("rejection_reason") or "",
                )
            ]
        if item.get("is_approved") is True and all(s != "rejected" for s, _ in results):
            return "approved", ""
        rejected = [r for s, r in results if s == "rejected"]
        if rejected:
            return "rejected", "; ".join(r for r in rejected if r)
        if all(s == "approved" for s, _ in results):
            return "approved", ""
        if all(s == "queued" for s, _ in results):
            return "queued", ""
        return "in_review", ""

    def submit_template(self, spec):
        self._require_key()
        if not spec.languages:
            raise PermanentError("The template has no language", code="invalid_template")
        payload = {
            "name": spec.name,
            "category": (spec.category or "MARKETING").upper(),
            "subcategory": "CLASSIC",
            "templatelocalization_set": [self._localization(spec, lang, body) for lang, body in spec.languages.items()],
        }
        created = _unwrap(self.http.post("templates/", json=payload), "template")
        template_id = created.get("id")
        if template_id in (None, ""):
            raise TemporaryError("Spoki created the template but returned no id", code="bad_response")
        try:
            answer = self.http.post(f"templates/{template_id}/submit/", json={})
        except ProviderError as exc:
            exc.created_ids = [str(template_id)]
            raise
        status, reason = self._template_state(
            answer if _unwrap(answer, "template").get("templatelocalization_set") else created
        )
        if status == "queued":
            status = "in_review"  # submitted: waiting for Meta's review
        return TemplateStatus(str(template_id), status, reason)

    def get_template_status(self, external_id):
        self._require_key()
        if not external_id:
            raise PermanentError("Unknown template ''", code="unknown_template")
        status, reason = self._template_state(self.http.get(f"templates/{external_id}/"))
        return TemplateStatus(str(external_id), status, reason)

    # -- account ------------------------------------------------------------
    def get_account_info(self):
        self._require_key()
        if self.account_id:
            account = _unwrap(self.http.get(f"accounts/{self.account_id}/"), "account")
        else:
            items = _items(self.http.get("accounts/"), "accounts")
            account = items[0] if items else {}
        quality = QUALITY_MAP.get(
            str(account.get("quality_score") or account.get("quality_rating") or "").upper(),
            "unknown",
        )
        phone_status = PHONE_STATUS_MAP.get(str(account.get("phone_status") or "").upper(), "unknown")
        tier = None
        if account.get("messaging_limit_tier"):
            tier = TIER_MAP.get(str(account["messaging_limit_tier"]).upper())
        elif isinstance(account.get("daily_limit"), int) and account["daily_limit"] > 0:
            tier = account["daily_limit"]
        credit = account.get("current_credit")
        try:
            credit = float(credit) / 1000.0 if credit is not None else None
        except (TypeError, ValueError):
            credit = None
        return AccountInfo(quality=quality, phone_status=phone_status, tier_limit=tier, credit=credit)

    # -- webhooks -----------------------------------------------------------
    def parse_webhook(self, payload):
        """``{"event": "message.outbound"|"message.inbound"|"template.…",
        "data": {…}}`` (or a list of them) → the three lists (ASSUMED shape)."""
        statuses, inbound, templates = [], [], []
        events = payload if isinstance(payload, list) else [payload]
        now = self.clock()
        for event in events:
            if not isinstance(event, dict):
                continue
            name = str(event.get("event") or event.get("type") or "")
            data = event.get("data") if isinstance(event.get("data"), dict) else {}
            stamp = _parse_time(
                data.get("status_updated_at")
                or data.get("timestamp")
                or data.get("created_at")
                or event.get("created_at"),
                now,
            )
            if name.startswith("message.outbound"):
                status = MESSAGE_STATUS_MAP.get(str(data.get("status") or "").lower())
                if not status:
                    continue
                message_id = str(data.get("id") or "")
                if not message_id:
                    key = (data.get("metadata") or {}).get("idempotency_key")
                    message_id = f"idem:{key}" if key else ""
                statuses.append(
                    StatusEvent(
                        message_id,
                        status,
                        stamp,
                        error_code=str(data.get("error_code") or "") if status == "failed" else "",
                        error_message=str(data.get("error_message") or data.get("error") or "")
                        if status == "failed"
                        else "",
                    )
                )
            elif name.startswith("message.inbound"):
                contact = data.get("contact") or {}
                phone = data.get("phone") or contact.get("phone") or ""
                text = data.get("text")
                if text is None:
                    button = data.get("button") or {}
                    text = button.get("text") or button.get("payload") or data.get("payload") or ""
                profile = " ".join(p for p in (contact.get("first_name"), contact.get("last_name")) if p)
                media = inbound_media(data)
                if media:
                    text = data.get("caption") or data.get("text") or ""
                inbound.append(
                    InboundMessage(
                        str(data.get("id") or ""),
                        plus_digits(phone),
                        str(text),
                        stamp,
                        profile,
                        **media,
                    )
                )
            elif name.startswith("template"):
                status, reason = self._template_state(data)
                templates.append(TemplateStatus(str(data.get("id") or ""), status, reason, timestamp=stamp))
        return statuses, inbound, templates
