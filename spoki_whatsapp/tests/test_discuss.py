import json

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..tools.providers import StatusEvent
from .messaging_common import MessagingCommon


@tagged("post_install", "-at_install")
class TestSpokiDiscuss(MessagingCommon):
    """WhatsApp chats in Discuss: a channel per chat, the ledger mirrored 1:1,
    the composer's rules, ticks over the bus, company isolation."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent2 = cls._new_user("spoki_agent2", "spoki_whatsapp.group_spoki_user", name="Second Agent")
        cls.account.team_user_ids = cls.agent

    def _chat(self, partner=None):
        partner = partner or self.customer
        return self.env["spoki.chat"]._get_or_create(self.account, partner.wa_phone, partner)

    def _channel_messages(self, channel):
        return self.env["mail.message"].search(
            [("model", "=", "discuss.channel"), ("res_id", "=", channel.id)], order="id"
        )

    def _bus_payloads(self, needle):
        self.env.cr.precommit.run()
        return [
            json.loads(note.message)
            for note in self.env["bus.bus"].sudo().search([("message", "ilike", needle)], order="id")
        ]

    def _post(self, channel, body, user=None, note=False):
        return channel.with_user(user or self.agent).message_post(
            body=body, message_type="comment", subtype_xmlid="mail.mt_note" if note else "mail.mt_comment"
        )

    def test_incoming_creates_channel_and_raises_unread_counter(self):
        incoming = self.receive(self.customer.wa_phone, "Hello, is my order ready?")
        chat = self._chat()
        channel = chat.channel_id
        self.assertTrue(channel, "the first incoming message creates the channel")
        self.assertEqual((channel.channel_type, channel.spoki_chat_id), ("whatsapp", chat))
        self.assertIn("Carla Neri", channel.name)
        self.assertEqual(channel.channel_member_ids.partner_id, self.agent.partner_id, "the team, nobody else")
        posted = self._channel_messages(channel)
        self.assertEqual(len(posted), 1)
        self.assertEqual(posted.spoki_message_id, incoming, "linked both ways")
        self.assertEqual(incoming.mail_message_id, posted)
        self.assertEqual((posted.author_id, posted.message_type), (self.customer, "whatsapp_message"))
        self.assertIn("is my order ready?", posted.body)
        member = channel.channel_member_ids
        member.invalidate_recordset()
        self.assertEqual(member.message_unread_counter, 1, "the systray counter of the team rises")
        # the same provider message again: nothing new
        self.receive(self.customer.wa_phone, "Hello, is my order ready?", message_id=incoming.provider_message_id)
        self.assertEqual(len(self._channel_messages(channel)), 1)
        # store data: the window for the composer
        info = channel._spoki_chat_info()
        self.assertTrue(info["whatsapp_window_end"])
        self.assertEqual(info["whatsapp_chat_id"], chat.id)

    def test_assignee_is_member_and_reassign_adds_them(self):
        chat = self._chat()
        chat.sudo().user_id = self.agent2
        channel = chat._get_channel()
        self.assertEqual(channel.channel_member_ids.partner_id, self.agent2.partner_id, "the assignee only")
        chat.sudo().user_id = self.agent
        self.assertEqual(
            channel.channel_member_ids.partner_id, self.agent.partner_id | self.agent2.partner_id, "nobody removed"
        )

    def test_agent_answers_inside_window_and_ticks_move_live(self):
        self.receive(self.customer.wa_phone, "Hi!")
        channel = self._chat().channel_id
        posted = self._post(channel, "<p>Yes, it is ready</p>")
        ledger = posted.spoki_message_id
        self.assertTrue(ledger, "queued through the chat path")
        self.assertEqual(ledger.mail_message_id, posted)
        self.assertEqual(
            (ledger.direction, ledger.kind, ledger.body, ledger.state, ledger.user_id),
            ("outgoing", "text", "Yes, it is ready", "queued", self.agent),
        )
        self.assertEqual(posted.message_type, "whatsapp_message", "not editable: already on its way")
        with self.assertRaises(UserError):
            channel.with_user(self.agent)._message_update_content(posted, "Changed my mind")
        self.assertEqual(len(self._channel_messages(channel)), 2, "exactly one message per ledger row")
        self.run_queue()
        self.assertEqual(ledger.state, "sent")
        sent = [p for p in self._bus_payloads("whatsappStatus") if '"sent"' in json.dumps(p)]
        self.assertTrue(sent, "the tick moves to sent over the bus")
        self.advance(seconds=5)
        self.Message._apply_status_events(
            self.account, [StatusEvent(ledger.provider_message_id, "delivered", self.clock["now"])]
        )
        self.assertEqual(ledger.state, "delivered")
        delivered = self._bus_payloads('"delivered"')
        self.assertTrue(delivered, "delivered over the bus")
        messages = delivered[-1]["payload"]["mail.message"]
        self.assertEqual(messages[0]["id"], posted.id)
        self.assertEqual(messages[0]["whatsappStatus"], "delivered")
        self.assertEqual(len(self._channel_messages(channel)), 2, "a status never posts a message")

    def test_free_text_refused_outside_window(self):
        chat = self._chat()
        channel = chat.with_user(self.agent)._spoki_join_channel()
        before = self.Message.search_count([])
        with self.assertRaisesRegex(UserError, "24-hour customer-service window"):
            self._post(channel, "Hello?")
        self.assertFalse(self._channel_messages(channel), "nothing posted")
        self.assertEqual(self.Message.search_count([]), before, "nothing queued")
        # inside the window it goes
        self.receive(self.customer.wa_phone, "Hi")
        self.assertTrue(self._post(channel, "Hello!").spoki_message_id)

    def test_internal_note_never_sent(self):
        self.receive(self.customer.wa_phone, "Hi")
        channel = self._chat().channel_id
        before = self.Message.search_count([])
        note = self._post(channel, "Customer is VIP, be kind", note=True)
        self.assertFalse(note.spoki_message_id)
        self.assertEqual(note.subtype_id, self.env.ref("mail.mt_note"))
        self.assertEqual(self.Message.search_count([]), before, "never queued")

    def test_mentions_dropped_and_opt_out_refused(self):
        self.receive(self.customer.wa_phone, "Hi")
        channel = self._chat().channel_id
        posted = channel.with_user(self.agent).message_post(
            body="Hi @Admin",
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            partner_ids=[self.manager.partner_id.id],
        )
        self.assertFalse(posted.partner_ids, "no mentions on WhatsApp")
        self.customer.wa_opt_out = True
        with self.assertRaisesRegex(UserError, "opted out"):
            self._post(channel, "Anything else?")

    def test_template_from_chat_form_appears_rendered_with_buttons(self):
        template = self.env["spoki.template"].create(
            {
                "name": "Order ready",
                "account_id": self.account.id,
                "lang": "en_US",
                "body": "Hello %%NOME%%, your order is ready!",
                "button_ids": [(0, 0, {"button_type": "quick_reply", "text": "Thanks"})],
            }
        )
        template.write({"state": "approved", "provider_name": f"order_buttons_{template.id}"})
        chat = self._chat().with_user(self.agent)
        chat.composer_template_id = template
        self.assertEqual(chat.action_template_dialog()["res_model"], "spoki.chat")
        chat.action_send_template()
        ledger = self.Message.search([("wa_phone", "=", self.customer.wa_phone)], limit=1)
        posted = ledger.mail_message_id
        self.assertTrue(posted, "the old chat path shows its messages in the channel too")
        self.assertEqual(posted.res_id, chat.channel_id.id)
        self.assertIn("Order ready", posted.body)
        self.assertIn("Thanks", posted.body, "buttons shown")
        self.assertIn("Hello Carla, your order", posted.body, "rendered for the contact")
        self.assertEqual(posted.author_id, self.agent.partner_id)

    def test_campaign_creates_no_mail_message_until_answer(self):
        partners = self._create_partners(10000, prefix="+39366")
        spoki_list = self.env["spoki.list"].create({"name": "Big", "partner_ids": [(6, 0, partners.ids)]})
        campaign = self.env["spoki.campaign"].create(
            {
                "name": "Ten thousand",
                "account_id": self.account.id,
                "template_id": self.template.id,
                "list_ids": [(6, 0, spoki_list.ids)],
            }
        )
        mail_before = self.env["mail.message"].search_count([])
        channels_before = self.env["discuss.channel"].search_count([("channel_type", "=", "whatsapp")])
        campaign.action_start()
        self.env["spoki.campaign"]._enqueue_pending(auto_commit=False)
        self.assertEqual(self.Message.search_count([("campaign_id", "=", campaign.id)]), 10000)
        self.run_queue(batch_size=20, max_batches=1)
        self.assertEqual(self.Message.search_count([("campaign_id", "=", campaign.id), ("state", "=", "sent")]), 20)
        self.assertEqual(self.env["mail.message"].search_count([]), mail_before, "no mail.message up front")
        self.assertEqual(self.env["discuss.channel"].search_count([("channel_type", "=", "whatsapp")]), channels_before)
        # one recipient answers: the template they answer shows first
        sent = self.Message.search([("campaign_id", "=", campaign.id), ("state", "=", "sent")], limit=1)
        self.advance(minutes=5)
        answer = self.receive(sent.wa_phone, "Interested!")
        posted = self._channel_messages(
            answer.mail_message_id.res_id and self.env["discuss.channel"].browse(answer.mail_message_id.res_id)
        )
        self.assertEqual(posted.spoki_message_id, sent | answer)
        self.assertEqual(posted[0].spoki_message_id, sent, "the template first")
        self.assertEqual(
            self.env["mail.message"].search_count([("spoki_message_id", "!=", False)]), 2, "only that chat"
        )

    def test_company_isolation(self):
        self.receive(self.customer.wa_phone, "Hi")
        channel = self._chat().channel_id
        channel.with_user(self.agent).check_access("read")
        with self.assertRaises(AccessError):
            channel.with_user(self.agent_b).check_access("read")
        # even a member of another company is refused
        channel.sudo()._add_members(partners=self.agent_b.partner_id, post_joined_message=False)
        with self.assertRaises(AccessError):
            channel.with_user(self.agent_b).check_access("read")
        self.assertNotIn(channel, self.env["discuss.channel"].with_user(self.agent_b).search([]))
        with self.assertRaises(AccessError):
            self._chat().with_user(self.agent_b).action_open_channel()
        # an agent of the company who isn't a member joins from the chat list
        self.assertNotIn(channel, self.env["discuss.channel"].with_user(self.agent2).search([]))
        action = self._chat().with_user(self.agent2).action_open_channel()
        self.assertEqual(action["params"]["active_id"], f"discuss.channel_{channel.id}")
        self.assertIn(self.agent2.partner_id, channel.channel_member_ids.partner_id)

    def test_go_to_chat_opens_chat_window(self):
        action = self.customer.with_user(self.agent).action_spoki_open_chat()
        self.assertEqual(action["tag"], "spoki_whatsapp.open_chat")
        channel = self.env["discuss.channel"].browse(action["params"]["channel_id"])
        self.assertEqual(channel.spoki_chat_id.partner_id, self.customer)
        self.assertEqual(channel.spoki_chat_id.channel_id, channel)
        self.assertIn(self.agent.partner_id, channel.channel_member_ids.partner_id, "the agent joins")
