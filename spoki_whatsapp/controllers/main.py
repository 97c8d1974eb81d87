"""Provider webhook: ``/spoki/webhook/<account id>``.

* ``GET``: Meta's verification handshake — ``hub.mode=subscribe``,
  ``hub.verify_token`` equal to the account's verify token (constant-time
  comparison) → the ``hub.challenge`` echoed as text/plain; anything else 403.
* ``POST``: the account's provider verifies the request with its own scheme
  (``WhatsAppProvider.verify_webhook``: Meta's ``X-Hub-Signature-256`` keyed
  with the app secret, Spoki's ``X-Spoki-Signature`` keyed with the webhook
  secret). A provider without its secret refuses every POST (403): an
  unsigned endpoint would let anybody fake statuses, incoming messages and
  opt-outs. A bad or missing signature gets 403 and changes nothing; an
  unknown account 404; a body that is not JSON 400. Valid payloads are handed
  to ``spoki.message._process_webhook`` (status events, incoming messages,
  template status changes), which is idempotent: providers retry deliveries,
  the same event twice is harmless.

Verify, store, answer: nothing provider-specific here.
"""

import hmac
import json
import logging

from odoo import http
from odoo.http import request

_logger = logging.getLogger(__name__)


class SpokiWebhook(http.Controller):
    @http.route(
        "/spoki/webhook/<int:account_id>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
    )
    def spoki_webhook(self, account_id, **kwargs):
        account = request.env["spoki.account"].sudo().browse(account_id).exists()
        if not account:
            return request.make_response("Unknown account", status=404)
        if request.httprequest.method == "GET":
            return self._verify(account, kwargs)
        return self._receive(account)

    def _verify(self, account, params):
        token = params.get("hub.verify_token") or ""
        expected = account.webhook_verify_token or ""
        if (
            params.get("hub.mode") != "subscribe"
            or not expected
            or not hmac.compare_digest(token.encode(), expected.encode())
        ):
            return request.make_response("Forbidden", status=403)
        return request.make_response(params.get("hub.challenge") or "", headers=[("Content-Type", "text/plain")])

    def _receive(self, account):
        raw = request.httprequest.get_data(cache=True)
        provider = account._get_provider()
        if not provider.verify_webhook(request.httprequest.headers, raw):
            _logger.warning("WhatsApp webhook for account %s refused: bad or missing signature", account.id)
            return request.make_response("Forbidden", status=403)
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
        return request.make_response("OK", headers=[("Content-Type", "text/plain")])
