"""Account form (issue 14): written labels for the sandbox and webhook
fields; "Test connection" (credentials, number, webhook reachability in
plain words) and "Sync now" (templates, status, limit, credit) on accounts
with real credentials, against the fake Meta / Spoki server on loopback."""

from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import SpokiCommon
from .messaging_common import FakeProviderAccounts


@tagged("post_install", "-at_install")
class TestAccountSetup(FakeProviderAccounts, SpokiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_fake_provider_accounts("+390200000077", "+390200000078")
        cls.env["ir.config_parameter"].sudo().set_param("web.base.url", "http://localhost:8069")

    def message(self, account, user=None):
        action = account.with_user(user or self.manager).action_test_connection()
        self.assertEqual(action["tag"], "display_notification")
        return action["params"]

    def test_labels_are_written(self):
        fields = self.env["spoki.account"].fields_get(
            ["sandbox_delivery_delay", "sandbox_read_delay", "webhook_url", "webhook_verify_token"],
            ["string", "help"],
        )
        self.assertEqual(fields["sandbox_delivery_delay"]["string"], "Delivered after (seconds)")
        self.assertEqual(fields["sandbox_read_delay"]["string"], "Read after (seconds)")
        self.assertEqual(fields["webhook_url"]["string"], "Webhook address")
        self.assertEqual(fields["webhook_verify_token"]["string"], "Webhook verify token")
        for name, field in fields.items():
            self.assertTrue(field.get("help"), name)

    def test_connection_works_but_webhook_is_local(self):
        for account in (self.meta, self.spoki):
            params = self.message(account)
            self.assertEqual(params["title"], "Connection works", params["message"])
            self.assertIn("The credentials are accepted.", params["message"])
            self.assertIn(f"The number {account.phone} is known to the provider: status Connected", params["message"])
            self.assertIn("it is a local address", params["message"])
            self.assertEqual(params["type"], "warning")  # works, but messages won't arrive

    def test_connection_with_https_address(self):
        self.env["ir.config_parameter"].sudo().set_param("web.base.url", "https://crm.example.com")
        params = self.message(self.meta)
        self.assertEqual(params["type"], "success")
        self.assertIn(f"arrive at https://crm.example.com/spoki/webhook/{self.meta.id}", params["message"])

    def test_wrong_credentials_in_plain_words(self):
        self.meta.meta_access_token = "wrong"
        params = self.message(self.meta)
        self.assertEqual((params["title"], params["type"]), ("Connection failed", "danger"))
        self.assertIn("The provider refused the credentials: check the API key or access token.", params["message"])
        self.spoki.spoki_api_key = "wrong"
        self.assertIn("refused the credentials", self.message(self.spoki)["message"])
        self.meta.meta_phone_number_id = False
        self.assertIn("Something is missing in the credentials", self.message(self.meta)["message"])

    def test_unreachable_provider(self):
        self.meta.api_endpoint = "http://127.0.0.1:9"  # nothing listens there
        self.assertIn("The provider can't be reached", self.message(self.meta)["message"])

    def test_managers_only(self):
        with self.assertRaises(AccessError):
            self.meta.with_user(self.agent).action_test_connection()
        with self.assertRaises(AccessError):
            self.meta.with_user(self.agent).action_sync_now()

    def test_sync_now_reads_templates_status_and_quality(self):
        template = self.env["spoki.template"].create(
            {"name": "Sync check", "account_id": self.meta.id, "lang": "en_US", "body": "Hello there, welcome!"}
        )
        template.action_request_approval()
        self.assertIn(template.state, ("queued", "in_review"))
        self.fake.set_template_status(template.external_id.split(",")[0], "APPROVED")
        self.fake.set_account(quality_rating="YELLOW")
        action = self.meta.with_user(self.manager).action_sync_now()
        self.assertIn("1 templates waiting for approval checked", action["params"]["message"])
        self.assertEqual(template.state, "approved")
        self.assertEqual(self.meta.quality, "medium")
