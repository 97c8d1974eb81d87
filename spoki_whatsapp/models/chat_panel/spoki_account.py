"""A team change reaches the Discuss channels of the account's unassigned chats."""

from odoo import models


class SpokiAccount(models.Model):
    _inherit = "spoki.account"

    def _spoki_team_changed(self):
        """New team members join the channels of the unassigned chats (nobody
        is removed: others may have joined)."""
        chats = self.env["spoki.chat"].sudo().search([("account_id", "in", self.ids), ("user_id", "=", False)])
        chats._spoki_sync_channel_members()
