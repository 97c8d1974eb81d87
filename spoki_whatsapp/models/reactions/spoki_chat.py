"""Sandbox demo: the customer of a chat reacts to our last message."""

from odoo import models
from odoo.exceptions import AccessError, UserError


class SpokiChat(models.Model):
    _inherit = "spoki.chat"

    def action_sandbox_simulate_reaction(self):
        """Sandbox accounts only, WhatsApp managers only: the customer reacts
        👍 to the last message we sent them (a webhook built by the sandbox,
        handled like a real one)."""
        self.ensure_one()
        self.check_access("write")
        if not self.env.user.has_group("spoki_whatsapp.group_spoki_manager"):
            raise AccessError(self.env._("Only WhatsApp managers can simulate incoming messages."))
        last = self._last_outgoing([("provider_message_id", "!=", False)])
        if not last:
            raise UserError(self.env._("Nothing was sent to this contact yet: there is nothing to react to."))
        self._sandbox_simulate_incoming("reaction", "👍", reaction_to=last.provider_message_id)
        return True
