from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools.sql import create_index, drop_index

from ..tools.dynamic_values import parse_typed


class SpokiDynamicValue(models.Model):
    """Value of an ON dynamic field for one contact (see spoki.dynamic.field
    for why values live in this typed table)."""

    _name = "spoki.dynamic.value"
    _description = "WhatsApp dynamic field value"
    _order = "field_id"
    _rec_name = "field_id"

    # no index of its own: the unique (partner_id, field_id) index serves every
    # look-up by contact, and each index costs a bulk import (300,000 values)
    partner_id = fields.Many2one("res.partner", required=True, ondelete="cascade")
    field_id = fields.Many2one(
        "spoki.dynamic.field",
        "Dynamic field",
        required=True,
        ondelete="cascade",
        domain="[('on_contacts', '=', True), ('builtin', '=', False)]",
    )
    field_type = fields.Selection(related="field_id.field_type")
    value_text = fields.Char("Text")
    value_date = fields.Date("Date")
    value_datetime = fields.Datetime("Date and time")
    value_display = fields.Char("Value", compute="_compute_value_display")

    _sql_constraints = [
        ("partner_field_uniq", "unique(partner_id, field_id)", "A contact holds one value per dynamic field."),
    ]

    def init(self):
        # the index of partner_id of earlier versions (see the field)
        drop_index(self.env.cr, "spoki_dynamic_value__partner_id_index", self._table)
        # Typed lookups per field ("BIRTHDAY_DATE between …") are index scans.
        for name, column, where in (
            ("spoki_dynamic_value_field_text_idx", "value_text", "value_text IS NOT NULL"),
            ("spoki_dynamic_value_field_date_idx", "value_date", "value_date IS NOT NULL"),
            ("spoki_dynamic_value_field_datetime_idx", "value_datetime", "value_datetime IS NOT NULL"),
        ):
            create_index(self.env.cr, name, self._table, ["field_id", column], where=where)

    @api.depends("field_type", "value_text", "value_date", "value_datetime")
    def _compute_value_display(self):
        for value in self:
            if value.field_type == "date":
                value.value_display = value.value_date and fields.Date.to_string(value.value_date) or ""
            elif value.field_type == "datetime":
                value.value_display = value.value_datetime and fields.Datetime.to_string(value.value_datetime) or ""
            else:
                value.value_display = value.value_text or ""

    @api.constrains("field_id", "value_text", "value_date", "value_datetime")
    def _check_typed_value(self):
        for value in self:
            field = value.field_id
            if field.builtin or not field.on_contacts:
                raise ValidationError(
                    self.env._(
                        "%(name)s is not a dynamic field associated with contacts: contacts can't hold a value for it.",
                        name=field.name,
                    )
                )
            wrong = {
                "text": value.value_date or value.value_datetime,
                "date": value.value_text or value.value_datetime,
                "datetime": value.value_text or value.value_date,
            }[field.field_type]
            if wrong:
                raise ValidationError(
                    self.env._(
                        "%(name)s holds values of type %(type)s only.",
                        name=field.name,
                        type=dict(field._fields["field_type"]._description_selection(self.env))[field.field_type],
                    )
                )

    @api.model
    def _vals_for(self, field, raw):
        """Column values for ``raw`` in ``field``'s type, or a clear error."""
        try:
            typed = parse_typed(field.field_type, raw)
        except ValueError:
            expected = {
                "date": self.env._("a date (YYYY-MM-DD or DD/MM/YYYY)"),
                "datetime": self.env._("a date and time (YYYY-MM-DD HH:MM)"),
            }.get(field.field_type, self.env._("text"))
            raise ValidationError(
                self.env._(
                    "%(name)s expects %(expected)s, got “%(value)s”.",
                    name=field.name,
                    expected=expected,
                    value=raw,
                )
            ) from None
        return {
            "value_text": typed if field.field_type == "text" else False,
            "value_date": typed if field.field_type == "date" else False,
            "value_datetime": typed if field.field_type == "datetime" else False,
        }
