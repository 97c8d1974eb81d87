"""Issue 12's "Done when", in headless Chromium on the sandbox (part E): an
agent on the WhatsApp › Chats list receives a customer's message and a photo
(signed webhooks over real HTTP) in a chat window with the unread counter,
answers inside the window, sends a template after it closed (typing the value
the contact lacks in the picker), tags the chat and the message, reassigns the
chat to a colleague — without any page reload. One screenshot per step in
/tmp/screens/E/; the chat again in Italian."""

import json
import threading
import time
from pathlib import Path
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.tests import tagged
from odoo.tools import SQL

from odoo.addons.bus.websocket import WebsocketConnectionHandler

from ..tools.providers.sandbox import incoming_payload
from . import fake_provider as fp
from .browser_signals import BrowserSignalsCase
from .common import SpokiCommon

SECRET = "done-when-secret"
NUMBER = "+393391234577"


@tagged("post_install", "-at_install")
class TestSpokiDoneWhenUi(BrowserSignalsCase, SpokiCommon):
    screens_dir = Path("/tmp/screens/E")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.colleague = cls._new_user("spoki_colleague", "spoki_whatsapp.group_spoki_user", name="Paola Colleghi")
        cls.account.write(
            {"meta_app_secret": SECRET, "team_user_ids": [(6, 0, cls.agent.ids)], "chat_assignment": "round_robin"}
        )
        cls.agent.password = "spoki_agent"
        cls.customer = cls.env["res.partner"].create({"name": "Giulia Verdi", "mobile": NUMBER})
        Tag = cls.env["res.partner.category"]
        cls.tag_chat = Tag.create({"name": "Promo Giugno"})
        cls.tag_message = Tag.create({"name": "interessato"})
        cls.env["spoki.dynamic.field"].create({"name": "CODICE_SCONTO", "field_type": "text"})
        cls.template = cls.env["spoki.template"].create(
            {
                "name": "Codice sconto",
                "account_id": cls.account.id,
                "lang": "it_IT",
                "body": "Ciao %%NOME%%, ecco il tuo codice sconto: %%CODICE_SCONTO%%",
                "button_ids": [(0, 0, {"button_type": "quick_reply", "text": "Grazie!"})],
            }
        )
        cls.template.write({"state": "approved", "provider_name": f"codice_sconto_{cls.template.id}"})
        cls.startClassPatcher(patch.object(WebsocketConnectionHandler, "websocket_allowed", return_value=True))

    # -- what the page asks for (tests/browser_signals.py) ----------------------

    def _post_webhook(self, payload):
        raw = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": fp.meta_signature(SECRET, raw)}
        response = self.opener.post(
            f"{self.base_url()}/spoki/webhook/{self.account.id}", data=raw, headers=headers, timeout=20
        )
        self.webhook_codes.append(response.status_code)
        self._wake_websockets()

    def _close_window(self):
        """24 hours later: the customer's messages move back 25 hours in the
        ledger, the open chat hears that its window closed."""
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            cr.execute(
                SQL(
                    """UPDATE spoki_message SET message_date = message_date - INTERVAL '25 hours'
                        WHERE account_id = %s AND wa_phone = %s AND direction = 'incoming'""",
                    self.account.id,
                    self.customer.wa_phone,
                )
            )
            env["spoki.chat"].search([("wa_phone", "=", self.customer.wa_phone)]).channel_id._spoki_send_chat_info()
        self._wake_websockets()

    def _on_command(self, browser, command):
        if command in ("incoming", "photo"):
            kind, text = ("image", "")
            if command == "incoming":
                kind, text = ("text", "Buongiorno, avete ancora la borsa rossa?")
            payload = incoming_payload(self.customer.wa_phone, kind, text, timestamp=time.time())
            threading.Thread(target=self._post_webhook, args=(payload,)).start()
        elif command == "close-window":
            threading.Thread(target=self._close_window).start()

    # -- tests ------------------------------------------------------------------

    def test_done_when(self):
        self.screens, self.webhook_codes = [], []
        action = self.env.ref("spoki_whatsapp.spoki_chat_action")
        self._run_browser("spoki_done_when.js", f"/odoo/action-{action.id}")
        self.assertEqual(self.webhook_codes, [200, 200], "the message and the photo accepted by the webhook")
        chat = self.env["spoki.chat"].search([("wa_phone", "=", self.customer.wa_phone)])
        Message = self.env["spoki.message"]
        incoming = Message.search([("wa_phone", "=", chat.wa_phone), ("direction", "=", "incoming")], order="id")
        self.assertEqual(len(incoming), 2)
        self.assertTrue(incoming[1].attachment_ids.mimetype.startswith("image/"), "the photo stored")
        self.assertEqual(incoming[1].mail_message_id.attachment_ids, incoming[1].attachment_ids, "and shown")
        outgoing = [("wa_phone", "=", chat.wa_phone), ("direction", "=", "outgoing")]
        answer = Message.search([*outgoing, ("kind", "=", "text")])
        self.assertEqual((answer.body, answer.user_id), ("Sì, è disponibile: gliela metto da parte?", self.agent))
        template = Message.search([("wa_phone", "=", chat.wa_phone), ("kind", "=", "template")])
        self.assertEqual(template.body, "Ciao Giulia, ecco il tuo codice sconto: BORSA10")
        self.assertEqual(template.mail_message_id.res_id, chat.channel_id.id)
        self.assertEqual(chat.tag_ids, self.tag_chat)
        self.assertIn(self.tag_message, incoming[0].tag_ids, "the customer's message tagged")
        self.assertLessEqual(self.tag_chat | self.tag_message, self.customer.category_id, "the contact too")
        self.assertEqual(chat.user_id, self.colleague, "reassigned to the colleague")
        self.assertIn(self.colleague.partner_id, chat.channel_id.channel_member_ids.partner_id)
        expected = [
            "01_incoming_message_notification",
            "02_incoming_photo",
            "03_answer_in_window",
            "04_template_after_window_closed",
            "05_chat_and_message_tagged",
            "06_reassigned",
        ]
        time.sleep(1)
        self.assertEqual([s for s in self.screens if s in expected], expected)

    def test_chat_in_italian(self):
        """The same chat for an agent working in Italian."""
        self.env["res.lang"]._activate_lang("it_IT")
        self.env["ir.module.module"].search([("name", "in", ("spoki_whatsapp", "mail", "web"))])._update_translations(
            "it_IT"
        )
        self.agent.lang = "it_IT"
        self.screens, self.webhook_codes = [], []
        Message = self.env["spoki.message"]
        Message._process_webhook(
            self.account, incoming_payload(self.customer.wa_phone, "text", "Buongiorno, è arrivata?")
        )
        chat = self.env["spoki.chat"].search([("wa_phone", "=", self.customer.wa_phone)])
        chat.sudo().tag_ids = self.tag_chat
        self._run_browser("spoki_done_when_it.js", "/odoo/action-mail.action_discuss")
        time.sleep(1)
        self.assertIn("07_it_chat", self.screens)
