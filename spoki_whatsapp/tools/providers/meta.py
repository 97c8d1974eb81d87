"""Meta WhatsApp Cloud API provider (graph.facebook.com), plain Python.

Config keys (``config`` dict):

* ``endpoint`` — default ``https://graph.facebook.com`` (tests point it at the
  local fake server);
* ``api_version`` — default ``v21.0``;
* ``phone_number_id`` — the sending number (messages, account info);
* ``waba_id`` — the WhatsApp Business Account (template submission);
* ``access_token`` — system-user token, sent as ``Authorization: Bearer``;
* ``app_secret`` — checks the ``X-Hub-Signature-256`` of incoming webhooks;
* ``timeout`` — seconds per HTTP call, default 10.

Idempotency: the Cloud API has no idempotency key nor a lookup, so
:meth:`find_message` always returns None. Every send carries the caller's
idempotency key as ``biz_opaque_callback_data``, which Meta echoes in the
status webhooks of the message (``StatusEvent.idempotency_key``). A send
whose answer was lost may or may not have reached Meta: only a connection
that could not be opened (refused, DNS, connect timeout, TLS handshake) is a
plain :class:`~.base.TemporaryError`; a read timeout, a connection reset
while waiting for the answer or a 2xx without a message id raise
:class:`~.base.UnknownOutcomeError`, and the app reconciles the message from
the webhooks carrying its key, never by sending it again.

Statuses and inbound messages are only pushed by webhook
(:class:`.cloud_api.CloudApiWebhook`); ``supports_status_polling`` is
False.

Reactions and replies (``supports_reactions``, ``supports_replies``): the
webhook reports the customer's reactions to the business's messages of the
last 30 days (``type: reaction``, ``reaction.message_id`` and ``emoji``; no
``emoji`` when removed) and quotes (``context.id``);
:meth:`send_reaction` posts ``type: reaction`` (``emoji`` '' removes it; Meta
reports only its ``sent`` status) and a send with ``reply_to`` carries
``context.message_id``.
"""

import requests
import urllib3

from ..media import CAPTION_KINDS
from ..phone import digits_of
from .base import (
    AccountInfo,
    MediaFile,
    PermanentError,
    ProviderError,
    SendResult,
    TemplateStatus,
    TemporaryError,
    UnknownOutcomeError,
    WhatsAppProvider,
    header,
)
from .cloud_api import (
    PHONE_STATUS_MAP,
    QUALITY_MAP,
    TIER_MAP,
    CloudApiWebhook,
    button_type,
    classify_error,
    map_template_status,
    placeholder_numbers,
    template_examples,
)
from .http import JsonHttpClient, decode_json, error_detail
from .http import raise_for_response as _generic_raise_for_response

DEFAULT_ENDPOINT = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
#: urllib3 errors raised before a request could be sent: the connection was
#: never opened (refused, DNS, connect timeout).
_CONNECT_ERRORS = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)


def _raise_for_response(response, body=None):
    """Central Meta response → result / error mapping. A 2xx whose body can't
    be read may have been processed: :class:`UnknownOutcomeError`. Errors
    carry Meta's code (``provider_code``) and the ``Retry-After`` header."""
    if body is None:
        body = decode_json(response)
    status = response.status_code
    retry_after = header(response.headers, "Retry-After") or None
    if 200 <= status < 300:
        if response.content and body is None:
            raise UnknownOutcomeError(
                "Meta answered with a body that is not JSON", code="bad_response", http_status=status
            )
        return _generic_raise_for_response(response, body)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        # No Graph error object (proxy page, bare 5xx…): generic mapping.
        try:
            return _generic_raise_for_response(response, body)
        except ProviderError as exc:
            exc.retry_after = retry_after
            raise
    code = error.get("code")
    message = error.get("message") or error_detail(body, response)
    details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else ""
    cls, our_code = classify_error(code, f"{message} {details or ''}", status)
    text = f"{message} (#{code})" if code is not None else message
    if details and details not in text:
        text = f"{text}: {details}"
    raise cls(
        text,
        code=our_code,
        http_status=status,
        provider_code=str(code) if code is not None else None,
        retry_after=retry_after,
    )


