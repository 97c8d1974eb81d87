from odoo import api, fields, models

from ..tools import template_rules


class SpokiTemplatePreview(models.TransientModel):
    """Preview of a template rendered for one contact: the translation the
    contact would receive, with its values. Agents (read-only on templates)
    can use it."""

    _name = "spoki.template.preview"
    _description = "WhatsApp template preview for a contact"

    template_id = fields.Many2one("spoki.template", required=True, ondelete="cascade")
    preview_partner_id = fields.Many2one(
        "res.partner",
        "Contact",
        help="Contact to render the template for.",
        default=lambda self: self.env["res.partner"].search([("wa_phone_valid", "=", True)], limit=1),
    )
    lang = fields.Selection(
        lambda self: self.env["spoki.template"]._lang_selection(), "Language sent", compute="_compute_render"
    )
    body = fields.Text("Text sent", compute="_compute_render")
    preview_html = fields.Html(
        "Preview",
        compute="_compute_render",
        sanitize=False,  # template_rules.preview_html escapes text and values
    )
    missing_names = fields.Char("Missing values", compute="_compute_render")

    @api.depends("template_id", "preview_partner_id")
    def _compute_render(self):
        for wizard in self:
            template = wizard.template_id
            if not template or not wizard.preview_partner_id:
                wizard.lang = template.lang if template else False
                wizard.body = template.body if template else False
                wizard.preview_html = (
                    template_rules.preview_html(template.body, template._buttons_data()) if template else False
                )
                wizard.missing_names = False
                continue
            rendered = template._render_for_partner(wizard.preview_partner_id)
            wizard.lang = rendered["lang"]
            wizard.body = rendered["body"]
            wizard.preview_html = template_rules.preview_html(
                rendered["body"], template._buttons_data(rendered["lang"])
            )
            wizard.missing_names = ", ".join(f"%%{name}%%" for name in rendered["missing"]) or False
