from datetime import datetime, timedelta

from odoo.tests import tagged

from odoo.addons.spoki_whatsapp.tools.providers import PermanentError, TemplateSpec, provider_class, provider_selection

from .common import SpokiCommon


@tagged("post_install", "-at_install")
class TestSpokiAccount(SpokiCommon):
    def test_defaults(self):
        self.assertEqual(self.account.provider, "sandbox")
        self.assertEqual(self.account.tier_level_id, self.env.ref("spoki_whatsapp.tier_guide_1"))
        self.assertEqual(self.account.tier_limit, 1000)
        self.assertTrue(self.account.sudo().webhook_verify_token)
        self.assertTrue(self.account.webhook_url.endswith(f"/spoki/webhook/{self.account.id}"))

    def test_providers_described_by_their_class(self):
        """The account's provider choices are the registry's, and the config
        each provider reads comes from the fields its class names (a manager-
        only credential field for every secret)."""
        selection = self.env["spoki.account"]._fields["provider"].selection
        self.assertEqual([kind for kind, _label in selection], [kind for kind, _label in provider_selection()])
        fields_ = self.env["spoki.account"]._fields
        for kind, _label in selection:
            for key, field_name in provider_class(kind).config_fields.items():
                self.assertIn(field_name, fields_, f"{kind}.{key}")
        self.assertEqual(fields_["spoki_webhook_secret"].groups, "spoki_whatsapp.group_spoki_manager")
        spoki = self.env["spoki.account"].create(
            {
                "name": "Spoki",
                "phone": "+390200000099",
                "provider": "spoki",
                "spoki_api_key": "k",
                "spoki_webhook_secret": "s",
                "api_endpoint": "https://spoki.example/api/1",
            }
        )
        self.env["ir.config_parameter"].sudo().set_param("spoki_whatsapp.provider_timeout", "4")
        self.assertEqual(
            spoki._provider_config(),
            {
                "account_id": spoki.id,
                "api_key": "k",
                "webhook_secret": "s",
                "endpoint": "https://spoki.example/api/1",
                "timeout": 4.0,
            },
        )

    def test_policy_switch_keeps_closest_step(self):
        self.account.tier_policy = "meta"
        self.assertEqual(self.account.tier_level_id, self.env.ref("spoki_whatsapp.tier_meta_250"))
        self.account.tier_level_id = self.env.ref("spoki_whatsapp.tier_meta_10k")
        self.account.tier_policy = "guide"
        self.assertEqual(self.account.tier_level_id, self.env.ref("spoki_whatsapp.tier_guide_2"))
        self.account.tier_level_id = self.env.ref("spoki_whatsapp.tier_guide_4")
        self.assertEqual(self.account.tier_limit, 0)
        self.account.tier_policy = "meta"
        self.assertEqual(self.account.tier_level_id, self.env.ref("spoki_whatsapp.tier_meta_unlimited"))

    def test_provider_limit_wins(self):
        self.account.provider_tier_limit = 2000
        self.assertEqual(self.account.tier_limit, 2000)
        self.account.provider_tier_limit = -1
        self.assertEqual(self.account.tier_limit, 1000)

    def test_sandbox_provider_end_to_end(self):
        start = datetime(2026, 11, 26, 10, 0, 0)
        now = [start]
        provider = self.account._get_provider(clock=lambda: now[0])
        result = provider.send_template("+393471234567", "promo", "it", ["Mario"], "key-1")
        self.assertTrue(result.message_id.startswith("sbx."))
        # idempotent: same key, same message
        again = provider.send_template("+393471234567", "promo", "it", ["Mario"], "key-1")
        self.assertEqual(again.message_id, result.message_id)
        self.assertEqual(provider.find_message("key-1"), result.message_id)
        self.assertFalse(provider.get_statuses([result.message_id]))
        now[0] = start + timedelta(seconds=2)
        self.assertEqual([e.status for e in provider.get_statuses([result.message_id])], ["delivered"])
        now[0] = start + timedelta(seconds=10)
        self.assertEqual([e.status for e in provider.get_statuses([result.message_id])], ["delivered", "read"])
        # read receipts off: numbers ending in 0 stay delivered
        silent = provider.send_text("+393471234560", "ciao", "key-2")
        now[0] = start + timedelta(hours=1)
        self.assertEqual([e.status for e in provider.get_statuses([silent.message_id])], ["delivered"])
        with self.assertRaises(PermanentError) as caught:
            provider.send_text("+3912", "ciao", "key-3")
        self.assertEqual(caught.exception.code, "invalid_number")

    def test_sandbox_template_review(self):
        start = datetime(2026, 11, 26, 10, 0, 0)
        now = [start]
        provider = self.account._get_provider(clock=lambda: now[0])
        ok = provider.submit_template(TemplateSpec("promo", "marketing", {"it": "Ciao {{1}}, sconto!"}))
        bad = provider.submit_template(TemplateSpec("bad", "marketing", {"it": "{{1}} ecco lo sconto"}))
        self.assertEqual(ok.status, "queued")
        now[0] = start + timedelta(seconds=self.account.sandbox_review_delay)
        self.assertEqual(provider.get_template_status(ok.external_id).status, "in_review")
        now[0] = start + timedelta(seconds=self.account.sandbox_approve_delay)
        self.assertEqual(provider.get_template_status(ok.external_id).status, "approved")
        rejected = provider.get_template_status(bad.external_id)
        self.assertEqual(rejected.status, "rejected")
        self.assertIn("start or end", rejected.reason)

    def test_refresh_status_from_provider(self):
        self.account.write({"quality": "medium", "credit_balance": 12.5})
        self.account.action_refresh_status()
        self.assertEqual(self.account.quality, "medium")
        self.assertEqual(self.account.credit_balance, 12.5)
        self.assertEqual(self.account.provider_tier_limit, -1)
