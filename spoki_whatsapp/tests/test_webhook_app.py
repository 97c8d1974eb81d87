import json
import time

from odoo.tests import HttpCase, tagged

from . import fake_provider as fp
from .common import SpokiCommon, apply_webhooks

APP_SECRET = "shared-app-secret"
OTHER_SECRET = "other-app-secret"
NUMBER_1, NUMBER_2, NUMBER_B = "1000000001", "1000000002", "2000000001"
WABA, WABA_B = "3000000001", "4000000001"


@tagged("post_install", "-at_install")
class TestWebhookMetaApp(HttpCase, SpokiCommon):
    """``/spoki/webhook/meta``: one Meta app, several numbers. Meta calls one
    URL per app; each event goes to the account of its number (or WABA), and
    only to accounts whose app secret signed the request."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Account = cls.env["spoki.account"]

        def meta_account(name, phone, number_id, waba, secret, company, token):
            return Account.create(
                {
                    "name": name,
                    "phone": phone,
                    "provider": "meta",
                    "company_id": company.id,
                    "meta_access_token": "token",
                    "meta_phone_number_id": number_id,
                    "meta_waba_id": waba,
                    "meta_app_secret": secret,
                    "webhook_verify_token": token,
                }
            )

        cls.first = meta_account("Meta 1", "+390200000201", NUMBER_1, WABA, APP_SECRET, cls.company_a, "tok-1")
        cls.second = meta_account("Meta 2", "+390200000202", NUMBER_2, WABA, APP_SECRET, cls.company_a, "tok-2")
        cls.other = meta_account("Meta B", "+34910000201", NUMBER_B, WABA_B, OTHER_SECRET, cls.company_b, "tok-b")
        cls.url = "/spoki/webhook/meta"
        cls.customer = cls.env["res.partner"].create({"name": "App Customer", "mobile": "+393391114455"})
        cls.sent = cls.env["spoki.message"].create(
            {
                "account_id": cls.first.id,
                "partner_id": cls.customer.id,
                "wa_phone": "+393391114455",
                "kind": "text",
                "body": "Hello",
                "state": "sent",
                "provider_message_id": "wamid.APP1",
                "sent_at": "2026-01-01 10:00:00",
            }
        )

    def _post(self, payload, secret=APP_SECRET):
        raw = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": fp.meta_signature(secret, raw)}
        return self.opener.post(self.base_url() + self.url, data=raw, headers=headers, timeout=20)

    def _incoming(self, message_id):
        return self.env["spoki.message"].search([("provider_message_id", "=", message_id)])

    def test_events_dispatched_by_number(self):
        """The second number of the app gets its own events (before: one
        account per URL, the other numbers' events were lost)."""
        now = int(time.time())
        payload = fp.meta_webhook(
            [
                fp.meta_messages_change(statuses=[fp.meta_status("wamid.APP1", "read", now)], phone_number_id=NUMBER_1),
                fp.meta_messages_change(
                    contacts=[fp.meta_contact("393391114455", "App Customer")],
                    messages=[fp.meta_text_message("wamid.APPIN", "393391114455", "Ciao numero 2", now)],
                    phone_number_id=NUMBER_2,
                ),
            ],
            waba_id=WABA,
        )
        response = self._post(payload)
        self.assertEqual((response.status_code, response.text), (200, "OK"))
        self.sent.invalidate_recordset()
        self.assertEqual(self.sent.state, "read")
        incoming = self._incoming("wamid.APPIN")
        self.assertEqual((incoming.account_id, incoming.body), (self.second, "Ciao numero 2"))

    def test_signature_must_match_the_accounts_secret(self):
        """Only accounts whose app secret verifies the request get its events:
        signed with another app's secret, nothing is applied (403, like an
        unknown account); an account of another company claiming the same
        number with another secret doesn't get them, nor does it block the
        account that signed."""
        now = int(time.time())
        inbound = fp.meta_webhook(
            [
                fp.meta_messages_change(
                    messages=[fp.meta_text_message("wamid.APPX", "393391114455", "Hi", now)], phone_number_id=NUMBER_1
                )
            ],
            waba_id=WABA,
        )
        forged = self._post(inbound, secret=OTHER_SECRET)
        unknown = self._post(fp.meta_webhook([fp.meta_messages_change(phone_number_id="999")], waba_id=WABA))
        self.assertEqual((forged.status_code, forged.text), (403, "Forbidden"))
        self.assertEqual((unknown.status_code, unknown.text), (403, "Forbidden"))
        self.assertFalse(self._incoming("wamid.APPX"))
        self.other.meta_phone_number_id = NUMBER_1  # company B's manager copies company A's number id
        self.assertEqual(self._post(inbound).status_code, 200)
        incoming = self._incoming("wamid.APPX")
        self.assertEqual(incoming.account_id, self.first)
        self.assertEqual(self._post(inbound, secret=OTHER_SECRET).status_code, 200)  # signed by company B's secret
        self.assertEqual(self._incoming("wamid.APPX").account_id, self.first | self.other)

    def test_events_without_metadata_refused(self):
        change = fp.meta_messages_change(
            messages=[fp.meta_text_message("wamid.NOMETA", "393391114455", "STOP", int(time.time()))]
        )
        del change["value"]["metadata"]
        response = self._post(fp.meta_webhook([change], waba_id=WABA))
        self.assertEqual(response.status_code, 403)
        self.assertFalse(self._incoming("wamid.NOMETA"))
        self.customer.invalidate_recordset()
        self.assertFalse(self.customer.wa_opt_out)
        # with one routable change, the routable part is applied and the rest dropped
        good = fp.meta_messages_change(
            messages=[fp.meta_text_message("wamid.META", "393391114455", "Hello", int(time.time()))],
            phone_number_id=NUMBER_1,
        )
        self.assertEqual(self._post(fp.meta_webhook([change, good], waba_id=WABA)).status_code, 200)
        self.assertTrue(self._incoming("wamid.META"))
        self.assertFalse(self._incoming("wamid.NOMETA"))

    def test_template_events_by_waba(self):
        Template = self.env["spoki.template"]
        template = Template.create(
            {"name": "App tpl", "account_id": self.second.id, "lang": "en_US", "body": "Hello there, welcome!"}
        )
        template.write({"state": "in_review", "external_id": "9100000001"})
        elsewhere = Template.create(
            {"name": "Other WABA tpl", "account_id": self.other.id, "lang": "en_US", "body": "Hello there, welcome!"}
        )
        elsewhere.write({"state": "in_review", "external_id": "9100000001"})
        payload = fp.meta_webhook([fp.meta_template_change("9100000001", "APPROVED")], waba_id=WABA)
        self.assertEqual(self._post(payload).status_code, 200)
        (template | elsewhere).invalidate_recordset()
        self.assertEqual((template.state, elsewhere.state), ("approved", "in_review"))

    def test_handshake_with_any_meta_accounts_token(self):
        for token in ("tok-1", "tok-b"):
            ok = self.url_open(f"{self.url}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=777")
            self.assertEqual((ok.status_code, ok.text), (200, "777"))
        for query in ("hub.mode=subscribe&hub.verify_token=nope", "hub.mode=subscribe", "hub.verify_token=tok-1"):
            self.assertEqual(self.url_open(f"{self.url}?{query}&hub.challenge=777").status_code, 403)

    def test_per_account_route_still_works(self):
        payload = fp.meta_webhook(
            [fp.meta_messages_change(statuses=[fp.meta_status("wamid.APP1", "delivered", int(time.time()))])],
            waba_id=WABA,
        )
        payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = NUMBER_1
        raw = json.dumps(payload).encode()
        response = self.opener.post(
            self.base_url() + f"/spoki/webhook/{self.first.id}",
            data=raw,
            headers={"X-Hub-Signature-256": fp.meta_signature(APP_SECRET, raw)},
            timeout=20,
        )
        self.assertEqual(response.status_code, 200)
        apply_webhooks(self.env)  # statuses are applied in bulk after the answer
        self.sent.invalidate_recordset()
        self.assertEqual(self.sent.state, "delivered")

    def test_app_route_of_providers_without_one_refused(self):
        """``/spoki/webhook/<kind>`` serves the providers that have an
        app-level webhook; any other name answers like a bad signature."""
        raw = json.dumps(fp.meta_webhook([fp.meta_messages_change(statuses=[])])).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": fp.meta_signature(APP_SECRET, raw)}
        for kind in ("sandbox", "carrier-pigeon"):
            url = f"{self.base_url()}/spoki/webhook/{kind}"
            response = self.opener.post(url, data=raw, headers=headers, timeout=20)
            self.assertEqual((response.status_code, response.text), (403, "Forbidden"), kind)
