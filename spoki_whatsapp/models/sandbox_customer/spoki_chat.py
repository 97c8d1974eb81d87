"""Sandbox: "Play the customer" on a chat (managers and agents)."""

from odoo import models
from odoo.exceptions import UserError


class SpokiChat(models.Model):
    _inherit = "spoki.chat"

    def _sandbox_last_template(self):
        """The template of the last template message sent to this chat's
        number (the one whose quick-reply buttons the customer can tap)."""
        last = self._last_outgoing([("template_id", "!=", False)])
        return last.template_id

    def action_sandbox_play_customer(self):
        """Sandbox accounts only: open "Play the customer" (reply, tap a
        quick-reply button, send STOP, send a photo) for this chat."""
        self.ensure_one()
        self.check_access("write")
        if not self.account_id.sudo()._provider_class().simulated:
            raise UserError(self.env._("Only sandbox accounts can simulate incoming messages."))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Play the customer"),
            "res_model": "spoki.chat.play.customer",
            "view_mode": "form",
            "target": "new",
            "context": {"default_chat_id": self.id},
        }
