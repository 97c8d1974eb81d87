"""Meta WhatsApp Cloud API provider (graph.facebook.com), plain Python.

Config keys (``config`` dict):

* ``endpoint`` — default ``https://graph.facebook.com`` (tests point it at the
  local fake server);
* ``api_version`` — default ``v21.0``;
* ``phone_number_id`` — the sending number (messages, account info);
* ``waba_id`` — the WhatsApp Business Account (template submission);
* ``access_token`` — system-user token, sent as ``Authorization: Bearer``;
* ``app_secret`` — used by :func:`verify_signature` on incoming webhooks;
* ``timeout`` — seconds per HTTP call, default 10.

Idempotency: the Cloud API has no idempotency key, so :meth:`find_message`
always returns None. A send that timed out may or may not have reached Meta;
the app reconciles Meta sends with its own attempt record (and the ``sent``
status webhook carrying the ``wamid``), never by asking Meta.

Statuses and inbound messages are only pushed by webhook
(:meth:`MetaCloudProvider.parse_webhook`); ``supports_status_polling`` is
False.
"""

import hashlib
import hmac
import re
from datetime import datetime, timezone

from .base import (
    AccountInfo,
    InboundMessage,
    PermanentError,
    ProviderError,
    SendResult,
    StatusEvent,
    TemplateStatus,
    TemporaryError,
    WhatsAppProvider,
)
from .http import JsonHttpClient, decode_json, error_detail
from .http import raise_for_response as _generic_raise_for_response

UTC = timezone.utc  # noqa: UP017 - datetime.UTC needs Python 3.11, Odoo 18 runs on 3.10+
DEFAULT_ENDPOINT = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"

# -- Meta error codes (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes)
#: throttling: app / account / WABA / pair rate limits → retry later
RATE_LIMIT_CODES = {4, 80007, 130429, 131048, 131056}
SPAM_RATE_LIMIT_CODE = 131048  # "spam rate limit hit": the app pauses campaigns
#: Meta-side transient failures
TRANSIENT_CODES = {1, 2, 131000, 131016, 133004}
#: the recipient cannot receive the message
INVALID_NUMBER_CODES = {131026, 131030, 1006}
#: the template cannot be used as sent
TEMPLATE_CODES = {132000, 132001, 132015, 132016}
OUTSIDE_WINDOW_CODE = 131047  # re-engagement message: more than 24 h since last reply
#: token expired / invalid / missing permission
AUTH_CODES = {190, 102, 10, 3}

QUALITY_MAP = {"GREEN": "high", "YELLOW": "medium", "RED": "low"}
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
#: template status (API field ``status`` and webhook ``event``) → ours
TEMPLATE_STATUS_MAP = {
    "PENDING": "in_review",
    "IN_APPEAL": "in_review",
    "APPROVED": "approved",
    "REINSTATED": "approved",
    "FLAGGED": "approved",  # still sendable, quality warning (reason kept)
    "REJECTED": "rejected",
}
MESSAGE_STATUSES = {"sent", "delivered", "read", "failed"}
BUTTON_TYPES = {
    "url": "URL",
    "phone": "PHONE_NUMBER",
    "phone_number": "PHONE_NUMBER",
    "call": "PHONE_NUMBER",
    "quick_reply": "QUICK_REPLY",
    "reply": "QUICK_REPLY",
}
_PLACEHOLDER_RE = re.compile(r"\{\{\s*(\d+)\s*\}\}")


def _ts(value):
    """Meta unix timestamp (string) → naive UTC datetime."""
    try:
        return datetime.fromtimestamp(int(value), UTC).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError):
        return datetime.now(UTC).replace(tzinfo=None)


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
    expected = hmac.new(
        app_secret.encode(), bytes(raw_body), hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, received)


