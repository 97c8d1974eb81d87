"""The WhatsApp webhook of an automation rule (``on_webhook`` with
*WhatsApp contact*): external software (a form, a booking tool, Zapier) posts
a number and values of dynamic fields.

``POST /spoki/automation/<rule uuid>`` with header ``X-Spoki-Secret: <the
rule's secret>`` and a JSON body ``{"number": "+39 347 …", "name": "…",
"values": {"APPOINTMENT_DATE": "2026-06-20"}, "id": "<your idempotency
key>"}``. Answers 200 ``{"status": "ok", "contact_id": …, "run":
"done"|"already_done"}``; 404 unknown rule, 403 wrong secret, 400 invalid
JSON, number or values (nothing changed), 413 body over 1 MiB. A call retried
with the same ``id`` (or the same body) runs the rule once."""

import hmac
import json
import logging

from odoo import exceptions, http
from odoo.http import request

from ..tools.automation import webhook_occurrence

_logger = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024


class SpokiAutomationWebhook(http.Controller):
    @http.route(
        "/spoki/automation/<string:rule_uuid>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def spoki_automation_webhook(self, rule_uuid, **kwargs):
        rule = (
            request.env["base.automation"]
            .sudo()
            .search([("webhook_uuid", "=", rule_uuid), ("trigger", "=", "on_webhook"), ("spoki_webhook", "=", True)])
        )
        if len(rule) != 1:
            return self._answer({"status": "error", "error": "Unknown webhook."}, 404)
        secret = (request.httprequest.headers.get("X-Spoki-Secret") or "").encode()
        if not secret or not hmac.compare_digest(secret, (rule.spoki_webhook_secret or "").encode()):
            _logger.warning("WhatsApp automation webhook %s refused: wrong secret", rule.id)
            return self._answer({"status": "error", "error": "Wrong secret."}, 403)
        if (request.httprequest.content_length or 0) > MAX_BODY:
            return self._answer({"status": "error", "error": "Payload too large."}, 413)
        raw = request.httprequest.get_data(cache=True)
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            return self._answer({"status": "error", "error": "The body is not JSON."}, 400)
        try:
            with request.env.cr.savepoint():
                partner, runs = rule._spoki_execute_webhook(payload, webhook_occurrence(payload, raw))
        except (exceptions.ValidationError, exceptions.UserError) as exc:
            return self._answer({"status": "error", "error": str(exc)}, 400)
        return self._answer({"status": "ok", "contact_id": partner.id, "run": "done" if runs else "already_done"}, 200)

    @staticmethod
    def _answer(body, status):
        return request.make_json_response(body, status=status)
