"""Chats attributed to customer-care agents and tagged (guide: "Tag")."""

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ...tools.waiting import format_waiting


class SpokiChat(models.Model):
    _inherit = "spoki.chat"

    user_id = fields.Many2one(
        "res.users",
        "Assigned to",
        index="btree_not_null",
        compute="_compute_user_id",
        store=True,
        readonly=False,
        help="The agent responsible for the chat. A new chat goes to the contact's salesperson or round-robin to "
        "the account's customer-care team (see the account's assignment setting).",
    )
    user_assigned_date = fields.Datetime("Assigned on", compute="_compute_user_assigned_date", store=True)
    tag_ids = fields.Many2many(
        "res.partner.category",
        "spoki_chat_res_partner_category_rel",
        "chat_id",
        "category_id",
        string="Tags",
        compute="_compute_tag_ids",
        inverse="_inverse_tag_ids",
        store=True,
        readonly=False,
        help="Contact tags: a tag given to the chat is also given to its contact.",
    )
    waiting_since = fields.Datetime(
        "Waiting since",
        compute="_compute_waiting_since",
        store=True,
        help="The customer's first message not answered yet.",
    )
    waiting_for = fields.Char("Waiting for", compute="_compute_waiting_for")

    # ------------------------------------------------------------
    # COMPUTE
    # ------------------------------------------------------------

    @api.depends("account_id", "partner_id")
    def _compute_user_id(self):
        """Assign a new chat (and a chat linked to its contact later while
        nobody has it) by the account's rule; an assigned chat keeps its agent."""
        taken = {}
        for chat in self:
            if chat.user_id or not chat.account_id:
                chat.user_id = chat.user_id
                continue
            chat.user_id = chat.account_id._chat_default_user(chat.partner_id, taken)

    @api.depends("user_id")
    def _compute_user_assigned_date(self):
        now = fields.Datetime.now()
        for chat in self:
            chat.user_assigned_date = now if chat.user_id else False

    def _compute_tag_ids(self):
        # no dependencies: computed once, empty, when a chat is created without tags
        for chat in self:
            chat.tag_ids = chat.tag_ids

    def _inverse_tag_ids(self):
        for chat in self.filtered("partner_id"):
            chat.partner_id.sudo().write({"category_id": [(4, tag.id) for tag in chat.tag_ids]})

    @api.depends("last_direction", "last_message_date")
    def _compute_waiting_since(self):
        """First incoming message after the last outgoing one (ledger)."""
        waiting = self.filtered(lambda chat: chat.last_direction == "incoming" and chat.id)
        (self - waiting).waiting_since = False
        if not waiting:
            return
        self.env["spoki.message"].flush_model(["account_id", "wa_phone", "direction", "message_date"])
        rows = self.env.execute_query(
            SQL(
                """SELECT c.id, (SELECT MIN(m.message_date) FROM spoki_message m
                                   WHERE m.account_id = c.account_id AND m.wa_phone = c.wa_phone
                                     AND m.direction = 'incoming'
                                     AND m.message_date > COALESCE(
                                         (SELECT MAX(o.message_date) FROM spoki_message o
                                           WHERE o.account_id = c.account_id AND o.wa_phone = c.wa_phone
                                             AND o.direction = 'outgoing'), '-infinity'))
                     FROM spoki_chat c WHERE c.id = ANY(%s)""",
                waiting.ids,
            )
        )
        since = dict(rows)
        for chat in waiting:
            chat.waiting_since = since.get(chat.id) or chat.last_message_date

    @api.depends("waiting_since", "needs_reply")
    def _compute_waiting_for(self):
        now = self.env["spoki.message"]._now()
        units = {
            "day": self.env._("d"),
            "hour": self.env._("h"),
            "minute": self.env._("min"),
            "less": self.env._("< 1 min"),
        }
        for chat in self:
            if chat.needs_reply and chat.waiting_since:
                chat.waiting_for = format_waiting((now - chat.waiting_since).total_seconds(), units)
            else:
                chat.waiting_for = False

    @api.constrains("user_id", "account_id")
    def _check_user_id(self):
        for chat in self.filtered("user_id"):
            if chat.account_id.company_id not in chat.user_id.sudo().company_ids:
                raise ValidationError(
                    self.env._(
                        "%(user)s can't handle chats of %(company)s: assign a user of that company.",
                        user=chat.user_id.name,
                        company=chat.account_id.company_id.name,
                    )
                )

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_reassign(self):
        """Open the reassign dialog for these chats."""
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Reassign chats"),
            "res_model": "spoki.chat.reassign",
            "view_mode": "form",
            "target": "new",
            "context": {"default_chat_ids": [(6, 0, self.ids)]},
        }

    def action_assign_to_me(self):
        self.check_access("write")
        self.write({"user_id": self.env.user.id})
        return True

    def action_add_tags(self, tag_ids):
        """Tag these chats (and their contacts) — for agents who may write the chats."""
        self.check_access("write")
        tags = self.env["res.partner.category"].browse(tag_ids).exists()
        tags.check_access("read")
        self._add_tags(tags)
        return True

    # ------------------------------------------------------------
    # PRIVATE
    # ------------------------------------------------------------

    def _add_tags(self, tags):
        """Add ``tags`` (res.partner.category) to the chats and to their
        contacts. No access check: the caller did it."""
        if not tags or not self:
            return
        self.sudo().write({"tag_ids": [(4, tag.id) for tag in tags]})
