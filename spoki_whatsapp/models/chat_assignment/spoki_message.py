"""Tags on individual messages (guide: "Promo Giugno", "interessato")."""

from odoo import fields, models


class SpokiMessage(models.Model):
    _inherit = "spoki.message"

    tag_ids = fields.Many2many(
        "res.partner.category", "spoki_message_res_partner_category_rel", "message_id", "category_id", string="Tags"
    )
