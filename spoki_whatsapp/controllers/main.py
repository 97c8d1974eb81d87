"""Provider webhooks.

``/spoki/webhook/<account id>`` — one account:

* ``GET``: Meta's verification handshake — ``hub.mode=subscribe``,
  ``hub.verify_token`` equal to the account's verify token (constant-time
  comparison) → the ``hub.challenge`` echoed as text/plain; anything else 403.
* ``POST``: the account's provider verifies the request with its own scheme
  (``WhatsAppProvider.verify_webhook``: Meta's ``X-Hub-Signature-256`` keyed
  with the app secret, Spoki's ``X-Spoki-Signature`` keyed with the webhook
  secret). A provider without its secret refuses every POST (403): an
  unsigned endpoint would let anybody fake statuses, incoming messages and
  opt-outs. A bad or missing signature gets 403 and changes nothing; a body
  that is not JSON 400. Valid payloads are handed to
  ``spoki.message._process_webhook`` (status events, incoming messages,
  template status changes), which is idempotent: providers retry deliveries,
  the same event twice is harmless.

``/spoki/webhook/meta`` — the app-level webhook of a Meta app shared by
several numbers (Meta calls one URL per app):

* ``GET``: the handshake, with the verify token of any Meta account;
* ``POST``: the payload is split by ``metadata.phone_number_id`` (messages,
  statuses) and by the entry's WABA id (template reviews); each part goes to
  the Meta accounts of that number / WABA whose app secret verifies the
  signature (``spoki.message._process_app_webhook``). Events that name no
  number / WABA, or no account that signed them, are dropped and logged; a
  request from which nothing could be dispatched gets 403.

Both: a body over ``MAX_BODY`` (1 MiB) is refused with 413 before anything
else — announced by Content-Length or found while reading, never hashed;
an unknown account answers exactly like a bad signature (403, same body), so
the endpoint doesn't tell which accounts exist.

Verify, store, answer: nothing provider-specific here.
"""

import hmac
import json
import logging

from odoo import http
from odoo.http import request

_logger = logging.getLogger(__name__)

#: largest webhook body accepted (Meta batches up to 1,000 changes, far less)
MAX_BODY = 1024 * 1024
FORBIDDEN = "Forbidden"


class SpokiWebhook(http.Controller):
    @http.route(
        "/spoki/webhook/<int:account_id>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
        max_content_length=MAX_BODY,
    )
    def spoki_webhook(self, account_id, **kwargs):
        raw = None
        if request.httprequest.method == "POST":
            raw = self._read_body()
            if raw is None:
                return self._too_large()
        account = request.env["spoki.account"].sudo().browse(account_id).exists()
        if not account:
            _logger.warning("WhatsApp webhook for unknown account %s refused", account_id)
            return self._forbidden()
        if raw is None:
            return self._verify(kwargs, [account.webhook_verify_token])
        return self._receive(account, raw)

    @http.route(
        "/spoki/webhook/<string:kind>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
        max_content_length=MAX_BODY,
    )
    def spoki_webhook_app(self, kind, **kwargs):
        """App-level webhook of provider ``kind`` (``/spoki/webhook/meta``):
        which providers have one, and how its payload is split, is the
        provider's business (``spoki.message._process_app_webhook``)."""
        if request.httprequest.method == "GET":
            accounts = request.env["spoki.account"].sudo().search([("provider", "=", kind)])
            return self._verify(kwargs, accounts.mapped("webhook_verify_token"))
        raw = self._read_body()
        if raw is None:
            return self._too_large()
        counts = request.env["spoki.message"].sudo()._process_app_webhook(kind, request.httprequest.headers, raw)
        if counts is None:
            return self._forbidden()
        _logger.info("WhatsApp %s app webhook: %s statuses, %s messages, %s template events", kind, *counts)
        return self._ok()

    # -- helpers ------------------------------------------------------------

    @staticmethod
    def _forbidden():
        return request.make_response(FORBIDDEN, status=403, headers=[("Content-Type", "text/plain")])

    @staticmethod
    def _too_large():
        return request.make_response("Payload too large", status=413, headers=[("Content-Type", "text/plain")])

    @staticmethod
    def _ok():
        return request.make_response("OK", headers=[("Content-Type", "text/plain")])

    @staticmethod
    def _read_body():
        """The raw body, or None when it is over ``MAX_BODY``: refused on
        its Content-Length, and read at most ``MAX_BODY`` + 1 bytes (a
        chunked body has no Content-Length)."""
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > MAX_BODY:
            return None
        # Odoo's request object exposes get_data() (reads it all), not the
        # stream: read werkzeug's, bounded (it is the length-limited stream,
        # or the de-chunked input of a chunked request).
        werkzeug_request = getattr(httprequest, "_HTTPRequest__wrapped", None)
        if werkzeug_request is None:  # pragma: no cover - another Odoo request class
            raw = httprequest.get_data(cache=True)
            return None if len(raw) > MAX_BODY else raw
        # Odoo runs the request again after a serialization failure: the
        # stream is read already, the body read the first time is kept
        cached = getattr(werkzeug_request, "_spoki_body", None)
        if cached is not None:
            return cached
        chunks, size = [], 0
        while size <= MAX_BODY:  # a read may return less than asked (one chunk)
            chunk = werkzeug_request.stream.read(MAX_BODY + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_BODY:
            return None
        werkzeug_request._spoki_body = b"".join(chunks)
        return werkzeug_request._spoki_body

    def _verify(self, params, tokens):
        token = (params.get("hub.verify_token") or "").encode()
        # every token compared, in constant time: no early exit on a match
        matches = [hmac.compare_digest(token, expected.encode()) for expected in tokens if expected]
        if params.get("hub.mode") != "subscribe" or not token or not any(matches):
            return self._forbidden()
        return request.make_response(params.get("hub.challenge") or "", headers=[("Content-Type", "text/plain")])

    def _receive(self, account, raw):
        provider = account._get_provider()
        if not provider.verify_webhook(request.httprequest.headers, raw):
            _logger.warning("WhatsApp webhook for account %s refused: bad or missing signature", account.id)
            return self._forbidden()
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            return request.make_response("Bad request", status=400)
        statuses, inbound, templates = request.env["spoki.message"].sudo()._process_webhook(account, payload)
        _logger.info(
            "WhatsApp webhook for account %s: %s statuses, %s messages, %s template events",
            account.id,
            statuses,
            inbound,
            templates,
        )
        return self._ok()
