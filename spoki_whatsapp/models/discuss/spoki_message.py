"""The Discuss message showing a ledger row (one-to-one; created when the
conversation becomes a chat, not up front for campaigns)."""

from odoo import fields, models


class SpokiMessage(models.Model):
    _inherit = "spoki.message"

    mail_message_id = fields.Many2one(
        "mail.message", "Discuss message", readonly=True, copy=False, index="btree_not_null"
    )
