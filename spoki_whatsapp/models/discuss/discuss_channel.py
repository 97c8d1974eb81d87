"""WhatsApp chats in Discuss: one ``discuss.channel`` of type ``whatsapp`` per
``spoki.chat`` (account + number), where agents read and answer.

What an agent posts in such a channel is a WhatsApp message: it goes through
the chat's rules (opt-out, the 24-hour window: free text is refused outside
it) and the send queue, and its ledger row is linked to the posted message.
Internal notes (the note subtype) stay in Odoo: never sent. Mentions can't be
carried by WhatsApp and are dropped; sent messages can't be edited (their
type is ``whatsapp_message``)."""

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import html2plaintext

from odoo.addons.mail.tools.discuss import Store


class DiscussChannel(models.Model):
    _inherit = "discuss.channel"

    channel_type = fields.Selection(selection_add=[("whatsapp", "WhatsApp chat")], ondelete={"whatsapp": "cascade"})
    spoki_chat_id = fields.Many2one("spoki.chat", "WhatsApp chat", index="btree_not_null", ondelete="cascade")

    # ------------------------------------------------------------
    # POSTING
    # ------------------------------------------------------------

    def _get_message_create_valid_field_names(self):
        return super()._get_message_create_valid_field_names() | {"spoki_message_id"}

    @api.returns("mail.message", lambda value: value.id)
    def message_post(self, *, message_type="notification", **kwargs):
        if self.env.context.get("spoki_mirror"):
            return super().message_post(message_type=message_type, **kwargs)
        kwargs.pop("spoki_message_id", None)
        if (
            len(self) != 1
            or self.channel_type != "whatsapp"
            or message_type != "comment"
            or self._spoki_is_note(kwargs)
        ):
            return super().message_post(message_type=message_type, **kwargs)
        ledger = self._spoki_enqueue_post(kwargs)
        kwargs["partner_ids"] = []  # no mentions on WhatsApp
        kwargs.pop("special_mentions", None)
        message = super(DiscussChannel, self.with_context(spoki_mirror=True)).message_post(
            message_type="whatsapp_message", spoki_message_id=ledger.id, **kwargs
        )
        ledger.sudo().mail_message_id = message
        self.spoki_chat_id.sudo()._touch(ledger)
        return message

    def _spoki_is_note(self, kwargs):
        note = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note")
        return kwargs.get("subtype_xmlid") == "mail.mt_note" or (note and kwargs.get("subtype_id") == note)

    def _spoki_enqueue_post(self, kwargs):
        """Queue what the agent wrote as the chat's WhatsApp message (checks:
        the agent may write the chat, opt-out, the 24-hour window)."""
        chat = self.spoki_chat_id
        if not chat:
            raise UserError(self.env._("This WhatsApp channel has no chat."))
        chat.check_access("write")
        chat._check_can_send()
        text = html2plaintext(kwargs.get("body") or "").strip()
        # a reply (quoted): the ledger row of the message answered, sent as the context
        quoted = self._spoki_quoted_row(kwargs.get("parent_id"))
        attachments = self.env["ir.attachment"].browse(kwargs.get("attachment_ids") or [])
        if attachments:
            if len(attachments) > 1:
                raise UserError(self.env._("WhatsApp carries one attachment per message: send them one by one."))
            message = chat._send_media(attachments, text)
            if quoted:
                message.sudo().reply_to_id = quoted
            return message
        Message = self.env["spoki.message"]
        return Message._enqueue_text(
            chat.account_id, chat.wa_phone, text, partner=chat.partner_id, reply_to_id=quoted.id or False
        )

    def _spoki_quoted_row(self, parent_id):
        """The ledger row of the message ``parent_id`` of this channel (a
        reply), or an empty recordset (no parent, an internal note)."""
        if not parent_id:
            return self.env["spoki.message"]
        parent = self.env["mail.message"].sudo().browse(int(parent_id)).exists()
        if parent.model != "discuss.channel" or parent.res_id != self.id:
            return self.env["spoki.message"]
        # sudo: spoki.message - the row shown by a message of a channel the user posts in
        return parent.spoki_message_id

    # ------------------------------------------------------------
    # STORE (client data)
    # ------------------------------------------------------------

    def _types_allowing_seen_infos(self):
        return super()._types_allowing_seen_infos() + ["whatsapp"]

    def _spoki_chat_info(self):
        """Window, opt-out and chat of a WhatsApp channel, for the composer."""
        self.ensure_one()
        chat = self.sudo().spoki_chat_id
        return {
            "whatsapp_chat_id": chat.id,
            "whatsapp_number": chat.wa_phone or False,
            "whatsapp_window_end": fields.Datetime.to_string(chat.window_end) if chat.window_end else False,
            "whatsapp_opted_out": bool(chat.opted_out),
            **(chat._spoki_panel_info() if chat else {}),
        }

    def _to_store(self, store: Store):
        super()._to_store(store)
        for channel in self.filtered(lambda c: c.channel_type == "whatsapp"):
            store.add(channel, channel._spoki_chat_info())

    def _spoki_send_chat_info(self):
        """The window moved (an incoming message): tell the members' clients."""
        for channel in self:
            channel._bus_send_store(channel, channel._spoki_chat_info())
