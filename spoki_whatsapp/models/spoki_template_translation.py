from odoo import Command, api, fields, models
from odoo.exceptions import ValidationError

from ..tools import template_rules
from .spoki_template import provider_lang_code


class SpokiTemplateTranslation(models.Model):
    """One more language of a template, requested for approval together with
    it. Frozen with its template once approval is requested."""

    _name = "spoki.template.translation"
    _description = "WhatsApp template translation"
    _order = "template_id, lang, id"
    _rec_name = "lang"

    template_id = fields.Many2one("spoki.template", required=True, ondelete="cascade", index=True)
    lang = fields.Selection(
        lambda self: self.env["spoki.template"]._lang_selection(),
        "Language",
        required=True,
        help="From WhatsApp's own list of template languages, whatever languages are installed in Odoo.",
    )
    body = fields.Text("Message", required=True)
    button_text_ids = fields.One2many(
        "spoki.template.translation.button",
        "translation_id",
        "Buttons",
        help="The template's buttons with their texts in this language (the link or number stays the template's).",
    )
    preview_html = fields.Html(
        "Preview",
        compute="_compute_preview_html",
        sanitize=False,  # template_rules.preview_html escapes the text itself
    )

    _sql_constraints = [
        ("template_lang_uniq", "unique(template_id, lang)", "A template has one translation per language."),
    ]

    @api.depends(
        "body",
        "button_text_ids.text",
        "template_id.button_ids.text",
        "template_id.button_ids.button_type",
        "template_id.button_ids.value",
    )
    def _compute_preview_html(self):
        for translation in self:
            translation.preview_html = template_rules.preview_html(translation.body, translation._buttons_data())

    @api.onchange("template_id")
    def _onchange_template_buttons(self):
        """A new translation starts with the template's buttons and texts."""
        for translation in self:
            template = translation.template_id
            if translation.button_text_ids or not template:
                continue
            buttons = template.button_ids.filtered(lambda b: b._origin.id).sorted(lambda b: (b.sequence, b._origin.id))
            translation.button_text_ids = [
                Command.create({"button_id": button._origin.id, "text": button.text}) for button in buttons
            ]

    @api.constrains("lang", "body", "template_id", "button_text_ids")
    def _check_lang_body(self):
        for translation in self:
            if provider_lang_code(translation.lang) == provider_lang_code(translation.template_id.lang):
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
            errors += template_rules.validate_translation_buttons(
                template._buttons_data(), translation._buttons_data(), translation.lang
            )
            if errors:
                raise ValidationError(template._format_rule_errors(errors))

    @api.model_create_multi
    def create(self, vals_list):
        templates = self.env["spoki.template"].browse({vals.get("template_id") for vals in vals_list} - {None, False})
        templates._check_editable()
        translations = super().create(vals_list)
        translations._sync_button_texts()
        return translations

    def write(self, vals):
        self.template_id._check_editable()
        if vals.get("template_id"):
            self.env["spoki.template"].browse(vals["template_id"])._check_editable()
        return super().write(vals)

    def unlink(self):
        self.template_id.exists()._check_editable()
        return super().unlink()

    def _sync_button_texts(self):
        """Give each translation a text for every button of its template (the
        template's text, to be translated); texts of removed buttons go with
        them (cascade)."""
        vals_list = []
        for translation in self:
            done = translation.button_text_ids.button_id
            for button in translation.template_id.button_ids - done:
                vals_list.append({"translation_id": translation.id, "button_id": button.id, "text": button.text})
        if vals_list:
            self.env["spoki.template.translation.button"].create(vals_list)

    def _buttons_data(self):
        """The template's buttons with this translation's texts
        (``{'type', 'text', 'value'}``, in the template's order); a button
        without a text of its own yet shows the template's."""
        self.ensure_one()
        texts = {line.button_id: line.text for line in self.button_text_ids}
        structure = self.template_id.button_ids.sorted(lambda b: (b.sequence, b._origin.id or b.id or 0))
        return [
            {
                "type": button.button_type,
                "text": texts.get(button, texts.get(button._origin)) or button.text or "",
                "value": button.value or "",
            }
            for button in structure
        ]
