"""Sandbox customer simulator (issue 14): on a sandbox account's chat,
managers and agents "play the customer" — a text, a quick-reply button of
the last template sent, STOP, a photo — through the sandbox's webhook path,
with the effects of a real customer's message."""

from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .automation_common import AutomationCommon


@tagged("post_install", "-at_install")
class TestSandboxPlayCustomer(AutomationCommon):
    def setUp(self):
        super().setUp()
        self.chat = self.env["spoki.chat"]._get_or_create(self.account, self.customer.wa_phone, self.customer)

    def play(self, user, choice, **values):
        action = self.chat.with_user(user).action_sandbox_play_customer()
        self.assertEqual(action["res_model"], "spoki.chat.play.customer")
        Wizard = self.env["spoki.chat.play.customer"].with_user(user).with_context(**action["context"])
        form = Form(Wizard)
        form.choice = choice
        for name, value in values.items():
            setattr(form, name, value)
        wizard = form.save()
        before = self.Message.search([("wa_phone", "=", self.customer.wa_phone)]).ids
        wizard.action_apply()
        return self.Message.search(
            [("wa_phone", "=", self.customer.wa_phone), ("direction", "=", "incoming"), ("id", "not in", before)]
        )

    def test_text_opens_the_window(self):
        self.assertFalse(self.chat.window_open)
        incoming = self.play(self.agent, "text", text="Buongiorno, è disponibile?")
        self.assertEqual((incoming.body, incoming.state), ("Buongiorno, è disponibile?", "received"))
        self.assertTrue(incoming.provider_message_id.startswith("wamid.SBX"))  # the webhook path
        self.chat.invalidate_recordset()
        self.assertTrue(self.chat.window_open)
        self.assertEqual(self.chat.last_direction, "incoming")

    def test_button_of_the_last_template_fires_the_quick_reply_rule(self):
        rule = self._rule(
            "Sono interessato",
            "on_spoki_incoming",
            [self._tag(self.tag_yes, target="message")],
            model=self.message_model,
            spoki_incoming_template_id=self.promo.id,
            spoki_incoming_text="Sono interessato",
        )
        self.queue_template(self.customer, template=self.template)
        self.advance(minutes=1)
        self.queue_template(self.customer, template=self.promo)
        wizard = Form(
            self.env["spoki.chat.play.customer"].with_user(self.manager).with_context(default_chat_id=self.chat.id)
        )
        wizard.choice = "button"
        self.assertEqual(wizard.last_template_id, self.promo)
        button = self.promo.button_ids.filtered(lambda b: b.text == "Sono interessato")
        incoming = self.play(self.manager, "button", button_id=button)
        self.assertEqual(incoming.body, "Sono interessato")
        self.assertEqual(incoming.tag_ids, self.tag_yes)
        run = self.env["spoki.automation.run"].search([("automation_id", "=", rule.id)])
        self.assertEqual(run.occurrence, f"message:{incoming.id}")

    def test_button_needs_a_template_with_buttons(self):
        wizard = self.env["spoki.chat.play.customer"].create({"chat_id": self.chat.id, "choice": "button"})
        with self.assertRaises(UserError):
            wizard.action_apply()

    def test_stop_opts_out(self):
        incoming = self.play(self.agent, "stop")
        self.assertEqual(incoming.body, "STOP")
        self.assertTrue(self.customer.wa_opt_out)

    def test_photo(self):
        incoming = self.play(self.agent, "photo")
        self.assertEqual((incoming.media_kind, incoming.media_state), ("image", "done"))
        self.assertTrue(incoming.attachment_ids.raw.startswith(b"\x89PNG"))

    def test_sandbox_accounts_only(self):
        meta = self.env["spoki.account"].create(
            {"name": "Meta", "phone": "+390200000009", "provider": "meta", "company_id": self.company_a.id}
        )
        chat = self.env["spoki.chat"]._get_or_create(meta, self.customer.wa_phone, self.customer)
        with self.assertRaises(UserError):
            chat.with_user(self.agent).action_sandbox_play_customer()
