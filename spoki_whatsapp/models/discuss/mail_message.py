"""A message of a WhatsApp channel is linked one-to-one with its ledger row;
its ticks are the ledger's state."""

from odoo import fields, models

from odoo.addons.mail.tools.discuss import Store


class MailMessage(models.Model):
    _inherit = "mail.message"

    message_type = fields.Selection(
        selection_add=[("whatsapp_message", "WhatsApp")], ondelete={"whatsapp_message": "set default"}
    )
    spoki_message_id = fields.Many2one("spoki.message", "WhatsApp message", index="btree_not_null", ondelete="set null")

    _sql_constraints = [
        ("spoki_message_uniq", "unique(spoki_message_id)", "A WhatsApp message is shown by one Discuss message."),
    ]

    def _to_store(self, store: Store, /, *, fields=None, **kwargs):
        super()._to_store(store, fields=fields, **kwargs)
        # sudo: spoki.message - the state of the row shown by an accessible message
        for message in self.sudo().filtered("spoki_message_id"):
            store.add(message.with_env(self.env), message.spoki_message_id._spoki_tick_values())
