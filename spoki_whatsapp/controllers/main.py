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
  that is not JSON 400. A valid body is stored (``spoki.webhook.inbox``),
  committed, and answered 200; the cron "WhatsApp: apply webhooks" applies
  the stored bodies in bulk (status events, incoming messages, template
  status changes), idempotently: providers retry deliveries, the same event
  twice is harmless. Bodies with more than statuses (incoming messages,
  template reviews) are applied right after the commit, in a transaction of
  their own (people wait on those); statuses wait for the bulk apply.

  The POST runs without a user (``auth="none"``, like Odoo's
  ``/web/health``): the account's provider and webhook secret come from the
  registry's cache (``spoki.account._webhook_signing``: one SQL statement
  the first time, cleared when an account or its secret changes), the
  provider class checks the signature with it (``verify_webhook_with``), one
  INSERT stores the body, one COMMIT makes it durable before the answer.

``/spoki/webhook/meta`` — the app-level webhook of a Meta app shared by
several numbers (Meta calls one URL per app):

* ``GET``: the handshake, with the verify token of any Meta account;
* ``POST``: the payload is split by ``metadata.phone_number_id`` (messages,
  statuses) and by the entry's WABA id (template reviews); each part goes to
  the Meta accounts of that number / WABA whose app secret verifies the
  signature (``spoki.message._route_app_webhook``), stored for each of them.
  Events that name no number / WABA, or no account that signed them, are
  dropped and logged; a request from which nothing could be dispatched gets
  403.

Both: a body over ``MAX_BODY`` (1 MiB) is refused with 413 before anything
else — announced by Content-Length or found while reading, never hashed;
an unknown account answers exactly like a bad signature (403, same body), so
the endpoint doesn't tell which accounts exist.

Verify, store, answer: nothing provider-specific here.
"""

import hmac
import json
import logging

from odoo import SUPERUSER_ID, api, http
from odoo.http import request
from odoo.tools import SQL

from ..models.spoki_webhook_inbox import TRANSIENT_ERRORS
from ..tools.providers import provider_class
from ..tools.providers.base import WhatsAppProvider

_logger = logging.getLogger(__name__)

#: largest webhook body accepted (Meta batches up to 1,000 changes, far less)
MAX_BODY = 1024 * 1024
FORBIDDEN = "Forbidden"


class SpokiWebhook(http.Controller):
    @http.route(
        "/spoki/webhook/<int:account_id>",
        type="http",
        auth="none",
        readonly=False,  # stores the body
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
        max_content_length=MAX_BODY,
    )
    def spoki_webhook(self, account_id, **kwargs):
        if request.httprequest.method != "POST":
            request.env.cr.execute(SQL("SELECT webhook_verify_token FROM spoki_account WHERE id = %s", account_id))
            row = request.env.cr.fetchone()
            if row is None:
                _logger.warning("WhatsApp webhook for unknown account %s refused", account_id)
                return self._forbidden()
            return self._verify(kwargs, [row[0]])
        raw = self._read_body()
        if raw is None:
            return self._too_large()
        kind, secret = self._env()["spoki.account"]._webhook_signing(account_id)
        if kind is None:
            _logger.warning("WhatsApp webhook for unknown account %s refused", account_id)
            return self._forbidden()
        try:
            cls = provider_class(kind)
        except ValueError:  # a provider not installed any more: refused like a bad signature
            cls = WhatsAppProvider
        if not cls.verify_webhook_with(secret, request.httprequest.headers, raw):
            _logger.warning("WhatsApp webhook for account %s refused: bad or missing signature", account_id)
            return self._forbidden()
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            return request.make_response("Bad request", status=400)
        try:
            body = raw.decode()
        except UnicodeDecodeError:  # JSON in another Unicode encoding: stored as UTF-8
            body = json.dumps(payload)
        self._store([(account_id, body)], prompt=not cls.webhook_is_statuses_only(payload))
        return self._ok()

    @http.route(
        "/spoki/webhook/<string:kind>",
        type="http",
        auth="none",
        readonly=False,  # stores the body
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
        max_content_length=MAX_BODY,
    )
    def spoki_webhook_app(self, kind, **kwargs):
        """App-level webhook of provider ``kind`` (``/spoki/webhook/meta``):
        which providers have one, and how its payload is split, is the
        provider's business (``spoki.message._route_app_webhook``)."""
        env = self._env()
        if request.httprequest.method == "GET":
            accounts = env["spoki.account"].search([("provider", "=", kind)])
            return self._verify(kwargs, accounts.mapped("webhook_verify_token"))
        raw = self._read_body()
        if raw is None:
            return self._too_large()
        routed = env["spoki.message"]._route_app_webhook(kind, request.httprequest.headers, raw)
        if routed is None:
            return self._forbidden()
        cls = provider_class(kind)
        prompt = any(not cls.webhook_is_statuses_only(part) for _account, part in routed)
        self._store([(account.id, json.dumps(part)) for account, part in routed], prompt=prompt)
        _logger.info("WhatsApp %s app webhook: stored for %s account(s)", kind, len(routed))
        return self._ok()

    # -- store --------------------------------------------------------------

    @staticmethod
    def _env():
        """The request's cursor as the superuser (the routes run without a user)."""
        return api.Environment(request.env.cr, SUPERUSER_ID, {})

    def _store(self, rows, prompt=False):
        """Store the verified bodies ``[(account id, body)]`` and commit:
        from now on nothing is lost. ``prompt``: apply them right away too, in
        a transaction of their own (incoming messages, template reviews);
        otherwise (statuses) the apply cron is triggered."""
        env = self._env()
        Inbox = env["spoki.webhook.inbox"]
        ids = Inbox._store(env.cr, rows)
        if not prompt:
            Inbox._trigger_apply()
        env.cr.commit()
        if not prompt:
            return
        try:
            Inbox._apply_inbox(ids=ids)
            env.cr.commit()
        except Exception as exc:  # noqa: BLE001 - stored and committed: the cron applies it
            env.cr.rollback()
            env.invalidate_all(flush=False)
            transient = isinstance(exc, TRANSIENT_ERRORS)
            _logger.log(
                logging.INFO if transient else logging.ERROR,
                "WhatsApp webhook %s: applying it failed, left to the cron",
                ids,
                exc_info=not transient,
            )
            Inbox._trigger_apply()
            env.cr.commit()

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
