from odoo import api, fields, models


class SpokiTemplateTranslationButton(models.Model):
    """The text of one of the template's buttons in a translation (the
    English "Confirm" of the Italian "Conferma"). The kind of button, its link
    or number and its position are the template's: a translation has exactly
    the template's buttons (created with the translation or the button, the
    text copied from the template's as a start), with its own texts, checked
    per language by the translation (tools/template_rules.py). Frozen with its
    template once approval is requested."""

    _name = "spoki.template.translation.button"
    _description = "WhatsApp template button text in a translation"
    _order = "translation_id, sequence, button_id"
    _rec_name = "text"

    translation_id = fields.Many2one("spoki.template.translation", required=True, ondelete="cascade", index=True)
    button_id = fields.Many2one("spoki.template.button", "Button", required=True, ondelete="cascade", index=True)
    template_id = fields.Many2one(related="translation_id.template_id", store=True, index=True)
    sequence = fields.Integer(related="button_id.sequence", store=True)
    button_type = fields.Selection(related="button_id.button_type")
    value = fields.Char(related="button_id.value")
    original_text = fields.Char("Main text", related="button_id.text")
    text = fields.Char(required=True, help="The button's text in this language: at most 25 characters, no emoji.")

    _sql_constraints = [
        (
            "translation_button_uniq",
            "unique(translation_id, button_id)",
            "A translation has one text per button.",
        ),
    ]

    @api.constrains("text")
    def _check_text(self):
        """Each language's button texts follow WhatsApp's rules (checked with
        the whole translation, naming its language)."""
        self.translation_id._check_lang_body()

    @api.model_create_multi
    def create(self, vals_list):
        translations = self.env["spoki.template.translation"].browse(
            {vals.get("translation_id") for vals in vals_list} - {None, False}
        )
        translations.template_id._check_editable()
        return super().create(vals_list)

    def write(self, vals):
        self.template_id._check_editable()
        return super().write(vals)

    def unlink(self):
        self.template_id.exists()._check_editable()
        return super().unlink()
