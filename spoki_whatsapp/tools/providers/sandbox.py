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
"""

import hashlib
import re
import threading
from datetime import datetime, timedelta

import phonenumbers

from .base import (
    AccountInfo,
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
        "credit": "credit_balance",
        "app_secret": "meta_app_secret",
    }
    supports_status_polling = True
    supports_lookup = True
    simulated = True

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

    def send_text(self, to, body, idempotency_key):
        if not (body or "").strip():
            raise PermanentError("Empty message", code="empty_body")
        return self._send(to, idempotency_key)

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
