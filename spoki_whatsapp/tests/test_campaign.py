from datetime import timedelta

from odoo.exceptions import UserError
from odoo.tests import tagged

from .messaging_common import MessagingCommon


@tagged("post_install", "-at_install")
class TestCampaign(MessagingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["spoki.dynamic.field"].create({"name": "PROMO_URL", "field_type": "text", "on_contacts": False})
        cls.promo = cls._approved_template(
            cls.account, body="Hello %%NOME%%, discover our offers at %%PROMO_URL%% today.", name="Promo"
        )
        Partner = cls.env["res.partner"]
        it = cls.env.ref("base.it").id
        cls.tag = cls.env["res.partner.category"].create({"name": "VIP test"})
        cls.p1 = Partner.create({"name": "Anna Blu", "mobile": "+39 340 100 0001"})
        cls.p2 = Partner.create({"name": "Bruno Blu", "mobile": "340 100 0001", "country_id": it})  # same number
        cls.p3 = Partner.create({"name": "Carlo Blu", "mobile": "+39 340 100 0003", "category_id": [(4, cls.tag.id)]})
        cls.p4 = Partner.create({"name": "Dora Blu", "mobile": "+39 340 100 0004", "wa_opt_out": True})
        cls.p5 = Partner.create({"name": "Elio Blu", "mobile": "123"})  # invalid
        cls.p6 = Partner.create({"name": "Fabio Verde", "mobile": "+39 340 100 0006", "email": "fabio@example.com"})
        cls.p7 = Partner.create({"name": "Gino Blu", "mobile": "+39 340 100 0007"})
        # another contact shares p7's number and opted out: the number is out
        Partner.create({"name": "Gino (old)", "mobile": "+39 340 100 0007", "wa_opt_out": True})
        cls.spoki_list = cls.env["spoki.list"].create(
            {"name": "Blu", "partner_ids": [(6, 0, (cls.p1 | cls.p2 | cls.p4 | cls.p5 | cls.p7).ids)]}
        )

    def _campaign(self, **vals):
        return self.env["spoki.campaign"].create(
            dict(
                {
                    "name": "June",
                    "account_id": self.account.id,
                    "template_id": self.promo.id,
                    "list_ids": [(6, 0, self.spoki_list.ids)],
                    "tag_ids": [(6, 0, self.tag.ids)],
                    "use_partner_domain": True,
                    "partner_domain": "[('email', '=', 'fabio@example.com')]",
                },
                **vals,
            )
        )

    def _run_enqueue(self):
        """The job "WhatsApp: campaign enqueue" (started campaigns are queued
        in the background)."""
        return self.env["spoki.campaign"]._enqueue_pending(auto_commit=False)

    def _start(self, campaign):
        campaign.action_start()
        self._run_enqueue()

    def _with_payload(self, campaign):
        field = self.env["spoki.dynamic.field"].search([("name", "=", "PROMO_URL")])
        campaign.value_ids = [(0, 0, {"field_id": field.id, "value": "https://example.com/june"})]
        return campaign

    def test_recipients_dedup_and_exclusions(self):
        campaign = self._with_payload(self._campaign())
        self.assertEqual(campaign.estimated_count, 3)
        self._start(campaign)
        self.assertEqual(campaign.state, "running")
        self.assertEqual(campaign.recipient_count, 3)  # p1 (number shared with p2), p3 (tag), p6 (domain)
        self.assertEqual(campaign.duplicate_count, 1)  # p2
        self.assertEqual(campaign.excluded_optout_count, 2)  # p4's and p7's numbers
        self.assertEqual(campaign.excluded_invalid_count, 1)  # p5
        messages = self.Message.search([("campaign_id", "=", campaign.id)])
        self.assertEqual(messages.partner_id, self.p1 | self.p3 | self.p6)
        self.assertEqual(set(messages.mapped("state")), {"queued"})
        body = messages.filtered(lambda m: m.partner_id == self.p1).body
        self.assertEqual(body, "Hello Anna, discover our offers at https://example.com/june today.")
        self.assertEqual(messages[0].template_params[1], "https://example.com/june")
        self.assertEqual(campaign.queued_count, 3)
        with self.assertRaises(UserError):
            campaign.write({"tag_ids": [(5, 0, 0)]})

    def test_missing_value_excluded(self):
        campaign = self._campaign()
        self._start(campaign)
        self.assertEqual(campaign.recipient_count, 0)
        self.assertEqual(campaign.excluded_missing_count, 3)
        self.assertIn("PROMO_URL", campaign.message_ids[0].body)

    def test_send_counters_and_done(self):
        campaign = self._with_payload(self._campaign())
        self._start(campaign)
        self.run_queue()
        self.assertEqual((campaign.sent_count, campaign.queued_count), (3, 0))
        self.assertEqual(campaign.state, "done")
        self.advance(seconds=15)
        self.Message._sync_statuses(auto_commit=False, accounts=self.account)
        campaign.invalidate_recordset()
        self.assertEqual(campaign.delivered_count, 3)
        self.assertEqual(campaign.read_count, 3)
        self.assertEqual(campaign.progress, 100.0)

    def test_pause_resume(self):
        campaign = self._with_payload(self._campaign())
        self._start(campaign)
        campaign.action_pause(reason="Quality dropped to low")
        self.assertEqual((campaign.state, campaign.pause_reason), ("paused", "Quality dropped to low"))
        self.run_queue()
        campaign.invalidate_recordset()
        self.assertEqual(campaign.queued_count, 3, "paused: the queue skips it")
        campaign.action_resume()
        self.assertEqual(campaign.state, "running")
        self.assertFalse(campaign.pause_reason)
        self.run_queue()
        campaign.invalidate_recordset()
        self.assertEqual(campaign.sent_count, 3)

    def test_scheduled_start(self):
        campaign = self._with_payload(self._campaign(scheduled_at=self.start + timedelta(hours=2)))
        campaign.action_start()
        self.assertEqual(campaign.state, "scheduled")
        self.env["spoki.campaign"]._cron_start_scheduled(auto_commit=False)
        self.assertEqual(campaign.state, "scheduled")
        self.advance(hours=2)
        self.env["spoki.campaign"]._cron_start_scheduled(auto_commit=False)
        self._run_enqueue()
        self.assertEqual(campaign.state, "running")
        self.assertEqual(campaign.recipient_count, 3)
        with self.assertRaises(UserError):
            campaign._enqueue()  # never twice

    def test_cancel_removes_unsent(self):
        campaign = self._with_payload(self._campaign())
        self._start(campaign)
        campaign.action_cancel()
        self.assertEqual((campaign.state, campaign.cancelled_count), ("cancelled", 3))
        self.assertFalse(self.Message.search([("campaign_id", "=", campaign.id)]))

    def test_template_must_be_approved(self):
        draft = self.env["spoki.template"].create(
            {"name": "Draft", "account_id": self.account.id, "lang": "en_US", "body": "Hello there, welcome!"}
        )
        campaign = self._campaign(template_id=draft.id)
        with self.assertRaises(UserError):
            campaign.action_start()
        self.assertEqual(campaign.state, "draft")
        no_recipients = self._campaign(list_ids=[], tag_ids=[], use_partner_domain=False)
        with self.assertRaises(UserError):
            no_recipients.action_start()

    def test_tier_limit_campaign_2000(self):
        """Done-when scenario: a 2,000-contact list at tier 1 sends 1,000
        today and the rest once the window moves."""
        partners = self._create_partners(2000, prefix="+39351")
        big = self.env["spoki.list"].create({"name": "Big", "partner_ids": [(6, 0, partners.ids)]})
        campaign = self._campaign(
            template_id=self.template.id, list_ids=[(6, 0, big.ids)], tag_ids=[], use_partner_domain=False
        )
        self._start(campaign)
        self.assertEqual(campaign.recipient_count, 2000)
        self.run_queue(no_chatter=True)
        campaign.invalidate_recordset()
        self.assertEqual((campaign.sent_count, campaign.queued_count), (1000, 1000))
        self.assertEqual(campaign.state, "running")
        self.assertEqual(campaign.limit_blocked_until, self.start + timedelta(hours=24, seconds=1))
        self.advance(hours=24, seconds=2)
        self.run_queue(no_chatter=True)
        campaign.invalidate_recordset()
        self.assertEqual((campaign.sent_count, campaign.queued_count), (2000, 0))
        self.assertEqual(campaign.state, "done")

    def test_chatter_logged_in_bulk(self):
        """Batches of messages sent outside campaigns (automations) log every
        message on the contacts' chatter with one INSERT (above the
        threshold), like _message_log_batch would; campaign messages write
        no mail.message at all."""
        partners = self._create_partners(60, prefix="+39352")
        big = self.env["spoki.list"].create({"name": "Sixty", "partner_ids": [(6, 0, partners.ids)]})
        campaign = self._campaign(
            template_id=self.template.id, list_ids=[(6, 0, big.ids)], tag_ids=[], use_partner_domain=False
        )
        mail_before = self.env["mail.message"].search_count([])
        self._start(campaign)
        self.run_queue()
        self.assertEqual(campaign.sent_count, 60)
        self.assertEqual(self.env["mail.message"].search_count([]), mail_before, "a campaign logs no mail.message")
        self.advance(hours=25)  # numbers leave the tier window: the sends below count anew
        for partner in partners:
            self.Message._enqueue_template(self.account, self.template, partner)
        self.run_queue()
        notes = self.env["mail.message"].search([("model", "=", "res.partner"), ("res_id", "in", partners.ids)])
        self.assertEqual(len(notes), 60)
        self.assertEqual(notes.mapped("subtype_id"), self.env.ref("mail.mt_note"))
        self.assertTrue(all(note.is_internal and note.message_type == "comment" for note in notes))
        first = partners[0]
        self.assertIn(f"sent to {first.wa_phone}", first.message_ids[0].body)
        self.assertIn("Hello Contact, your order is ready.", first.message_ids[0].body)
