from odoo import fields, models


class SpokiCampaign(models.Model):
    _name = "spoki.campaign"
    _description = "WhatsApp campaign"
    _inherit = ["mail.thread"]
    _order = "id desc"

    name = fields.Char(required=True, tracking=True)
    account_id = fields.Many2one("spoki.account", required=True, ondelete="restrict", index=True)
    company_id = fields.Many2one(related="account_id.company_id", store=True, index=True)
    template_id = fields.Many2one("spoki.template", ondelete="restrict")
    state = fields.Selection(
        [("draft", "Draft"), ("scheduled", "Scheduled"), ("running", "Running"), ("paused", "Paused"), ("done", "Done"), ("cancelled", "Cancelled")],
        default="draft",
        required=True,
        tracking=True,
        copy=False,
    )
