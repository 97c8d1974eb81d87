from odoo import api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.base.models.res_partner import _lang_get

from ..tools import template_rules


class SpokiTemplateTranslation(models.Model):
    """One more language of a template, requested for approval together with
    it. Frozen with its template once approval is requested."""

    _name = "spoki.template.translation"
    _description = "WhatsApp template translation"
    _order = "template_id, lang, id"
    _rec_name = "lang"

    template_id = fields.Many2one("spoki.template", required=True, ondelete="cascade", index=True)
    lang = fields.Selection(_lang_get, "Language", required=True)
    body = fields.Text("Message", required=True)
    preview_html = fields.Html(
        "Preview",
        compute="_compute_preview_html",
        sanitize=False,  # template_rules.preview_html escapes the text itself
    )

    _sql_constraints = [
        ("template_lang_uniq", "unique(template_id, lang)", "A template has one translation per language."),
    ]

    @api.depends("body", "template_id.button_ids.text", "template_id.button_ids.button_type")
    def _compute_preview_html(self):
        for translation in self:
            buttons = translation.template_id._buttons_data() if translation.template_id else []
            translation.preview_html = template_rules.preview_html(translation.body, buttons)

    @api.constrains("lang", "body", "template_id")
    def _check_lang_body(self):
        for translation in self:
            if translation.lang == translation.template_id.lang:
                raise ValidationError(
                    self.env._(
                        "Translation: %(lang)s is already the main language of “%(name)s”.",
                        lang=translation.lang,
                        name=translation.template_id.name,
                    )
                )
            template = translation.template_id
            errors = template_rules.validate_body(translation.body)
            for error in errors:
                error.params["lang"] = translation.lang
            errors += template_rules.validate_placeholders(translation.body, template._known_placeholder_names())
            if errors:
                raise ValidationError(template._format_rule_errors(errors))

    @api.model_create_multi
    def create(self, vals_list):
        templates = self.env["spoki.template"].browse({vals.get("template_id") for vals in vals_list} - {None, False})
        templates._check_editable()
        return super().create(vals_list)

    def write(self, vals):
        self.template_id._check_editable()
        if vals.get("template_id"):
            self.env["spoki.template"].browse(vals["template_id"])._check_editable()
        return super().write(vals)

    def unlink(self):
        self.template_id.exists()._check_editable()
        return super().unlink()