def never_sent(exc):
    """True when the transport error ``exc`` (a :class:`ProviderError`
    raised by the HTTP client from a ``requests`` exception) happened before
    the request could leave: the connection was never opened, so sending
    again can't duplicate the message. Anything else (read timeout,
    connection reset or closed while waiting for the answer) may have reached
    the server."""
    cause = exc.__cause__
    if isinstance(cause, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError)):
        return True
    if isinstance(cause, requests.exceptions.ConnectionError):
        inner = cause.args[0] if cause.args else None
        return isinstance(getattr(inner, "reason", None), _CONNECT_ERRORS) or isinstance(inner, _CONNECT_ERRORS)
    return False


class MetaCloudProvider(CloudApiWebhook, WhatsAppProvider):
    kind = "meta"
    label = "Meta Cloud API"
    config_fields = {
        "access_token": "meta_access_token",
        "phone_number_id": "meta_phone_number_id",
        "waba_id": "meta_waba_id",
        "app_secret": "meta_app_secret",
    }
    supports_status_polling = False
    supports_reactions = True
    supports_replies = True

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

    # -- messages -----------------------------------------------------------
    def _send(self, payload, idempotency_key, reply_to=""):
        """POST a message. Only errors whose request never left (no connection)
        or that Meta answered are plain errors; a lost answer is an
        :class:`UnknownOutcomeError` (see the module docstring). ``reply_to``:
        the quoted message (``context.message_id``)."""
        self._require("phone_number_id")
        if reply_to:
            payload["context"] = {"message_id": reply_to}
        if idempotency_key:
            payload["biz_opaque_callback_data"] = idempotency_key
        try:
            body = self.http.post(f"{self.phone_number_id}/messages", json=payload)
        except TemporaryError as exc:
            if exc.outcome_unknown or exc.http_status or never_sent(exc):
                raise
            raise UnknownOutcomeError(
                f"{exc} — Meta may have received the message", code=exc.code, http_status=exc.http_status
            ) from exc
        messages = body.get("messages") if isinstance(body, dict) else None
        if not messages or not isinstance(messages[0], dict) or not messages[0].get("id"):
            # Accepted but no id: can't track it — let the app reconcile.
            raise UnknownOutcomeError("Meta accepted the call but returned no message id", code="bad_response")
        meta_status = (messages[0].get("message_status") or "accepted").lower()
        status = "queued" if meta_status in ("held_for_quality_assessment", "paused") else "sent"
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
                "to": digits_of(to),
                "type": "template",
                "template": template,
            },
            idempotency_key,
        )

    def send_text(self, to, body, idempotency_key, reply_to=""):
        if not (body or "").strip():
            raise PermanentError("Empty message", code="empty_body")
        return self._send(
            {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": digits_of(to),
                "type": "text",
                "text": {"body": body, "preview_url": False},
            },
            idempotency_key,
            reply_to,
        )

    def send_reaction(self, to, message_id, emoji, idempotency_key=""):
        """``POST /messages`` with ``type: reaction`` on the customer's
        message ``message_id``; ``emoji`` '' removes our reaction."""
        if not message_id:
            raise PermanentError("The reaction names no message", code="not_found")
        return self._send(
            {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": digits_of(to),
                "type": "reaction",
                "reaction": {"message_id": message_id, "emoji": emoji or ""},
            },
            idempotency_key,
        )

    # -- media ------------------------------------------------------------
    def upload_media(self, data, mime_type, filename):
        """``POST /{phone-number-id}/media`` (multipart: ``file``, ``type``,
        ``messaging_product``) → the media id. Nothing is sent to anybody by
        an upload: its failures are plain errors (retried, never "unknown")."""
        self._require("phone_number_id")
        answer = self.http.request(
            "POST",
            f"{self.phone_number_id}/media",
            data={"messaging_product": "whatsapp", "type": mime_type},
            files={"file": (filename or "file", data, mime_type)},
        )
        media_id = str((answer or {}).get("id") or "")
        if not media_id:
            raise TemporaryError("Meta accepted the upload but returned no media id", code="bad_response")
        return media_id

    def send_media(self, to, kind, data, mime_type, filename, caption, idempotency_key, reply_to=""):
        """Upload the file, then ``POST /messages`` with ``type`` = ``kind``
        and ``{kind: {"id": media id, "caption"?, "filename"?}}`` (a caption
        only for images, videos and documents; a file name for documents)."""
        media_id = self.upload_media(data, mime_type, filename)
        media = {"id": media_id}
        if caption and kind in CAPTION_KINDS:
            media["caption"] = caption
        if kind == "document" and filename:
            media["filename"] = filename
        return self._send(
            {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": digits_of(to),
                "type": kind,
                kind: media,
            },
            idempotency_key,
            reply_to,
        )

    def download_media(self, ref, max_bytes=None):
        """``GET /{media-id}`` (with the token) → ``url``, ``mime_type``,
        ``file_size``; then ``GET url`` with the token. Meta's URLs expire
        after 5 minutes: each attempt asks for a fresh one."""
        self._require()
        if not ref:
            raise PermanentError("The message names no media id", code="not_found")
        info = self.http.get(str(ref))
        url = (info or {}).get("url")
        if not url:
            raise PermanentError(f"Meta gave no URL for media {ref}", code="not_found")
        size = info.get("file_size")
        if max_bytes is not None and str(size or "").isdigit() and int(size) > max_bytes:
            raise PermanentError(f"The file is larger than {max_bytes} bytes", code="too_big")
        data, content_type = self.http.download(url, max_bytes=max_bytes)
        return MediaFile(data, info.get("mime_type") or content_type or "", "")

    def find_message(self, idempotency_key):
        # Meta has no idempotency key nor a "find by client reference" call:
        # the app reconciles Meta sends from the status webhooks that echo
        # the key (biz_opaque_callback_data).
        return None

    # -- templates ----------------------------------------------------------
    def _template_components(self, spec, body, lang):
        components = []
        numbers = placeholder_numbers(body)
        component = {"type": "BODY", "text": body}
        if numbers:
            examples = template_examples(spec, lang)
            values = [
                str(examples[n - 1]) if n - 1 < len(examples) else f"example {n}" for n in range(1, max(numbers) + 1)
            ]
            component["example"] = {"body_text": [values]}
        components.append(component)
        buttons = []
        for button in spec.buttons_for(lang):
            btype = button_type(button)
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
    def _aggregate(external_id, results):
        """results: list of (status, reason) → one TemplateStatus."""
        rejected = [r for s, r in results if s == "rejected"]
        if rejected:
            return TemplateStatus(external_id, "rejected", "; ".join(r for r in rejected if r))
        if results and all(s == "approved" for s, _ in results):
            return TemplateStatus(external_id, "approved", "; ".join(r for _, r in results if r))
        return TemplateStatus(external_id, "in_review")

    def submit_template(self, spec):
        """One ``POST /{waba_id}/message_templates`` per language (Meta keys
        templates by name + language)."""
        self._require("waba_id")
        if not spec.languages:
            raise PermanentError("The template has no language", code="invalid_template")
        ids, results = [], []
        for lang, body in spec.languages.items():
            payload = {
                "name": spec.name,
                "language": lang,
                "category": (spec.category or "MARKETING").upper(),
                "components": self._template_components(spec, body, lang),
            }
            try:
                answer = self.http.post(f"{self.waba_id}/message_templates", json=payload)
            except ProviderError as exc:
                if ids:
                    # Earlier languages exist at Meta already: tell the caller.
                    exc.created_ids = list(ids)
                    exc.args = (f"{exc.args[0] if exc.args else exc} (already created: {','.join(ids)})",)
                raise
            ids.append(str(answer.get("id") or ""))
            results.append(map_template_status(answer.get("status") or "PENDING", answer.get("rejected_reason")))
        return self._aggregate(",".join(ids), results)

    def get_template_status(self, external_id):
        self._require()
        ids = [i.strip() for i in (external_id or "").split(",") if i.strip()]
        if not ids:
            raise PermanentError(f"Unknown template {external_id!r}", code="unknown_template")
        results = []
        for template_id in ids:
            answer = self.http.get(template_id, params={"fields": "status,rejected_reason"})
            results.append(map_template_status(answer.get("status"), answer.get("rejected_reason")))
        return self._aggregate(external_id, results)

    # -- account ------------------------------------------------------------
    def get_account_info(self):
        self._require("phone_number_id")
        answer = self.http.get(
            self.phone_number_id,
            params={"fields": "quality_rating,messaging_limit_tier,status,name_status"},
        )
        quality = QUALITY_MAP.get((answer.get("quality_rating") or "").upper(), "unknown")
        phone_status = PHONE_STATUS_MAP.get((answer.get("status") or "").upper(), "unknown")
        tier = TIER_MAP.get((answer.get("messaging_limit_tier") or "").upper())
        return AccountInfo(quality=quality, phone_status=phone_status, tier_limit=tier, credit=None)
