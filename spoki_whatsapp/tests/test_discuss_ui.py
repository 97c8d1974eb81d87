import json
import threading
import time
from datetime import timedelta
from pathlib import Path
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from odoo.addons.bus.websocket import WebsocketConnectionHandler

from ..tools.providers import InboundMessage
from . import fake_provider as fp
from .browser_signals import BrowserSignalsCase
from .common import SpokiCommon, apply_stored_webhooks

SECRET = "discuss-app-secret"


def fp_inbound(message_id, wa_id, text, offset):
    """An incoming message ``offset`` seconds from now."""
    return InboundMessage(message_id, f"+{wa_id}", text, fields.Datetime.now() + timedelta(seconds=offset), "")


@tagged("post_install", "-at_install")
class TestSpokiDiscussUi(BrowserSignalsCase, SpokiCommon):
    """In headless Chromium, as an agent in Discuss: a customer's message
    posted to the webhook (real HTTP) raises the unread counters and appears
    in the open chat without reload, a delivered status moves the tick, the
    agent answers inside the window and writes an internal note."""

    screens_dir = Path("/tmp/screens/A")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account.write({"meta_app_secret": SECRET, "team_user_ids": [(6, 0, cls.agent.ids)]})
        cls.agent.password = "spoki_agent"
        cls.customer = cls.env["res.partner"].create({"name": "Giulia Verdi", "mobile": "+393391234500"})
        # live updates need the bus: websockets are off in test mode unless allowed (as bus's WebsocketCase)
        cls.startClassPatcher(patch.object(WebsocketConnectionHandler, "websocket_allowed", return_value=True))

    def setUp(self):
        super().setUp()
        Message = self.env["spoki.message"]
        # the customer wrote an hour ago; the agent answered (sent)
        first = Message._receive_inbound(
            self.account,
            [fp_inbound("wamid.GV1", "393391234500", "Buongiorno, è arrivata la nuova collezione?", -3600)],
        )
        self.channel = self.env["discuss.channel"].browse(first.mail_message_id.res_id)
        self.channel.channel_member_ids.filtered(lambda m: m.partner_id == self.agent.partner_id)._mark_as_read(
            first.mail_message_id.id
        )
        answer = self.channel.with_user(self.agent).message_post(
            body="Sì, è arrivata ieri!", message_type="comment", subtype_xmlid="mail.mt_comment"
        )
        self.answer = answer.spoki_message_id
        Message._process_queue(auto_commit=False, time_budget=0)
        self.assertEqual(self.answer.state, "sent")
        self.channel.channel_member_ids.filtered(lambda m: m.partner_id == self.agent.partner_id)._mark_as_read(
            answer.id
        )

    def _post_webhook(self, change):
        raw = json.dumps(fp.meta_webhook([change])).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": fp.meta_signature(SECRET, raw)}
        response = self.opener.post(
            f"{self.base_url()}/spoki/webhook/{self.account.id}", data=raw, headers=headers, timeout=20
        )
        self.webhook_codes.append(response.status_code)
        apply_stored_webhooks(self.registry)  # statuses are applied in bulk after the answer (the cron's job)
        self._wake_websockets()

    def _on_command(self, browser, command):
        if command == "incoming":
            change = fp.meta_messages_change(
                contacts=[fp.meta_contact("393391234500", "Giulia Verdi")],
                messages=[fp.meta_text_message("wamid.GV2", "393391234500", "Avete la taglia M?", time.time())],
            )
            threading.Thread(target=self._post_webhook, args=(change,)).start()
        elif command == "delivered":
            change = fp.meta_messages_change(
                statuses=[fp.meta_status(self.answer.provider_message_id, "delivered", time.time())]
            )
            threading.Thread(target=self._post_webhook, args=(change,)).start()

    def test_discuss_chat_live(self):
        self.screens, self.webhook_codes = [], []
        self._run_browser("spoki_discuss_chat.js", "/odoo/action-mail.action_discuss")
        self.answer.invalidate_recordset()
        self.assertEqual(self.webhook_codes, [200, 200], "both webhooks accepted")
        self.assertEqual(self.answer.state, "delivered")
        incoming = self.env["spoki.message"].search([("provider_message_id", "=", "wamid.GV2")])
        self.assertEqual(incoming.mail_message_id.res_id, self.channel.id, "shown in the chat")
        reply = self.env["spoki.message"].search([("body", "=", "Sì, la taglia M è disponibile!")])
        self.assertEqual((reply.direction, reply.state, reply.user_id), ("outgoing", "queued", self.agent))
        self.assertEqual(reply.mail_message_id.res_id, self.channel.id)
        self.assertFalse(self.env["spoki.message"].search([("body", "ilike", "Cliente VIP")]), "notes never sent")
        self.assertGreaterEqual(len(self.screens), 5, self.screens)

    def test_go_to_chat_window_and_template(self):
        """Outside the window: "Go to chat" on the contact opens the chat
        window with the earlier template (rendered, with its buttons), free
        text is off, the template picker previews and sends through the queue."""
        self.screens, self.webhook_codes = [], []
        template = self.env["spoki.template"].create(
            {
                "name": "Promo Giugno",
                "account_id": self.account.id,
                "lang": "it_IT",
                "body": "Ciao %%NOME%%, Promo Giugno: 20 euro di sconto sulla collezione!",
                "button_ids": [(0, 0, {"button_type": "quick_reply", "text": "Mi interessa"})],
            }
        )
        template.write({"state": "approved", "provider_name": f"promo_giugno_{template.id}"})
        luca = self.env["res.partner"].create({"name": "Luca Bianchi", "mobile": "+393391234511"})
        old = (
            self.env["spoki.message"]
            .sudo()
            .create(
                {
                    "account_id": self.account.id,
                    "partner_id": luca.id,
                    "wa_phone": luca.wa_phone,
                    "kind": "template",
                    "template_id": template.id,
                    "body": "Ciao Luca, Promo Giugno: 20 euro di sconto sulla collezione!",
                    "state": "read",
                    "message_date": fields.Datetime.now() - timedelta(days=2),
                }
            )
        )
        chat = self.env["spoki.chat"]._get_or_create(self.account, luca.wa_phone, luca)
        chat.sudo().composer_template_id = template
        self.assertFalse(chat.channel_id, "no channel before somebody opens the chat")
        action = self.env.ref("spoki_whatsapp.res_partner_action_spoki")
        self._run_browser("spoki_go_to_chat.js", f"/odoo/action-{action.id}/{luca.id}")
        self.assertEqual(old.mail_message_id.res_id, chat.channel_id.id, "the earlier template shown on opening")
        sent = self.env["spoki.message"].search([("wa_phone", "=", luca.wa_phone), ("id", "!=", old.id)])
        self.assertEqual((sent.kind, sent.template_id, sent.state), ("template", template, "queued"))
        self.assertEqual(sent.mail_message_id.res_id, chat.channel_id.id)
        self.assertGreaterEqual(len(self.screens), 3, self.screens)
