from odoo import models


class SpokiCampaign(models.Model):
    """The campaign's Start button opens the pre-flight (wizard
    ``spoki.campaign.preflight``), whose own Start calls ``action_start``."""

    _inherit = "spoki.campaign"

    def action_preflight(self):
        """Open the pre-flight of this campaign, its figures computed now."""
        self.ensure_one()
        wizard = self.env["spoki.campaign.preflight"].create({"campaign_id": self.id})
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Before you start"),
            "res_model": wizard._name,
            "res_id": wizard.id,
            "views": [(self.env.ref("spoki_whatsapp.spoki_campaign_preflight_view_form").id, "form")],
            "target": "new",
        }
