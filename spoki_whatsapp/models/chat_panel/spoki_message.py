"""Live Discuss updates of the ledger's rows: message tags (badges on the
message), a file downloaded after its message was shown, the chats list."""

from odoo import models

from odoo.addons.mail.tools.discuss import Store

from .spoki_chat import _tag_values


class SpokiMessage(models.Model):
    _inherit = "spoki.message"

    def _spoki_panel_values(self):
        """The row's id and tags, sent with its ticks (``_spoki_tick_values``)."""
        self.ensure_one()
        return {"whatsappMessageId": self.id, "whatsappTags": _tag_values(self.sudo().tag_ids)}

    def _spoki_notify_tags(self):
        """Tags added: the messages shown in a channel show them (with the ticks)."""
        self._spoki_notify_ticks()

    def _spoki_notify_attachments(self):
        """A file stored after its message was shown in Discuss: the open
        chats get the message again with its attachments."""
        for message in self.sudo().filtered("mail_message_id"):
            mail_message = message.mail_message_id
            if mail_message.model != "discuss.channel" or not mail_message.res_id:
                continue
            channel = self.env["discuss.channel"].sudo().browse(mail_message.res_id)
            store = Store(mail_message, {"attachment_ids": Store.many(mail_message.attachment_ids.sorted("id"))})
            channel._bus_send_store(store)
