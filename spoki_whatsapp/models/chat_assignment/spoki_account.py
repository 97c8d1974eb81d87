"""The account's customer-care team (who gets unassigned chats)."""

from odoo import fields, models


class SpokiAccount(models.Model):
    _inherit = "spoki.account"

    team_user_ids = fields.Many2many(
        "res.users",
        "spoki_account_team_user_rel",
        "account_id",
        "user_id",
        string="Customer-care team",
        help="Agents who receive this account's chats: new chats are assigned among them and they are notified "
        "of messages in unassigned chats.",
    )
