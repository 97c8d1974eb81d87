"""The Discuss channel of a chat: created lazily (the first incoming message,
an agent opening the chat), members = the assigned agent, else the account's
customer-care team; other agents of the company may join."""

from odoo import fields, models
from odoo.fields import Command


class SpokiChat(models.Model):
    _inherit = "spoki.chat"

    channel_id = fields.Many2one(
        "discuss.channel", "Discuss channel", readonly=True, copy=False, index="btree_not_null"
    )

    # ------------------------------------------------------------
    # CHANNEL
    # ------------------------------------------------------------

    def _spoki_channel_partners(self):
        """Who follows the chat in Discuss: the assigned agent, else the team."""
        self.ensure_one()
        users = self.sudo().user_id or self.sudo().account_id.team_user_ids
        return users.filtered(lambda u: u.active and not u.share).partner_id

    def _get_channel(self):
        """The ``discuss.channel`` of each chat in ``self``, created when
        missing (named after the contact and number, type ``whatsapp``)."""
        Channel = self.env["discuss.channel"].sudo()
        user = self.env.user
        creator = user.partner_id if user._is_internal() and not self.env.su else self.env["res.partner"]
        for chat in self.sudo().filtered(lambda c: not c.channel_id):
            partners = chat._spoki_channel_partners() | creator
            channel = Channel.with_context(install_mode=True).create(
                {
                    "name": chat.display_name,
                    "channel_type": "whatsapp",
                    "spoki_chat_id": chat.id,
                    "channel_member_ids": [Command.create({"partner_id": pid}) for pid in partners.ids],
                }
            )
            chat.channel_id = channel
        return self.sudo().channel_id.with_env(self.env)

    def _spoki_sync_channel_members(self):
        """Add the (new) assignee — or the team of an unassigned chat — to the
        channel; nobody is removed (others may have joined)."""
        for chat in self.sudo().filtered("channel_id"):
            missing = chat._spoki_channel_partners() - chat.channel_id.channel_member_ids.partner_id
            if missing:
                chat.channel_id._add_members(partners=missing, post_joined_message=False)

    def _spoki_join_channel(self):
        """The current agent (who may read the chat) joins its channel."""
        self.ensure_one()
        self.check_access("read")
        channel = self._get_channel().sudo()
        partner = self.env.user.partner_id
        if partner not in channel.channel_member_ids.partner_id:
            channel._add_members(partners=partner, post_joined_message=False)
        return channel

    def action_open_channel(self):
        """Open the chat in Discuss (joining its channel), after showing the
        recent ledger rows not mirrored yet (a campaign the customer got)."""
        self.ensure_one()
        channel = self._spoki_join_channel()
        self.env["spoki.message"].sudo()._spoki_backfill(self.sudo())
        return {
            "type": "ir.actions.client",
            "tag": "mail.action_discuss",
            "name": channel.name,
            "params": {"active_id": f"discuss.channel_{channel.id}"},
            "context": {"active_id": f"discuss.channel_{channel.id}"},
        }

    def _spoki_open_chat_window(self):
        """ "Go to chat" from anywhere: the chat window of the channel opens
        over the current screen (client action ``spoki_whatsapp.open_chat``)."""
        self.ensure_one()
        channel = self._spoki_join_channel()
        self.env["spoki.message"].sudo()._spoki_backfill(self.sudo())
        return {
            "type": "ir.actions.client",
            "tag": "spoki_whatsapp.open_chat",
            "params": {"channel_id": channel.id},
        }

    def _spoki_mirror_touched(self, message):
        """Called by ``_touch``: a message of the chat (incoming, or sent from
        the chat form, an automation…) appears in its channel."""
        self.env["spoki.message"].sudo().browse(message.ids)._spoki_mirror()

    def action_template_dialog(self):
        """The template picker of the Discuss composer (outside the window):
        the chat's template composer with the preview for the contact and the
        values it misses."""
        self.ensure_one()
        self.check_access("write")
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Send a template"),
            "res_model": "spoki.chat",
            "res_id": self.id,
            "view_mode": "form",
            "views": [(self.env.ref("spoki_whatsapp.spoki_chat_view_form_template").id, "form")],
            "target": "new",
        }
