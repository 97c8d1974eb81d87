"""The ledger (``spoki.message``) and the chats are written only by the
product's own paths (issue 11, Access): users can't forge messages that would
bypass the opt-out, the 24-hour rule or the tier limit, chats keep their
number, account and contact, and numbers are always E.164."""

from odoo.exceptions import AccessError
from odoo.tests import tagged

from .messaging_common import MessagingCommon, SendCounter

# Forged rows an agent or a manager must not be able to create: each one would
# bypass a rule (opt-out, window, limit) or falsify the ledger.
FORGED = {
    "opt-out confirmation": {"optout_confirmation": True},
    "fake incoming message (opens a window)": {"direction": "incoming", "state": "received"},
    "another sender": {"user_id": "other_user"},
    "a state": {"state": "sent"},
    "not counted for the limit": {"counts_for_limit": False, "state": "sent"},
    "a provider id": {"provider_message_id": "wamid.FORGED"},
}


@tagged("post_install", "-at_install")
class TestAccessLedger(MessagingCommon):
    def _vals(self, forged):
        vals = {
            "account_id": self.account.id,
            "partner_id": self.customer.id,
            "wa_phone": self.customer.wa_phone,
            "kind": "text",
            "body": "forged",
        }
        vals.update(forged)
        if vals.get("user_id") == "other_user":
            vals["user_id"] = self.manager.id
        return vals

    def test_users_cannot_create_forged_messages(self):
        Message = self.env["spoki.message"]
        for user in (self.agent, self.manager):
            for label, forged in FORGED.items():
                with self.subTest(user=user.login, forged=label), self.assertRaises(AccessError):
                    Message.with_user(user).create(self._vals(forged))
        self.assertFalse(Message.search([("body", "=", "forged")]))

    def test_users_cannot_write_or_delete_messages(self):
        message = self.queue_template(self.customer)
        self.run_queue()
        self.assertEqual(message.state, "sent")
        for user in (self.agent, self.manager):
            as_user = message.with_user(user)
            self.assertEqual(as_user.state, "sent", "readable")
            for label, forged in dict(FORGED, number={"wa_phone": "+393330000000"}).items():
                vals = {key: value for key, value in self._vals(forged).items() if key in forged}
                with self.subTest(user=user.login, forged=label), self.assertRaises(AccessError):
                    as_user.write(vals)
            with self.subTest(user=user.login, op="unlink"), self.assertRaises(AccessError):
                as_user.unlink()
        self.assertEqual((message.state, message.provider_message_id[:4]), ("sent", "sbx."))

    def test_chat_reply_still_works_for_agents(self):
        self.receive(self.customer.wa_phone, "Hi, any news?")
        chat = self.env["spoki.chat"].search([("wa_phone", "=", self.customer.wa_phone)]).with_user(self.agent)
        chat.composer_body = "Yes: it ships today."
        chat.action_send_text()
        reply = self.Message.search([("direction", "=", "outgoing"), ("body", "=", "Yes: it ships today.")])
        self.assertEqual((reply.state, reply.user_id), ("queued", self.agent))

    def test_retry_and_archive_by_managers_only(self):
        self.customer.action_spoki_opt_out()
        message = self.queue_template(self.customer)
        self.run_queue()
        self.assertEqual(message.error_code, "opted_out")
        self.customer.action_spoki_opt_in()
        with self.assertRaises(AccessError):
            message.with_user(self.agent).action_retry()
        with self.assertRaises(AccessError):
            message.with_user(self.agent_b).action_retry()
        self.assertEqual(message.state, "failed")
        message.with_user(self.manager).action_retry()
        self.assertEqual(message.state, "queued")
        self.run_queue()
        self.assertEqual(message.state, "sent")
        with self.assertRaises(AccessError):
            message.with_user(self.agent).action_archive()
        message.with_user(self.manager).action_archive()
        self.assertFalse(message.active)
        message.with_user(self.manager).action_unarchive()
        self.assertTrue(message.active)

    def test_numbers_normalised_and_opt_out_matches_any_spelling(self):
        """An opted-out +393398760001 written "+39 339 8760001" (or in the
        national form, on an Italian company's account) is the same person:
        never sent."""
        self.assertEqual(self.customer.wa_phone, "+393398760001")
        self.customer.action_spoki_opt_out()
        spellings = ["+39 339 8760001", "339 876 0001", "0039 339-876-0001"]
        messages = self.Message.create(
            [
                {
                    "account_id": self.account.id,
                    "wa_phone": spelling,
                    "kind": "template",
                    "template_id": self.template.id,
                }
                for spelling in spellings
            ]
        )
        self.assertEqual(set(messages.mapped("wa_phone")), {"+393398760001"})
        with SendCounter().patched() as counter:
            self.run_queue()
        self.assertEqual(set(messages.mapped("error_code")), {"opted_out"})
        self.assertFalse(counter.calls)

    def test_chat_number_account_contact_fixed(self):
        Chat = self.env["spoki.chat"]
        chat = Chat._get_or_create(self.account, "+39 339 8760001", self.customer)
        self.assertEqual(chat.wa_phone, "+393398760001")
        self.assertEqual(Chat._get_or_create(self.account, "+393398760001"), chat, "one chat per person")
        twin = self.env["spoki.account"].create({"name": "Twin", "phone": "+390200000077"})
        as_agent = chat.with_user(self.agent)
        for vals in (
            {"wa_phone": "+393330000000"},
            {"account_id": twin.id},
            {"partner_id": self.customer_es.id},
            {"last_direction": "incoming"},
        ):
            with self.subTest(vals=vals), self.assertRaises(AccessError):
                as_agent.write(vals)
            with self.subTest(vals=vals, user="manager"), self.assertRaises(AccessError):
                chat.with_user(self.manager).write(vals)
        as_agent.composer_body = "Draft reply"  # the composer stays editable
        self.assertEqual(
            (chat.wa_phone, chat.account_id, chat.partner_id), ("+393398760001", self.account, self.customer)
        )
        with self.assertRaises(AccessError):
            Chat.with_user(self.agent).create({"account_id": self.account.id, "wa_phone": "+393330000000"})

    def test_chat_without_contact_links_only_same_number(self):
        chat = self.env["spoki.chat"]._get_or_create(self.account, "+34 622 000 111")
        self.assertFalse(chat.partner_id)
        with self.assertRaises(AccessError):
            chat.with_user(self.agent).partner_id = self.customer
        chat.with_user(self.agent).partner_id = self.customer_es
        self.assertEqual(chat.partner_id, self.customer_es)
