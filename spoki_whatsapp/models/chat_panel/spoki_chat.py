"""The chat panel of a WhatsApp channel in Discuss: the chat's assignee and
tags, reassigned and tagged from the chat window, and sent again to the
channel's members over the bus after each change (no reload)."""

from odoo import models
from odoo.exceptions import UserError

from ..live.refresh import notify_refresh


class SpokiChat(models.Model):
    _inherit = "spoki.chat"

    # ------------------------------------------------------------
    # PANEL DATA (added to the channel's chat info)
    # ------------------------------------------------------------

    def _spoki_panel_info(self):
        """Assignee and tags of the chat, for the Discuss chat panel."""
        self.ensure_one()
        chat = self.sudo()
        return {
            "whatsapp_user": {"id": chat.user_id.id, "name": chat.user_id.name} if chat.user_id else False,
            "whatsapp_tags": _tag_values(chat.tag_ids),
        }

    def _spoki_send_panel(self):
        """Assignee or tags changed: the members' open chats show it."""
        for chat in self.sudo().filtered("channel_id"):
            chat.channel_id._spoki_send_chat_info()
        notify_refresh(self)

    def _spoki_live_touched(self):
        """A message was received or queued: open chats lists reload."""
        notify_refresh(self)

    # ------------------------------------------------------------
    # ACTIONS (from the chat panel)
    # ------------------------------------------------------------

    def spoki_panel_choices(self):
        """The agents this chat can be given to (WhatsApp agents of its
        company, as the reassign dialog offers) and the contact tags."""
        self.ensure_one()
        self.check_access("read")
        group = self.env.ref("spoki_whatsapp.group_spoki_user")
        users = self.account_id.sudo()._chat_assignable_users(
            self.env["res.users"].sudo().search([("share", "=", False), ("groups_id", "in", group.ids)])
        )
        tags = self.env["res.partner.category"].search([], limit=200)
        return {
            "users": [{"id": user.id, "name": user.name} for user in users.sorted("name")],
            "tags": _tag_values(tags),
        }

    def action_reassign_to(self, user_id):
        """Give the chats to ``user_id`` (False: unassign), within their company."""
        self.check_access("write")
        user = self.env["res.users"].browse(user_id or [])
        for chat in self:
            if user and not chat.account_id.sudo()._chat_assignable_users(user):
                raise UserError(
                    self.env._(
                        "%(user)s isn't a WhatsApp agent of %(company)s.",
                        user=user.sudo().name,
                        company=chat.sudo().company_id.name,
                    )
                )
        self.write({"user_id": user.id})
        return True

    def action_remove_tags(self, tag_ids):
        """Untag these chats (the contact keeps its tags) — for agents who may
        write the chats, like ``action_add_tags``."""
        self.check_access("write")
        tags = self.env["res.partner.category"].browse(tag_ids).exists()
        tags.check_access("read")
        if tags and self:
            self.sudo().write({"tag_ids": [(3, tag.id) for tag in tags]})
        return True


def _tag_values(tags):
    return [{"id": tag.id, "name": tag.name, "color": tag.color or 0} for tag in tags.sorted(lambda t: (t.name, t.id))]
