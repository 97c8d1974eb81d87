from odoo import api, fields, models


class SpokiCampaignPreflightLine(models.TransientModel):
    """One group of a campaign's recipients: those receiving the same
    translation, with the message rendered for a sample contact of the group."""

    _name = "spoki.campaign.preflight.line"
    _description = "WhatsApp campaign pre-flight: a language group"
    _order = "recipient_count desc, id"

    wizard_id = fields.Many2one("spoki.campaign.preflight", required=True, ondelete="cascade")
    lang = fields.Char("Language code", readonly=True)
    lang_name = fields.Char("Language", compute="_compute_lang_name")
    recipient_count = fields.Integer("Recipients", readonly=True)
    missing_count = fields.Integer("Missing values", readonly=True, help="Left out: dynamic fields without a value.")
    sample_partner_id = fields.Many2one("res.partner", "Sample contact", readonly=True)
    preview_html = fields.Html("Message", readonly=True, sanitize=False)  # template_rules.preview_html escapes

    @api.depends("lang", "recipient_count")
    def _compute_display_name(self):
        for line in self:
            line.display_name = self.env._(
                "%(lang)s (%(count)s recipients)", lang=line.lang_name or "", count=line.recipient_count
            )

    @api.depends("lang")
    def _compute_lang_name(self):
        Lang = self.env["res.lang"].sudo().with_context(active_test=False)
        names = {lang.code: lang.name for lang in Lang.search([("code", "in", self.mapped("lang"))])}
        for line in self:
            line.lang_name = names.get(line.lang, line.lang or "")
