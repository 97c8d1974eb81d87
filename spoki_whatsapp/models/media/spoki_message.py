"""Media carried by WhatsApp messages (images, documents, audio, video,
stickers, locations, contact cards), stored as attachments."""

from odoo import fields, models


class SpokiMessage(models.Model):
    _inherit = "spoki.message"

    attachment_ids = fields.Many2many(
        "ir.attachment", "spoki_message_ir_attachment_rel", "message_id", "attachment_id", string="Attachments"
    )
