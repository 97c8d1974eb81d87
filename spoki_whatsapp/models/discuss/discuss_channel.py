"""WhatsApp chats in Discuss: one ``discuss.channel`` of type ``whatsapp`` per
``spoki.chat`` (account + number), where agents read and answer."""

from odoo import fields, models


class DiscussChannel(models.Model):
    _inherit = "discuss.channel"

    channel_type = fields.Selection(selection_add=[("whatsapp", "WhatsApp chat")], ondelete={"whatsapp": "cascade"})
    spoki_chat_id = fields.Many2one("spoki.chat", "WhatsApp chat", index="btree_not_null", ondelete="cascade")
