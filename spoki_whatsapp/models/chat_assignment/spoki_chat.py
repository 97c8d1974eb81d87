"""Chats attributed to customer-care agents and tagged (guide: "Tag")."""

from odoo import fields, models


class SpokiChat(models.Model):
    _inherit = "spoki.chat"

    user_id = fields.Many2one("res.users", "Assigned to", index="btree_not_null")
    tag_ids = fields.Many2many(
        "res.partner.category", "spoki_chat_res_partner_category_rel", "chat_id", "category_id", string="Tags"
    )
