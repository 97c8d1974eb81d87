from odoo import models

from .refresh import notify_refresh


class SpokiCampaign(models.Model):
    _inherit = "spoki.campaign"

    def _spoki_live_notify(self):
        """Open campaign forms and lists reload (counters, progress, state)."""
        notify_refresh(self)
