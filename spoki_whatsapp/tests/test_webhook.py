import json
import time
from unittest.mock import patch

from odoo.tests import HttpCase, tagged

from odoo.addons.spoki_whatsapp.controllers.main import MAX_BODY
from odoo.addons.spoki_whatsapp.tools.providers.cloud_api import CloudApiWebhook

from . import fake_provider as fp
from .common import SpokiCommon, apply_webhooks

SECRET = "test-app-secret"


@tagged("post_install", "-at_install")
class TestWebhook(HttpCase, SpokiCommon):
    """``/spoki/webhook/<account id>``: Meta's handshake, the
    X-Hub-Signature-256 check, statuses and incoming messages."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account.write({"meta_app_secret": SECRET, "webhook_verify_token": "verify-me"})
        cls.url = f"/spoki/webhook/{cls.account.id}"
        cls.customer = cls.env["res.partner"].create({"name": "Webhook Customer", "mobile": "+393391112233"})
        cls.sent = cls.env["spoki.message"].create(
            {
                "account_id": cls.account.id,
                "partner_id": cls.customer.id,
                "wa_phone": "+393391112233",
                "kind": "text",
                "body": "Hello",
                "state": "sent",
                "provider_message_id": "wamid.TEST1",
                "sent_at": "2026-01-01 10:00:00",
            }
        )

    def _post(self, payload, secret=SECRET, signature=None, url=None):
        """POST the webhook, then run the apply job (statuses are applied in
        bulk after the answer: ``spoki.webhook.inbox``)."""
        raw = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature is None and secret:
            signature = fp.meta_signature(secret, raw)
        if signature:
            headers["X-Hub-Signature-256"] = signature
        response = self.opener.post(self.base_url() + (url or self.url), data=raw, headers=headers, timeout=20)
        apply_webhooks(self.env)
        return response

    def _statuses(self, *items):
        return fp.meta_webhook([fp.meta_messages_change(statuses=list(items))])

    def test_handshake(self):
        ok = self.url_open(f"{self.url}?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=12345")
        self.assertEqual((ok.status_code, ok.text), (200, "12345"))
        bad = self.url_open(f"{self.url}?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=12345")
        self.assertEqual(bad.status_code, 403)
        # an unknown account answers like a wrong token (issue 11: no account enumeration)
        unknown = self.url_open("/spoki/webhook/999999?hub.mode=subscribe&hub.verify_token=verify-me")
        self.assertEqual((unknown.status_code, unknown.text), (403, bad.text))

    def test_signature_rejected_changes_nothing(self):
        payload = self._statuses(fp.meta_status("wamid.TEST1", "read", time.time()))
        count = self.env["spoki.message"].search_count([])
        for response in (
            self._post(payload, secret=None),  # missing
            self._post(payload, signature="sha256=" + "0" * 64),  # wrong
            self._post(payload, secret="another-secret"),  # signed with another secret
            self._post(payload, signature="md5=abc"),  # malformed
        ):
            self.assertEqual(response.status_code, 403)
        self.sent.invalidate_recordset()
        self.assertEqual(self.sent.state, "sent")
        self.assertEqual(self.env["spoki.message"].search_count([]), count)

    def test_account_without_secret_refuses(self):
        self.account_b.meta_app_secret = False
        payload = self._statuses(fp.meta_status("wamid.TEST1", "read", time.time()))
        response = self._post(payload, url=f"/spoki/webhook/{self.account_b.id}")
        self.assertEqual(response.status_code, 403)

    def test_statuses_duplicate_and_out_of_order(self):
        t0 = 1767261600  # 2026-01-01 10:00:00 UTC
        read = self._statuses(fp.meta_status("wamid.TEST1", "read", t0 + 60))
        self.assertEqual(self._post(read).status_code, 200)
        self.sent.invalidate_recordset()
        self.assertEqual(self.sent.state, "read")
        delivered = self._statuses(
            fp.meta_status("wamid.TEST1", "delivered", t0 + 5), fp.meta_status("wamid.UNKNOWN", "delivered", t0 + 5)
        )
        self.assertEqual(self._post(delivered).status_code, 200)
        self.assertEqual(self._post(read).status_code, 200)  # the same event again
        self.sent.invalidate_recordset()
        self.assertEqual(self.sent.state, "read")
        self.assertEqual(str(self.sent.read_at), "2026-01-01 10:01:00")
        self.assertEqual(str(self.sent.delivered_at), "2026-01-01 10:01:00", "read implies delivered, first value kept")

    def test_failed_status_mapped(self):
        payload = self._statuses(fp.meta_status("wamid.TEST1", "failed", time.time(), error_code=131048))
        self.assertEqual(self._post(payload).status_code, 200)
        self.sent.invalidate_recordset()
        self.assertEqual((self.sent.state, self.sent.error_code), ("failed", "spam_rate_limited"))
        self.assertIn("#131048", self.sent.error_message)

    def test_inbound_message_and_stop(self):
        now = int(time.time())
        payload = fp.meta_webhook(
            [
                fp.meta_messages_change(
                    contacts=[fp.meta_contact("393391112233", "Webhook Customer")],
                    messages=[fp.meta_text_message("wamid.IN1", "393391112233", "Hi, is my order ready?", now)],
                )
            ]
        )
        self.assertEqual(self._post(payload).status_code, 200)
        self.assertEqual(self._post(payload).status_code, 200)  # Meta retries: stored once
        incoming = self.env["spoki.message"].search([("provider_message_id", "=", "wamid.IN1")])
        self.assertEqual(len(incoming), 1)
        self.assertEqual((incoming.partner_id, incoming.state), (self.customer, "received"))
        chat = self.env["spoki.chat"].search([("wa_phone", "=", "+393391112233")])
        self.assertTrue(chat.window_open)
        stop = fp.meta_webhook(
            [fp.meta_messages_change(messages=[fp.meta_text_message("wamid.IN2", "393391112233", "STOP", now + 1)])]
        )
        self.assertEqual(self._post(stop).status_code, 200)
        self.customer.invalidate_recordset()
        self.assertTrue(self.customer.wa_opt_out)
        later = fp.meta_webhook(
            [fp.meta_messages_change(messages=[fp.meta_text_message("wamid.IN3", "393391112233", "hello", now + 2)])]
        )
        self.assertEqual(self._post(later).status_code, 200)
        self.customer.invalidate_recordset()
        self.assertTrue(self.customer.wa_opt_out, "never lifted by a later message")

    def test_template_status_event(self):
        template = self.env["spoki.template"].create(
            {"name": "Webhook tpl", "account_id": self.account.id, "lang": "en_US", "body": "Hello there, welcome!"}
        )
        template.write({"state": "in_review", "external_id": "9000000042"})
        payload = fp.meta_webhook([fp.meta_template_change("9000000042", "APPROVED")])
        self.assertEqual(self._post(payload).status_code, 200)
        template.invalidate_recordset()
        self.assertEqual(template.state, "approved")

    def test_bad_json(self):
        raw = b"not json"
        response = self.opener.post(
            self.base_url() + self.url, data=raw, headers={"X-Hub-Signature-256": fp.meta_signature(SECRET, raw)}
        )
        self.assertEqual(response.status_code, 400)

    def test_spoki_account_verified_with_spoki_scheme(self):
        """A Spoki account's webhooks carry Spoki's ``X-Spoki-Signature``,
        keyed with the account's webhook secret: they are accepted, and
        nothing else is (Meta's header, even with the same secret)."""
        spoki = self.env["spoki.account"].create(
            {
                "name": "Spoki webhooks",
                "phone": "+390200000088",
                "provider": "spoki",
                "company_id": self.company_a.id,
                "spoki_api_key": "key",
                "spoki_webhook_secret": "spoki-whsec",
                "meta_app_secret": SECRET,
            }
        )
        url = f"/spoki/webhook/{spoki.id}"
        raw = json.dumps(fp.spoki_inbound_event("spk.IN1", "+393391112233", "Ciao da Spoki")).encode()

        def post(headers):
            return self.opener.post(self.base_url() + url, data=raw, headers=headers, timeout=20)

        self.assertEqual(post({"X-Hub-Signature-256": fp.meta_signature(SECRET, raw)}).status_code, 403)
        self.assertEqual(post({"X-Hub-Signature-256": fp.meta_signature("spoki-whsec", raw)}).status_code, 403)
        self.assertEqual(post({"X-Spoki-Signature": fp.spoki_signature("wrong", raw)}).status_code, 403)
        Message = self.env["spoki.message"]
        self.assertFalse(Message.search([("provider_message_id", "=", "spk.IN1")]))
        self.assertEqual(post({"X-Spoki-Signature": fp.spoki_signature("spoki-whsec", raw)}).status_code, 200)
        incoming = Message.search([("provider_message_id", "=", "spk.IN1")])
        self.assertEqual(
            (incoming.account_id, incoming.partner_id, incoming.body), (spoki, self.customer, "Ciao da Spoki")
        )
        spoki.spoki_webhook_secret = False
        self.assertEqual(post({"X-Spoki-Signature": fp.spoki_signature("spoki-whsec", raw)}).status_code, 403)

    # -- hygiene -------------------------------------------------------------

    def test_unknown_account_answers_like_a_bad_signature(self):
        payload = self._statuses(fp.meta_status("wamid.TEST1", "read", time.time()))
        bad = self._post(payload, secret="another-secret")
        unknown = self._post(payload, url="/spoki/webhook/999999")
        self.assertEqual((bad.status_code, bad.text), (403, "Forbidden"))
        self.assertEqual(
            (unknown.status_code, unknown.text, unknown.headers.get("Content-Type")),
            (
                bad.status_code,
                bad.text,
                bad.headers.get("Content-Type"),
            ),
        )

    def _padded(self, size):
        """A signed-able status payload of exactly ``size`` bytes."""
        payload = self._statuses(fp.meta_status("wamid.TEST1", "read", 1767261660))
        payload["pad"] = ""
        raw = json.dumps(payload).encode()
        payload["pad"] = "x" * (size - len(raw))
        raw = json.dumps(payload).encode()
        self.assertEqual(len(raw), size)
        return raw

    def test_body_over_1_mib_refused_before_hashing(self):
        """Over 1 MiB: 413 before the signature is computed, whether the size
        is announced (Content-Length) or only found while reading (chunked);
        exactly 1 MiB is still accepted."""
        checks = []
        original = CloudApiWebhook.verify_webhook_with.__func__

        @classmethod
        def counting(cls, secret, headers, raw_body):
            checks.append(len(raw_body))
            return original(cls, secret, headers, raw_body)

        big = self._padded(MAX_BODY + 1)
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": fp.meta_signature(SECRET, big)}

        def chunks(raw, size=64 * 1024):
            for start in range(0, len(raw), size):
                yield raw[start : start + size]

        with patch.object(CloudApiWebhook, "verify_webhook_with", counting):
            announced = self.opener.post(self.base_url() + self.url, data=big, headers=headers, timeout=20)
            chunked = self.opener.post(self.base_url() + self.url, data=chunks(big), headers=headers, timeout=20)
            for url in ("/spoki/webhook/999999", "/spoki/webhook/meta"):
                self.assertEqual(self.opener.post(self.base_url() + url, data=big, headers=headers).status_code, 413)
            self.assertEqual((announced.status_code, chunked.status_code), (413, 413))
            self.assertEqual(checks, [], "never hashed")
            self.sent.invalidate_recordset()
            self.assertEqual(self.sent.state, "sent")
            fits = self._padded(MAX_BODY)
            headers["X-Hub-Signature-256"] = fp.meta_signature(SECRET, fits)
            ok = self.opener.post(self.base_url() + self.url, data=chunks(fits), headers=headers, timeout=20)
            self.assertEqual(ok.status_code, 200)
            self.assertEqual(checks, [MAX_BODY])
        apply_webhooks(self.env)
        self.sent.invalidate_recordset()
        self.assertEqual(self.sent.state, "read")

    # -- template status events -----------------------------------------------

    def _in_review(self, account, external_id, name="Webhook tpl"):
        template = self.env["spoki.template"].create(
            {"name": name, "account_id": account.id, "lang": "en_US", "body": "Hello there, welcome!"}
        )
        template.write({"state": "in_review", "external_id": external_id})
        return template

    def test_template_event_only_for_its_account(self):
        """A template event applies to the templates of the account it arrived
        for, not to another account's template with the same provider id."""
        ours = self._in_review(self.account, "9000000077")
        theirs = self._in_review(self.account_b, "9000000077", name="Other company tpl")
        payload = fp.meta_webhook([fp.meta_template_change("9000000077", "REJECTED", reason="TAG_CONTENT_MISMATCH")])
        self.assertEqual(self._post(payload).status_code, 200)
        (ours | theirs).invalidate_recordset()
        self.assertEqual((ours.state, ours.rejected_reason), ("rejected", "TAG_CONTENT_MISMATCH"))
        self.assertEqual(theirs.state, "in_review")

    def test_template_older_event_never_undoes_a_newer_one(self):
        """Meta retries webhooks for days: an old APPROVED replayed after a
        REJECTED is ignored; a newer APPROVED (an appeal won) applies."""
        template = self._in_review(self.account, "9000000078")
        t0 = 1767261600

        def event(status, at, reason="NONE"):
            payload = fp.meta_webhook([fp.meta_template_change("9000000078", status, reason=reason)], timestamp=at)
            self.assertEqual(self._post(payload).status_code, 200)
            template.invalidate_recordset()
            return template.state

        self.assertEqual(event("REJECTED", t0 + 600, "INVALID_FORMAT"), "rejected")
        self.assertEqual(str(template.provider_status_at), "2026-01-01 10:10:00")
        self.assertEqual(event("APPROVED", t0 + 60), "rejected", "older than the rejection: ignored")
        self.assertEqual(template.rejected_reason, "INVALID_FORMAT")
        self.assertEqual(event("APPROVED", t0 + 3600), "approved", "newer: applies")
        self.assertEqual(event("REJECTED", t0 + 600, "INVALID_FORMAT"), "approved", "the old rejection replayed")
