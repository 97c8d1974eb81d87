from odoo import fields, models


class SpokiConversation(models.Model):
    """A 24-hour session: opens at the first message exchanged with a number
    (either direction) when none is open; every message inside its window
    links to it."""

    _name = "spoki.conversation"
    _description = "WhatsApp conversation (24-hour session)"
    _order = "start_at desc, id desc"
    _rec_name = "wa_phone"

    account_id = fields.Many2one("spoki.account", required=True, ondelete="restrict", index=True)
    company_id = fields.Many2one(related="account_id.company_id", store=True, index=True)
    partner_id = fields.Many2one("res.partner", "Contact", ondelete="set null", index="btree_not_null")
    wa_phone = fields.Char("Number", required=True, index=True)
    start_at = fields.Datetime(required=True, index=True)
    end_at = fields.Datetime(required=True)
    opened_by = fields.Selection([("business", "Business"), ("customer", "Customer")], required=True)
    message_ids = fields.One2many("spoki.message", "conversation_id")