def classify_meta_error(code, message="", http_status=None):
    """``(error class, our code)`` for a Meta error code. Also usable on the
    ``errors[0].code`` of a ``failed`` status webhook."""
    try:
        code = int(code)
    except (TypeError, ValueError):
        code = None
    text = (message or "").lower()
    if code == SPAM_RATE_LIMIT_CODE:
        return TemporaryError, "spam_rate_limited"
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
    if (
        code in AUTH_CODES
        or (code is not None and 200 <= code <= 299)
        or http_status == 401
    ):
        return PermanentError, "auth"
    if code is not None:
        return PermanentError, f"meta_{code}"
    return PermanentError, f"http_{http_status}" if http_status else "error"


def _raise_for_response(response, body=None):
    """Central Meta response → result / error mapping."""
    if body is None:
        body = decode_json(response)
    status = response.status_code
    if 200 <= status < 300:
        return _generic_raise_for_response(response, body)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        # No Graph error object (proxy page, bare 5xx…): generic mapping.
        return _generic_raise_for_response(response, body)
    code = error.get("code")
    message = error.get("message") or error_detail(body, response)
    details = (
        (error.get("error_data") or {}).get("details")
        if isinstance(error.get("error_data"), dict)
        else ""
    )
    cls, our_code = classify_meta_error(code, f"{message} {details or ''}", status)
    text = f"{message} (#{code})" if code is not None else message
    if details and details not in text:
        text = f"{text}: {details}"
    raise cls(text, code=our_code, http_status=status)


def _digits(number):
    return re.sub(r"\D", "", number or "")


