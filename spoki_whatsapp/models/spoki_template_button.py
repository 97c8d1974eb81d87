from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..tools import template_rules
from ..tools.phone import normalize_phone

BUTTON_TYPES = [("url", "Link"), ("phone", "Call"), ("quick_reply", "Quick reply")]


class SpokiTemplateButton(models.Model):
    """A chat button under a template: link (URL), call (phone number) or
    quick reply (the customer answers with its text). Limits (count, text
    length, order) are checked on the whole list by the template, see
    tools/template_rules.py. Frozen with its template once approval is
    requested."""

    _name = "spoki.template.button"
    _description = "WhatsApp template button"
    _order = "template_id, sequence, id"
    _rec_name = "text"

    template_id = fields.Many2one("spoki.template", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(default=10)
    button_type = fields.Selection(BUTTON_TYPES, "Type", required=True, default="quick_reply")
    text = fields.Char(required=True, help="At most 25 characters, no emoji.")
    value = fields.Char(
        help="Link: the http(s) address. Call: the number with its country code (+39…). Quick reply: empty."
    )

    @api.constrains("button_type", "text", "value", "template_id")
    def _check_rules(self):
        """Rules of each button on its own (text, emoji, link, number); the
        rules on the whole list (count, grouping) are checked by the template
        (constraint on button_ids, and again when approval is requested), so
        that reordering buttons in the form never trips on an intermediate
        order."""
        for button in self:
            template = button.template_id
            buttons = template.button_ids.sorted(lambda b: (b.sequence, b.id))
            index = list(buttons).index(button) + 1 if button in buttons else 1
            errors = [
                error
                for error in template_rules.validate_buttons(
                    [{"type": button.button_type, "text": button.text or "", "value": button.value or ""}]
                )
                if error.code not in ("button_count", "button_order")
            ]
            for error in errors:
                if "index" in error.params:
                    error.params["index"] = index
            if errors:
                raise ValidationError(template._format_rule_errors(errors))

    @api.model_create_multi
    def create(self, vals_list):
        templates = self.env["spoki.template"].browse({vals.get("template_id") for vals in vals_list} - {None, False})
        templates._check_editable()
        for vals in vals_list:
            self._normalize_vals(vals, vals.get("button_type"))
        buttons = super().create(vals_list)
        buttons.template_id.translation_ids._sync_button_texts()
        return buttons

    def write(self, vals):
        self.template_id._check_editable()
        if vals.get("template_id"):
            self.env["spoki.template"].browse(vals["template_id"])._check_editable()
        if "value" in vals or "button_type" in vals:
            for button in self:
                super(SpokiTemplateButton, button).write(
                    self._normalize_vals(dict(vals), vals.get("button_type", button.button_type), button)
                )
            return True
        return super().write(vals)

    def unlink(self):
        self.template_id.exists()._check_editable()
        return super().unlink()

    def _normalize_vals(self, vals, button_type, button=None):
        """Call buttons: the number in E.164 (+393331234567) when it can be
        read (the company's country for numbers without prefix); quick
        replies: no value."""
        if button_type == "quick_reply":
            vals["value"] = False
        elif button_type == "phone":
            raw = vals["value"] if "value" in vals else (button.value if button else False)
            if raw:
                region = self.env.company.country_id.code
                e164, valid, _reason = normalize_phone(raw, region)
                if valid:
                    vals["value"] = e164
        elif "value" in vals and vals["value"]:
            vals["value"] = vals["value"].strip()
        return vals
