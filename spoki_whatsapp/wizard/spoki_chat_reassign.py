from odoo import api, fields, models


class SpokiChatReassign(models.TransientModel):
    """Give chats to another agent of their company (or to nobody)."""

    _name = "spoki.chat.reassign"
    _description = "Reassign WhatsApp chats"

    chat_ids = fields.Many2many("spoki.chat", string="Chats", required=True)
    allowed_user_ids = fields.Many2many("res.users", compute="_compute_allowed_user_ids")
    user_id = fields.Many2one(
        "res.users",
        "Assign to",
        domain="[('id', 'in', allowed_user_ids)]",
        help="Leave empty to unassign: the account's team is notified of new messages.",
    )

    @api.depends("chat_ids")
    def _compute_allowed_user_ids(self):
        """WhatsApp agents allowed in every company of the chats."""
        group = self.env.ref("spoki_whatsapp.group_spoki_user")
        for wizard in self:
            users = self.env["res.users"].search([("share", "=", False), ("groups_id", "in", group.ids)])
            companies = wizard.chat_ids.company_id
            wizard.allowed_user_ids = users.filtered(lambda user, companies=companies: companies <= user.company_ids)

    def action_apply(self):
        self.ensure_one()
        # every chat of the dialog, also those the user can't read (refused, not skipped)
        chats = self.env["spoki.chat"].browse(self.sudo().chat_ids.ids)
        chats.check_access("write")
        chats.write({"user_id": self.user_id.id})
        return {"type": "ir.actions.act_window_close"}