class MetaCloudProvider(WhatsAppProvider):
    kind = "meta"
    supports_status_polling = False

    def __init__(self, config, clock=None):
        super().__init__(config, clock=clock)
        cfg = self.config
        self.endpoint = (cfg.get("endpoint") or DEFAULT_ENDPOINT).rstrip("/")
        self.api_version = (cfg.get("api_version") or DEFAULT_API_VERSION).strip("/")
        self.phone_number_id = str(cfg.get("phone_number_id") or "")
        self.waba_id = str(cfg.get("waba_id") or "")
        self.app_secret = cfg.get("app_secret") or ""
        token = cfg.get("access_token") or ""
        self.http = JsonHttpClient(
            f"{self.endpoint}/{self.api_version}",
            headers={"Authorization": f"Bearer {token}"} if token else None,
            timeout=float(cfg.get("timeout") or 10),
            raise_for_response=_raise_for_response,
        )
        self._has_token = bool(token)

    # -- helpers ------------------------------------------------------------
    def _require(self, *keys):
        missing = [k for k in keys if not getattr(self, k, None)]
        if not self._has_token:
            missing.append("access_token")
        if missing:
            raise PermanentError(
                f"Meta provider is not configured: missing {', '.join(missing)}",
                code="config",
            )

    def verify_signature(self, raw_body, header_value):
        return verify_signature(self.app_secret, raw_body, header_value)

    # -- messages -----------------------------------------------------------
    def _send(self, payload):
        self._require("phone_number_id")
        body = self.http.post(f"{self.phone_number_id}/messages", json=payload)
        messages = body.get("messages") if isinstance(body, dict) else None
        if not messages or not messages[0].get("id"):
            # Accepted but no id: can't track it — let the app reconcile.
            raise TemporaryError(
                "Meta accepted the call but returned no message id", code="bad_response"
            )
        meta_status = (messages[0].get("message_status") or "accepted").lower()
        status = (
            "queued"
            if meta_status in ("held_for_quality_assessment", "paused")
            else "sent"
        )
        return SendResult(messages[0]["id"], status)

    def send_template(self, to, template_name, language, params, idempotency_key):
        template = {"name": template_name, "language": {"code": language}}
        if params:
            template["components"] = [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": str(v)} for v in params],
                }
            ]
        return self._send(
            {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": _digits(to),
                "type": "template",
                "template": template,
            }
        )

    def send_text(self, to, body, idempotency_key):
        if not (body or "").strip():
            raise PermanentError("Empty message", code="empty_body")
        return self._send(
            {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": _digits(to),
                "type": "text",
                "text": {"body": body, "preview_url": False},
            }
        )

    def find_message(self, idempotency_key):
        # Meta has no idempotency key nor a "find by client reference" call:
        # the app reconciles Meta sends by its own attempt record.
        return None

    # -- templates ----------------------------------------------------------
    def _template_components(self, spec, body, lang):
        components = []
        numbers = sorted({int(n) for n in _PLACEHOLDER_RE.findall(body or "")})
        component = {"type": "BODY", "text": body}
        if numbers:
            examples = getattr(spec, "examples", None) or {}
            if isinstance(examples, dict):
                examples = examples.get(lang) or []
            values = [
                str(examples[n - 1]) if n - 1 < len(examples) else f"example {n}"
                for n in range(1, max(numbers) + 1)
            ]
            component["example"] = {"body_text": [values]}
        components.append(component)
        buttons = []
        for button in spec.buttons or []:
            btype = BUTTON_TYPES.get((button.get("type") or "").lower())
            if not btype:
                raise PermanentError(
                    f"Unsupported button type {button.get('type')!r}",
                    code="invalid_template",
                )
            item = {"type": btype, "text": button.get("text") or ""}
            if btype == "URL":
                item["url"] = button.get("value") or ""
            elif btype == "PHONE_NUMBER":
                item["phone_number"] = button.get("value") or ""
            buttons.append(item)
        if buttons:
            components.append({"type": "BUTTONS", "buttons": buttons})
        return components

    @staticmethod
    def _map_template(status, reason):
        """Meta template status / event + reason → (our status, reason)."""
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

    @staticmethod
    def _aggregate(external_id, results):
        """results: list of (status, reason) → one TemplateStatus."""
        rejected = [r for s, r in results if s == "rejected"]
        if rejected:
            return TemplateStatus(
                external_id, "rejected", "; ".join(r for r in rejected if r)
            )
        if results and all(s == "approved" for s, _ in results):
            return TemplateStatus(
                external_id, "approved", "; ".join(r for _, r in results if r)
            )
        return TemplateStatus(external_id, "in_review")

    def submit_template(self, spec):
        """One ``POST /{waba_id}/message_templates`` per language (Meta keys
        templates by name + language)."""
        self._require("waba_id")
        if not spec.languages:
            raise PermanentError(
                "The template has no language", code="invalid_template"
            )
        ids, results = [], []
        for lang, body in spec.languages.items():
            payload = {
                "name": spec.name,
                "language": lang,
                "category": (spec.category or "MARKETING").upper(),
                "components": self._template_components(spec, body, lang),
            }
            try:
                answer = self.http.post(
                    f"{self.waba_id}/message_templates", json=payload
                )
            except ProviderError as exc:
                if ids:
                    # Earlier languages exist at Meta already: tell the caller.
                    exc.created_ids = list(ids)
                    exc.args = (
                        f"{exc.args[0] if exc.args else exc} (already created: {','.join(ids)})",
                    )
                raise
            ids.append(str(answer.get("id") or ""))
            results.append(
                self._map_template(
                    answer.get("status") or "PENDING", answer.get("rejected_reason")
                )
            )
        return self._aggregate(",".join(ids), results)

    def get_template_status(self, external_id):
        self._require()
        ids = [i.strip() for i in (external_id or "").split(",") if i.strip()]
        if not ids:
            raise PermanentError(
                f"Unknown template {external_id!r}", code="unknown_template"
            )
        results = []
        for template_id in ids:
            answer = self.http.get(
                template_id, params={"fields": "status,rejected_reason"}
            )
            results.append(
                self._map_template(answer.get("status"), answer.get("rejected_reason"))
            )
        return self._aggregate(external_id, results)

    # -- account ------------------------------------------------------------
    def get_account_info(self):
        self._require("phone_number_id")
        answer = self.http.get(
            self.phone_number_id,
            params={"fields": "quality_rating,messaging_limit_tier,status,name_status"},
        )
        quality = QUALITY_MAP.get((answer.get("quality_rating") or "").upper(), "high")
        phone_status = PHONE_STATUS_MAP.get(
            (answer.get("status") or "").upper(), "connected"
        )
        tier = TIER_MAP.get((answer.get("messaging_limit_tier") or "").upper())
        return AccountInfo(
            quality=quality, phone_status=phone_status, tier_limit=tier, credit=None
        )

    # -- webhooks -----------------------------------------------------------
    def parse_webhook(self, payload):
        """Meta's ``{"object": "whatsapp_business_account", "entry": [...]}``
        → (status_events, inbound_messages, template_statuses). Changes for
        another phone number id / WABA than the configured one are skipped."""
        statuses, inbound, templates = [], [], []
        if not isinstance(payload, dict):
            return statuses, inbound, templates
        for entry in payload.get("entry") or []:
            entry_id = str(entry.get("id") or "")
            for change in entry.get("changes") or []:
                field = change.get("field")
                value = change.get("value") or {}
                if field == "message_template_status_update":
                    if self.waba_id and entry_id and entry_id != self.waba_id:
                        continue
                    status, reason = self._map_template(
                        value.get("event"), value.get("reason")
                    )
                    templates.append(
                        TemplateStatus(
                            str(value.get("message_template_id") or ""), status, reason
                        )
                    )
                    continue
                if field != "messages":
                    continue
                number_id = str(
                    (value.get("metadata") or {}).get("phone_number_id") or ""
                )
                if (
                    self.phone_number_id
                    and number_id
                    and number_id != self.phone_number_id
                ):
                    continue
                for item in value.get("statuses") or []:
                    status = (item.get("status") or "").lower()
                    if status not in MESSAGE_STATUSES:
                        continue
                    errors = item.get("errors") or []
                    error = errors[0] if errors else {}
                    details = (error.get("error_data") or {}).get("details") or ""
                    statuses.append(
                        StatusEvent(
                            message_id=item.get("id") or "",
                            status=status,
                            timestamp=_ts(item.get("timestamp")),
                            error_code=str(error.get("code") or ""),
                            error_message=error.get("title")
                            or error.get("message")
                            or details,
                        )
                    )
                contacts = value.get("contacts") or []
                for message in value.get("messages") or []:
                    text = self._message_text(message)
                    if text is None:
                        continue
                    sender = message.get("from") or ""
                    profile = next(
                        (c for c in contacts if c.get("wa_id") == sender),
                        contacts[0] if contacts else {},
                    )
                    inbound.append(
                        InboundMessage(
                            message_id=message.get("id") or "",
                            from_number=f"+{_digits(sender)}",
                            text=text,
                            timestamp=_ts(message.get("timestamp")),
                            profile_name=(profile.get("profile") or {}).get("name")
                            or "",
                        )
                    )
        return statuses, inbound, templates

    @staticmethod
    def _message_text(message):
        """Text of an inbound message; None for messages to ignore."""
        mtype = message.get("type")
        if mtype == "text":
            return (message.get("text") or {}).get("body") or ""
        if mtype == "button":  # quick reply button of a template
            button = message.get("button") or {}
            return button.get("text") or button.get("payload") or ""
        if mtype == "interactive":
            interactive = message.get("interactive") or {}
            reply = (
                interactive.get("button_reply") or interactive.get("list_reply") or {}
            )
            return reply.get("title") or reply.get("id") or ""
        if mtype in ("system", "unsupported", "ephemeral", None):
            return None
        media = message.get(mtype) or {}
        if mtype == "reaction":
            return media.get("emoji") or ""
        return media.get("caption") or f"[{mtype}]"
