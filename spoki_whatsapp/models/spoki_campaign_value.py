from odoo import fields, models


class SpokiCampaignValue(models.Model):
    """Value of a dynamic field for every message of a campaign: the payload
    of OFF fields (not stored on contacts), e.g. the LINK of a promotion.
    Also accepted for ON fields, where it overrides the contacts' values."""

    _name = "spoki.campaign.value"
    _description = "WhatsApp campaign value"
    _order = "campaign_id, id"

    campaign_id = fields.Many2one("spoki.campaign", required=True, ondelete="cascade", index=True)
    field_id = fields.Many2one(
        "spoki.dynamic.field",
        "Dynamic field",
        required=True,
        ondelete="restrict",
        domain="[('builtin', '=', False)]",
    )
    field_type = fields.Selection(related="field_id.field_type")
    on_contacts = fields.Boolean(related="field_id.on_contacts")
    value = fields.Char(required=True, help="Dates as YYYY-MM-DD, date and time as YYYY-MM-DD HH:MM (UTC).")

    _sql_constraints = [
        ("campaign_field_uniq", "unique(campaign_id, field_id)", "A dynamic field has one value per campaign."),
    ]
