from odoo import models

from .refresh import notify_refresh


class SpokiTemplate(models.Model):
    _inherit = "spoki.template"

    def _spoki_live_notify(self):
        """Open template forms and lists reload (review state)."""
        notify_refresh(self)
