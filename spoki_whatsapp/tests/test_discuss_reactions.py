"""Reactions and quoted replies between WhatsApp and Discuss (issue 12):
the customer's reactions and replies arrive over the webhook (real HTTP,
signed like Meta's) and show on the mirrored messages; an agent's reaction
(the Discuss route, real HTTP) and reply reach the fake Meta server."""

import json
import time
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import HttpCase, tagged
from odoo.tests.common import JsonRpcException

from ..models.reactions import spoki_message as reactions_module
from ..tools.providers import InboundMessage
from . import fake_provider as fp
from .messaging_common import FakeProviderAccounts, MessagingCommon


@tagged("post_install", "-at_install")
class TestSpokiDiscussReactions(FakeProviderAccounts, MessagingCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_fake_provider_accounts("+390200000095", "+390200000096")
        cls.meta.team_user_ids = cls.agent
        cls.spoki.team_user_ids = cls.agent
        cls.wa_id = cls.customer.wa_phone.lstrip("+")

    # -- helpers --------------------------------------------------------------

    def _webhook(self, *messages):
        payload = fp.meta_webhook(
            [fp.meta_messages_change(contacts=[fp.meta_contact(self.wa_id, "Carla")], messages=list(messages))]
        )
        raw = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": fp.meta_signature(fp.APP_SECRET, raw)}
        response = self.opener.post(
            self.base_url() + f"/spoki/webhook/{self.meta.id}", data=raw, headers=headers, timeout=20
        )
        self.assertEqual(response.status_code, 200, response.text)

    def _row(self, provider_id):
        return self.Message.search([("account_id", "=", self.meta.id), ("provider_message_id", "=", provider_id)])

    def _chat(self):
        return self.env["spoki.chat"]._get_or_create(self.meta, self.customer.wa_phone, self.customer)

    def _customer_writes(self, message_id, text="Hello", age=0, context_id=None):
        self._webhook(fp.meta_text_message(message_id, self.wa_id, text, time.time() - age, context_id=context_id))
        return self._row(message_id)

    def _agent_answers(self, text="Here you are", **kwargs):
        channel = self._chat().channel_id
        posted = channel.with_user(self.agent).message_post(
            body=text, message_type="comment", subtype_xmlid="mail.mt_comment", **kwargs
        )
        self.run_queue()
        ledger = posted.spoki_message_id
        self.assertEqual(ledger.state, "sent")
        return self.env["mail.message"].browse(posted.id), ledger  # without message_post's context

    def _reactions(self, mail_message):
        mail_message = mail_message.sudo()
        mail_message.invalidate_recordset(["reaction_ids"])
        return sorted((r.partner_id.name, r.content) for r in mail_message.reaction_ids)

    def _react(self, mail_message, content, action="add", login="spoki_agent"):
        self.authenticate(login, login)
        return self.make_jsonrpc_request(
            "/mail/message/reaction", {"message_id": mail_message.id, "content": content, "action": action}
        )

    def _sent_reactions(self):
        return [m["payload"] for m in self.fake.messages.values() if m["type"] == "reaction"]

    # -- incoming -------------------------------------------------------------

    def test_incoming_reaction_shown_on_our_message_and_removed(self):
        self._customer_writes("wamid.C1")
        posted, ledger = self._agent_answers()
        rows_before = self.Message.search_count([])
        self._webhook(fp.meta_reaction_message("wamid.R1", self.wa_id, ledger.provider_message_id, "👍", time.time()))
        self.assertEqual(self._reactions(posted), [("Carla Neri", "👍")], "the customer's reaction")
        self.assertEqual(self.Message.search_count([]), rows_before, "a reaction is no ledger message")
        self.assertEqual(ledger.customer_reaction, "👍")
        self.env.cr.precommit.run()
        bus = self.env["bus.bus"].sudo().search([("message", "ilike", '"reactions"')])
        self.assertTrue(bus, "live over the bus like any reaction")
        # another emoji replaces it (one reaction per person on WhatsApp)
        self._webhook(
            fp.meta_reaction_message("wamid.R2", self.wa_id, ledger.provider_message_id, "❤️", time.time() + 1)
        )
        self.assertEqual(self._reactions(posted), [("Carla Neri", "❤️")])
        # a late, older event doesn't undo the newer one
        self._webhook(
            fp.meta_reaction_message("wamid.R0", self.wa_id, ledger.provider_message_id, "😮", time.time() - 60)
        )
        self.assertEqual(self._reactions(posted), [("Carla Neri", "❤️")])
        # removed: Meta sends no emoji
        self._webhook(fp.meta_reaction_message("wamid.R3", self.wa_id, ledger.provider_message_id, "", time.time() + 2))
        self.assertEqual(self._reactions(posted), [])
        self.assertFalse(ledger.customer_reaction)
        self.assertEqual(self.Message.search_count([]), rows_before)

    def test_incoming_reaction_to_unknown_message_ignored(self):
        rows_before = self.Message.search_count([])
        self._webhook(fp.meta_reaction_message("wamid.RX", self.wa_id, "wamid.NOBODY", "👍", time.time()))
        # the log line (checked in-process: the webhook runs in the server's thread)
        reaction = InboundMessage("wamid.RY", self.customer.wa_phone, "👍", self.clock["now"], reaction_to="wamid.NONE")
        with patch.object(reactions_module._logger, "info") as info:
            self.Message._receive_inbound(self.meta, [reaction])
        info.assert_called_once()
        self.assertIn("unknown message", info.call_args.args[0])
        self.assertIn("wamid.NONE", info.call_args.args)
        self.assertEqual(self.Message.search_count([]), rows_before, "nothing stored")
        self.assertFalse(self._chat().channel_id, "no chat opened by a reaction")

    def test_incoming_reaction_doesnt_open_the_window(self):
        campaign_row = self.queue_template(self.customer, account=self.meta)
        self.run_queue()
        self.assertEqual(campaign_row.state, "sent")
        self._webhook(
            fp.meta_reaction_message("wamid.RW", self.wa_id, campaign_row.provider_message_id, "👍", time.time())
        )
        self.assertFalse(self.meta._open_window_numbers([self.customer.wa_phone]), "no window")
        self.assertEqual(campaign_row.customer_reaction, "👍", "kept on the row")
        self.assertFalse(campaign_row.mail_message_id)
        # shown once the row appears in a chat (the agent opens it)
        self._chat().with_user(self.agent).action_open_channel()
        self.assertTrue(campaign_row.mail_message_id)
        self.assertEqual(self._reactions(campaign_row.mail_message_id), [("Carla Neri", "👍")])

    def test_incoming_reply_is_quoted(self):
        self._customer_writes("wamid.C2")
        posted, ledger = self._agent_answers("Blue or red?")
        reply = self._customer_writes("wamid.C3", "Blue", context_id=ledger.provider_message_id)
        self.assertEqual(reply.reply_to_id, ledger)
        self.assertEqual(reply.mail_message_id.parent_id, posted, "Discuss shows it as a reply to our question")
        plain = self._customer_writes("wamid.C4", "Thanks")
        self.assertFalse(plain.mail_message_id.parent_id)

    # -- outgoing -------------------------------------------------------------

    def test_agent_reaction_inside_window_sent(self):
        incoming = self._customer_writes("wamid.C5", "Order 42 arrived")
        shown = incoming.mail_message_id
        self._react(shown, "👍")
        self.assertEqual(self._reactions(shown), [("WhatsApp Agent", "👍")])
        self.assertEqual(
            self._sent_reactions()[-1]["reaction"], {"message_id": "wamid.C5", "emoji": "👍"}, "the customer's id"
        )
        self.assertEqual(self._sent_reactions()[-1]["to"], self.wa_id)
        # the business has one reaction: another emoji replaces it
        self._react(shown, "❤️")
        self.assertEqual(self._reactions(shown), [("WhatsApp Agent", "❤️")])
        self._react(shown, "❤️", action="remove")
        self.assertEqual(self._reactions(shown), [])
        self.assertEqual(self._sent_reactions()[-1]["reaction"], {"message_id": "wamid.C5", "emoji": ""}, "removal")
        self.assertEqual(len(self._sent_reactions()), 3)

    def test_agent_reaction_outside_window_refused(self):
        incoming = self._customer_writes("wamid.C6", "Old message", age=25 * 3600)
        with self.assertLogs("odoo.http", "WARNING") as logs, self.assertRaises(JsonRpcException):
            self._react(incoming.mail_message_id, "👍")
        self.assertIn("WhatsApp takes reactions only inside", logs.output[0], "a clear reason")
        self.assertEqual(self._reactions(incoming.mail_message_id), [], "not shown")
        self.assertFalse(self._sent_reactions(), "nothing reached WhatsApp")

    def test_agent_reaction_on_our_message_refused(self):
        self._customer_writes("wamid.C7")
        posted, _ledger = self._agent_answers()
        with self.assertRaisesRegex(UserError, "only to the customer's messages"):
            posted.with_user(self.agent).sudo()._message_reaction(
                "👍", "add", self.agent.partner_id, self.env["mail.guest"]
            )
        self.assertFalse(self._sent_reactions())

    def test_spoki_refuses_reactions(self):
        incoming = self.receive(self.customer.wa_phone, "Hi from Spoki", account=self.spoki, message_id="sp.1")
        with self.assertRaisesRegex(UserError, "doesn't carry reactions"):
            incoming.mail_message_id.with_user(self.agent).sudo()._message_reaction(
                "👍", "add", self.agent.partner_id, self.env["mail.guest"]
            )

    def test_agent_reply_carries_context(self):
        incoming = self._customer_writes("wamid.C8", "Is it in stock?")
        posted, ledger = self._agent_answers("Yes, it is", parent_id=incoming.mail_message_id.id)
        self.assertEqual(posted.parent_id, incoming.mail_message_id, "quoted in Discuss")
        self.assertEqual(ledger.reply_to_id, incoming)
        payload = self.fake.messages[ledger.provider_message_id]["payload"]
        self.assertEqual(payload["context"], {"message_id": "wamid.C8"}, "quoted on WhatsApp")
        _posted, plain = self._agent_answers("Anything else?")
        self.assertNotIn("context", self.fake.messages[plain.provider_message_id]["payload"])


@tagged("post_install", "-at_install")
class TestSpokiSandboxReaction(MessagingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account.team_user_ids = cls.agent

    def test_sandbox_simulates_a_reaction(self):
        self.receive(self.customer.wa_phone, "Hi")
        chat = self.env["spoki.chat"]._get_or_create(self.account, self.customer.wa_phone, self.customer)
        posted = chat.channel_id.with_user(self.agent).message_post(
            body="Hello!", message_type="comment", subtype_xmlid="mail.mt_comment"
        )
        self.run_queue()
        chat.with_user(self.manager).action_sandbox_simulate_reaction()
        reactions = posted.sudo().reaction_ids
        self.assertEqual(reactions.mapped("content"), ["👍"])
        self.assertEqual(reactions.partner_id, self.customer)
