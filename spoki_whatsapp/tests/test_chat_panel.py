"""Issue 12 "Done when" in Discuss (part E): the chat panel (assignee, tags)
and message tags live over the bus, the gaps of the live chat (a file
downloaded later, refused messages' ticks, the chats list, team changes) and
the template picker asking for missing values."""

import json
import time

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from . import fake_provider as fp
from .messaging_common import MessagingCommon
from .test_media import PNG, MediaCommon


class PanelCommon(MessagingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent2 = cls._new_user("spoki_agent2", "spoki_whatsapp.group_spoki_user", name="Second Agent")
        cls.account.team_user_ids = cls.agent
        Tag = cls.env["res.partner.category"]
        cls.tag_promo = Tag.create({"name": "Promo Giugno"})
        cls.tag_lead = Tag.create({"name": "interessato"})

    def _chat(self):
        return self.env["spoki.chat"]._get_or_create(self.account, self.customer.wa_phone, self.customer)

    def _bus_payloads(self, needle):
        self.env.cr.precommit.run()
        return [
            json.loads(note.message)
            for note in self.env["bus.bus"].sudo().search([("message", "ilike", needle)], order="id")
        ]

    def _clear_bus(self):
        self.env.cr.precommit.run()
        self.env["bus.bus"].sudo().search([]).unlink()


@tagged("post_install", "-at_install")
class TestChatPanel(PanelCommon):
    def test_reassign_from_the_chat_panel_live(self):
        self.receive(self.customer.wa_phone, "Ciao, avete la taglia M?")
        chat = self._chat()
        channel = chat.channel_id
        self.assertEqual(channel._spoki_chat_info()["whatsapp_user"], {"id": self.agent.id, "name": self.agent.name})
        choices = chat.with_user(self.agent).spoki_panel_choices()
        self.assertLessEqual({self.agent.id, self.agent2.id, self.manager.id}, {u["id"] for u in choices["users"]})
        self.assertIn(self.tag_promo.id, [t["id"] for t in choices["tags"]])
        self._clear_bus()
        chat.with_user(self.agent).action_reassign_to(self.agent2.id)
        self.assertEqual(chat.user_id, self.agent2)
        self.assertIn(self.agent2.partner_id, channel.channel_member_ids.partner_id, "the new agent joins")
        sent = self._bus_payloads("whatsapp_user")
        self.assertTrue(
            any("Second Agent" in json.dumps(p) for p in sent), "the members' chat windows show the new assignee"
        )
        self.assertTrue(self._bus_payloads("spoki_whatsapp/refresh"), "the chats list refreshes")
        # only agents of the chat's company; unassign
        outsider = self._new_user("spoki_outsider", "base.group_user", name="Outsider")
        with self.assertRaises(UserError):
            chat.with_user(self.agent).action_reassign_to(outsider.id)
        chat.with_user(self.agent).action_reassign_to(False)
        self.assertFalse(chat.user_id)
        self.assertFalse(channel._spoki_chat_info()["whatsapp_user"])

    def test_chat_tags_added_and_removed_live(self):
        self.receive(self.customer.wa_phone, "Mi interessa la promo")
        chat = self._chat()
        self._clear_bus()
        chat.with_user(self.agent).action_add_tags([self.tag_promo.id, self.tag_lead.id])
        self.assertEqual(chat.tag_ids, self.tag_promo | self.tag_lead)
        sent = self._bus_payloads("whatsapp_tags")
        self.assertTrue(any("Promo Giugno" in json.dumps(p) for p in sent), "the tags reach the open chats")
        self._clear_bus()
        chat.with_user(self.agent).action_remove_tags([self.tag_lead.id])
        self.assertEqual(chat.tag_ids, self.tag_promo)
        self.assertIn(self.tag_lead, self.customer.category_id, "the contact keeps the tags it received")
        info = chat.channel_id._spoki_chat_info()
        self.assertEqual([t["name"] for t in info["whatsapp_tags"]], ["Promo Giugno"])
        sent = self._bus_payloads("whatsapp_tags")
        self.assertTrue(sent and "interessato" not in json.dumps(sent[-1]), "the removal reaches the open chats")
        # users who can't write the chat can't untag it
        outsider = self._new_user("spoki_outsider2", "base.group_user", name="Outsider")
        with self.assertRaises(AccessError):
            chat.with_user(outsider).action_remove_tags([self.tag_promo.id])

    def test_message_tag_shown_on_the_message_live(self):
        incoming = self.receive(self.customer.wa_phone, "Vorrei la promo di giugno")
        mail_message = incoming.mail_message_id
        self.assertTrue(mail_message)
        self._clear_bus()
        incoming.with_user(self.agent).action_add_tags([self.tag_lead.id])
        sent = self._bus_payloads("whatsappTags")
        self.assertTrue(any("interessato" in json.dumps(p) for p in sent), "the message's badges update live")
        self.assertEqual(incoming._spoki_tick_values()["whatsappMessageId"], incoming.id)
        self.assertIn(self.tag_lead, self.customer.category_id)

    def test_refused_message_gets_its_failed_tick_live(self):
        """Refused by the send queue before the provider call (opt-out after it
        was queued): the ⚠ tick reaches the chat."""
        self.receive(self.customer.wa_phone, "Ciao")
        channel = self._chat().channel_id
        posted = channel.with_user(self.agent).message_post(
            body="Ecco il catalogo", message_type="comment", subtype_xmlid="mail.mt_comment"
        )
        ledger = posted.spoki_message_id
        self.customer.sudo().wa_opt_out = True
        self._clear_bus()
        self.run_queue()
        ledger.invalidate_recordset()
        self.assertEqual(ledger.state, "failed")
        failed = [p for p in self._bus_payloads("whatsappStatus") if '"failed"' in json.dumps(p)]
        self.assertTrue(failed, "the failed tick over the bus")

    def test_chats_list_refreshes_when_a_customer_writes(self):
        self._clear_bus()
        self.receive(self.customer.wa_phone, "Buongiorno")
        chat = self._chat()
        refresh = [p for p in self._bus_payloads("spoki_whatsapp/refresh") if "spoki.chat" in json.dumps(p)]
        self.assertTrue(refresh, "open chats lists reload")
        self.assertIn(chat.id, refresh[-1]["payload"]["ids"])

    def test_team_change_reaches_unassigned_chats(self):
        self.account.chat_assignment = "manual"
        self.receive(self.customer.wa_phone, "C'è qualcuno?")
        chat = self._chat()
        self.assertFalse(chat.user_id)
        self.assertEqual(chat.channel_id.channel_member_ids.partner_id, self.agent.partner_id)
        self.account.team_user_ids = [(4, self.agent2.id)]
        self.assertIn(self.agent2.partner_id, chat.channel_id.channel_member_ids.partner_id, "the new team member")

    def test_template_picker_asks_for_missing_values(self):
        self.env["spoki.dynamic.field"].create({"name": "CODICE_SCONTO", "field_type": "text"})
        template = self._approved_template(
            self.account, body="Ciao %%NOME%%, il tuo codice è %%CODICE_SCONTO%%", name="Codice sconto"
        )
        chat = self._chat().with_user(self.agent)
        chat.composer_template_id = template
        self.assertEqual(chat.composer_needed, ["CODICE_SCONTO"])
        self.assertEqual(chat.composer_missing, "CODICE_SCONTO")
        chat.composer_payload = {"CODICE_SCONTO": "GIUGNO20"}
        self.assertFalse(chat.composer_missing, "typed in the picker")
        self.assertEqual(chat.composer_needed, ["CODICE_SCONTO"], "the field stays to be edited")
        self.assertIn("GIUGNO20", chat.composer_preview)
        chat.action_send_template()
        sent = self.Message.search([("template_id", "=", template.id)])
        self.assertEqual(sent.body, "Ciao Carla, il tuo codice è GIUGNO20")
        self.assertEqual(sent.template_params[-1], "GIUGNO20")
        self.assertFalse(chat.composer_payload, "cleared after sending")


@tagged("post_install", "-at_install")
class TestChatPanelMedia(MediaCommon):
    def test_file_downloaded_later_reaches_open_chats(self):
        """The job 'WhatsApp: media download' stores a photo whose message is
        already in Discuss: the channel gets the message with its attachment."""
        media_id = self.fake.add_media(PNG, "image/png")
        change = fp.meta_messages_change(
            messages=[fp.meta_media_message("wamid.LATE", self.wa_id, "image", media_id, "image/png", time.time())]
        )
        self.Message._process_webhook(self.meta, fp.meta_webhook([change]))
        message = self.Message.search([("provider_message_id", "=", "wamid.LATE")])
        self.assertTrue(message.mail_message_id, "shown in Discuss before its file")
        self.assertFalse(message.attachment_ids)
        self.env.cr.precommit.run()
        self.env["bus.bus"].sudo().search([]).unlink()
        self.Message._fetch_media(auto_commit=False)
        self.assertTrue(message.attachment_ids)
        self.env.cr.precommit.run()
        notes = self.env["bus.bus"].sudo().search([("message", "ilike", "ir.attachment")])
        self.assertTrue(
            any(str(message.attachment_ids.id) in note.message and "attachment_ids" in note.message for note in notes),
            "the attachment sent to the chat's channel",
        )
