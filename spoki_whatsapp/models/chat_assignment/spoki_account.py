"""The account's customer-care team (who gets unassigned chats) and how new chats are assigned."""

from odoo import fields, models
from odoo.tools import SQL

CHAT_ASSIGNMENT = [
    ("salesperson_then_round_robin", "Contact's salesperson, else round-robin over the team"),
    ("round_robin", "Round-robin over the team"),
    ("manual", "Manual"),
]


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
    chat_assignment = fields.Selection(
        CHAT_ASSIGNMENT,
        "Assign new chats to",
        default="salesperson_then_round_robin",
        required=True,
        help="Who becomes responsible for a new chat: the contact's salesperson (when they are a WhatsApp agent "
        "of the account's company), else the team member who was assigned a chat least recently; or nobody "
        "(agents take or reassign chats by hand).",
    )

    def _chat_assignable_users(self, users):
        """``users`` who may handle this account's chats: active WhatsApp
        agents allowed in the account's company."""
        self.ensure_one()
        group = self.env.ref("spoki_whatsapp.group_spoki_user")
        return users.sudo().filtered(
            lambda user: (
                user.active and not user.share and self.company_id in user.company_ids and group in user.groups_id
            )
        )

    def _chat_default_user(self, partner, taken=None):
        """The user a new chat with ``partner`` is assigned to (empty when the
        account assigns by hand or has nobody to assign to). ``taken``: {user
        id: count} of assignments made in the same batch, updated."""
        self.ensure_one()
        Users = self.env["res.users"]
        if self.chat_assignment == "manual":
            return Users
        if self.chat_assignment == "salesperson_then_round_robin" and partner:
            salesperson = self._chat_assignable_users(partner.sudo().user_id)
            if salesperson:
                return salesperson
        team = self._chat_assignable_users(self.team_user_ids)
        if not team:
            return Users
        user = team.browse(self._chat_least_recently_assigned(team.ids, taken or {}))
        if taken is not None:
            taken[user.id] = taken.get(user.id, 0) + 1
        return user

    def _chat_least_recently_assigned(self, user_ids, taken):
        """Round-robin: the team member whose last chat of this account was
        assigned the longest ago (never first; then by id)."""
        self.env["spoki.chat"].flush_model(["account_id", "user_id", "user_assigned_date"])
        never = (fields.Datetime.to_datetime("1970-01-01"), 0)
        last = {
            user_id: (assigned or never[0], chat_id)
            for user_id, assigned, chat_id in self.env.execute_query(
                SQL(
                    """SELECT DISTINCT ON (user_id) user_id, user_assigned_date, id FROM spoki_chat
                        WHERE account_id = %s AND user_id = ANY(%s)
                     ORDER BY user_id, user_assigned_date DESC NULLS LAST, id DESC""",
                    self.id,
                    user_ids,
                )
            )
        }
        return min(user_ids, key=lambda uid: (taken.get(uid, 0), last.get(uid) or never, uid))
