"""The Discuss channel of a chat."""

from odoo import fields, models


class SpokiChat(models.Model):
    _inherit = "spoki.chat"

    channel_id = fields.Many2one(
        "discuss.channel", "Discuss channel", readonly=True, copy=False, index="btree_not_null"
    )
