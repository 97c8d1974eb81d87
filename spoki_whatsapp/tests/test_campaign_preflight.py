"""Campaign pre-flight (issue 14, "Campaigns"): Start opens a pre-flight with
a preview per language rendered for a sample contact of each group, a test
send to a typed number through the usual queue, and the estimate (valid,
opted out, invalid, missing values, duplicates; what fits under today's
remaining limit and when the rest goes) that the start confirmation states."""

from datetime import timedelta

from lxml import etree

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .messaging_common import MessagingCommon


@tagged("post_install", "-at_install")
class TestCampaignPreflight(MessagingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("it_IT")
        cls.env["spoki.dynamic.field"].create({"name": "SHOP", "field_type": "text", "on_contacts": True})
        cls.promo = cls.env["spoki.template"].create(
            {
                "name": "Shop opening",
                "account_id": cls.account.id,
                "lang": "en_US",
                "body": "Hello %%NOME%%, our shop in %%SHOP%% opens today.",
                "translation_ids": [
                    (0, 0, {"lang": "it_IT", "body": "Ciao %%NOME%%, il negozio di %%SHOP%% apre oggi."})
                ],
            }
        )
        cls.promo.write({"state": "approved", "provider_name": "shop_opening"})
        Partner = cls.env["res.partner"]
        cls.it1 = Partner.create({"name": "Anna Verdi", "mobile": "+39 340 200 0001"})
        cls.it2 = Partner.create({"name": "Bruno Verdi", "mobile": "+39 340 200 0002"})
        cls.it_dup = Partner.create({"name": "Anna (again)", "mobile": "+39 340 200 0001"})
        cls.it_missing = Partner.create({"name": "Carlo Verdi", "mobile": "+39 340 200 0003"})
        cls.us1 = Partner.create({"name": "Emily Stone", "mobile": "+1 212 555 0101", "lang": "en_US"})
        cls.opted = Partner.create({"name": "Dora Verdi", "mobile": "+39 340 200 0004", "wa_opt_out": True})
        cls.invalid = Partner.create({"name": "Elio Verdi", "mobile": "12"})
        for partner, shop in ((cls.it1, "Milano"), (cls.it2, "Roma"), (cls.it_dup, "Milano"), (cls.us1, "Boston")):
            partner._spoki_set_values({"SHOP": shop})
        members = cls.it1 | cls.it2 | cls.it_dup | cls.it_missing | cls.us1 | cls.opted | cls.invalid
        cls.spoki_list = cls.env["spoki.list"].create({"name": "Opening", "partner_ids": [(6, 0, members.ids)]})
        cls.campaign = cls.env["spoki.campaign"].create(
            {
                "name": "Opening day",
                "account_id": cls.account.id,
                "template_id": cls.promo.id,
                "list_ids": [(6, 0, cls.spoki_list.ids)],
            }
        )

    def _preflight(self, user=None):
        Preflight = self.env["spoki.campaign.preflight"]
        if user:
            Preflight = Preflight.with_user(user)
        return Preflight.with_context(default_campaign_id=self.campaign.id).create({})

    def test_start_button_opens_the_preflight(self):
        arch = self.env["spoki.campaign"].with_user(self.manager).get_view(view_type="form")["arch"]
        button = etree.fromstring(arch).xpath("//header/button[@string='Start']")[0]
        self.assertEqual((button.get("type"), button.get("name")), ("object", "action_preflight"))
        self.assertIsNone(button.get("confirm"), "the pre-flight is the confirmation")
        action = self.campaign.with_user(self.manager).action_preflight()
        self.assertEqual((action["res_model"], action["target"]), ("spoki.campaign.preflight", "new"))
        wizard = self.env["spoki.campaign.preflight"].browse(action["res_id"])
        self.assertEqual((wizard.campaign_id, wizard.valid_count), (self.campaign, 3))
        self.assertEqual(self.campaign.state, "draft", "nothing starts before the pre-flight's Start")
        with self.assertRaises(AccessError):
            self.campaign.with_user(self.agent).action_preflight()

    def test_estimate_and_previews_per_language(self):
        wizard = self._preflight()
        self.assertEqual(
            (
                wizard.valid_count,
                wizard.optout_count,
                wizard.invalid_count,
                wizard.missing_count,
                wizard.duplicate_count,
            ),
            (3, 1, 1, 1, 1),
        )
        self.assertEqual(wizard.selected_count, 7)
        self.assertFalse(wizard.is_sampled)
        by_lang = {line.lang: line for line in wizard.line_ids}
        self.assertEqual(set(by_lang), {"it_IT", "en_US"})
        italian, english = by_lang["it_IT"], by_lang["en_US"]
        self.assertEqual((italian.recipient_count, italian.missing_count), (3, 1))
        self.assertEqual((english.recipient_count, english.missing_count), (1, 0))
        # the sample is a contact of the group with every value: its message, values filled in
        self.assertEqual(italian.sample_partner_id, self.it1)
        self.assertIn("Ciao Anna, il negozio di Milano apre oggi.", italian.preview_html)
        self.assertEqual(english.sample_partner_id, self.us1)
        self.assertIn("Hello Emily, our shop in Boston opens today.", english.preview_html)
        self.assertEqual(italian.lang_name, self.env["res.lang"]._lang_get("it_IT").name)
        self.assertEqual(wizard.test_line_id, wizard.line_ids[0])
        # no limit reached: everything goes now, and the confirmation says so
        self.assertEqual((wizard.now_count, wizard.rest_count), (3, 0))
        self.assertIn("3 messages will be queued", wizard.summary)
        self.assertIn("1 opted out, 1 invalid numbers, 1 with missing dynamic values, 1 duplicates", wizard.summary)

    def test_previews_show_each_language_buttons(self):
        template = self.env["spoki.template"].create(
            {
                "name": "Shop opening buttons",
                "account_id": self.account.id,
                "lang": "en_US",
                "body": "Hello %%NOME%%, our shop in %%SHOP%% opens today.",
                "button_ids": [(0, 0, {"button_type": "quick_reply", "text": "Count me in"})],
                "translation_ids": [
                    (0, 0, {"lang": "it_IT", "body": "Ciao %%NOME%%, il negozio di %%SHOP%% apre oggi."})
                ],
            }
        )
        template.translation_ids.button_text_ids.text = "Partecipo"
        template.write({"state": "approved", "provider_name": "shop_opening_buttons"})
        self.campaign.template_id = template
        by_lang = {line.lang: line for line in self._preflight().line_ids}
        self.assertIn("Partecipo", by_lang["it_IT"].preview_html)
        self.assertNotIn("Count me in", by_lang["it_IT"].preview_html)
        self.assertIn("Count me in", by_lang["en_US"].preview_html)

    def test_limit_split_and_start_agree_with_the_campaign(self):
        self.account.provider_tier_limit = 2
        # one number already counted in the last 24 hours, sent 3 hours ago
        self.advance(hours=-3)
        self.queue_template(self.partner_it, counts_for_limit=True, state="sent")
        self.advance(hours=3)
        wizard = self._preflight()
        self.assertEqual((wizard.limit_value, wizard.limit_remaining), (2, 1))
        self.assertEqual((wizard.now_count, wizard.rest_count, wizard.day_count), (1, 2, 2))
        self.assertEqual(wizard.rest_from, self.start - timedelta(hours=3) + timedelta(hours=24, seconds=1))
        self.assertIn("1 fit under today's remaining limit (1 of 2); the other 2 go from", wizard.summary)
        wizard.action_start()
        self.assertEqual(self.campaign.state, "starting")
        self.env["spoki.campaign"]._enqueue_pending(auto_commit=False)
        self.assertEqual(self.campaign.state, "running")
        self.assertEqual(self.campaign.recipient_count, wizard.valid_count)
        self.assertEqual(self.campaign.duplicate_count, wizard.duplicate_count)
        self.assertEqual(self.campaign.excluded_optout_count, wizard.optout_count)
        self.assertEqual(self.campaign.excluded_invalid_count, wizard.invalid_count)
        self.assertEqual(self.campaign.excluded_missing_count, wizard.missing_count)

    def test_test_send_is_one_message_through_the_queue(self):
        wizard = self._preflight(self.manager)
        italian = wizard.line_ids.filtered(lambda line: line.lang == "it_IT")
        wizard.write({"test_line_id": italian.id, "test_number": "347 555 0199"})
        result = wizard.action_send_test()
        self.assertEqual(result["tag"], "display_notification")
        message = self.Message.browse(result["params"]["spoki_message_id"])
        # a national number is read with the WhatsApp account's own country (+39)
        self.assertEqual(message.wa_phone, "+393475550199")
        self.assertFalse(message.campaign_id)
        self.assertFalse(message.partner_id, "nobody has that number: no contact is created")
        self.assertEqual((message.kind, message.state, message.lang), ("template", "queued", "it_IT"))
        self.assertEqual(message.body, "Ciao Anna, il negozio di Milano apre oggi.")
        self.assertEqual(self.campaign.state, "draft")
        self.run_queue()
        self.assertEqual(message.state, "sent", "the sandbox sends it without credentials")
        # an opted-out number is refused before anything is queued
        wizard.test_number = self.opted.mobile
        count = self.Message.search_count([])
        with self.assertRaises(UserError):
            wizard.action_send_test()
        self.assertEqual(self.Message.search_count([]), count)
        wizard.test_number = "12"
        with self.assertRaises(UserError):
            wizard.action_send_test()

    def test_test_send_respects_the_limit(self):
        """The test goes through the queue: over the messaging limit it waits."""
        self.account.provider_tier_limit = 1
        self.queue_template(self.partner_it, counts_for_limit=True, state="sent")
        wizard = self._preflight()
        wizard.test_number = "+39 347 555 0198"
        message = self.Message.browse(wizard.action_send_test()["params"]["spoki_message_id"])
        self.run_queue()
        self.assertEqual(message.state, "queued")

    def test_only_managers(self):
        with self.assertRaises(AccessError):
            self._preflight(self.agent)
        wizard = self._preflight(self.manager)
        wizard.test_number = "+39 347 555 0197"
        with self.assertRaises(AccessError):
            wizard.with_user(self.agent).action_send_test()
        with self.assertRaises(AccessError):
            wizard.with_user(self.agent).action_start()
        self.campaign.template_id = False
        with self.assertRaises(UserError):
            self._preflight(self.manager)
