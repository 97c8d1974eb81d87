"""Lists as automation triggers: "a contact enters the list"."""

from odoo import models


class SpokiList(models.Model):
    _inherit = "spoki.list"

    def _spoki_fire_entry(self, partner_ids):
        """Every path adding members calls this once with the contacts it
        really added (rows inserted now): the list's rules run once for them
        all (see base.automation ``_spoki_fire_list_entry``)."""
        self.ensure_one()
        if partner_ids:
            self.env["base.automation"]._spoki_fire_list_entry(self, list(partner_ids))
