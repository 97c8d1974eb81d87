"""A message of a WhatsApp channel is linked one-to-one with its ledger row."""

from odoo import fields, models


class MailMessage(models.Model):
    _inherit = "mail.message"

    spoki_message_id = fields.Many2one("spoki.message", "WhatsApp message", index="btree_not_null", ondelete="set null")
