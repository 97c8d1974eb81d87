from odoo import fields, models


class SpokiTemplateApproval(models.TransientModel):
    """The confirmation of an approval request, opened only once the template
    passed every check (``spoki.template.action_prepare_approval``): the
    irreversible step comes after the errors, never before."""

    _name = "spoki.template.approval"
    _description = "WhatsApp template approval confirmation"

    template_id = fields.Many2one("spoki.template", required=True, ondelete="cascade")
    lang_codes = fields.Char(related="template_id.lang_codes")
    category = fields.Selection(related="template_id.category")
    preview_html = fields.Html(related="template_id.preview_html")

    def action_confirm(self):
        self.ensure_one()
        self.template_id.action_request_approval()
        return {"type": "ir.actions.act_window_close"}
