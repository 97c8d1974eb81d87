from odoo import fields, models


class SpokiCsvImportMapping(models.TransientModel):
    """One target of the import (phone, first name… or an ON dynamic field)
    and the file column that feeds it."""

    _name = "spoki.csv.import.mapping"
    _description = "Manage CSV: column mapping"
    _order = "sequence, id"

    wizard_id = fields.Many2one("spoki.csv.import", required=True, ondelete="cascade")
    sequence = fields.Integer()
    target = fields.Char(required=True, help="phone, first_name, last_name, email, language or a dynamic field name.")
    label = fields.Char("Spoki field", required=True)
    dynamic_field_id = fields.Many2one("spoki.dynamic.field", ondelete="cascade")
    required = fields.Boolean()
    column_id = fields.Many2one(
        "spoki.csv.import.column",
        "File column",
        domain="[('wizard_id', '=', wizard_id)]",
        ondelete="set null",
    )
    empty_count = fields.Integer("Empty cells", help="Rows where this column is empty (after Analyze file).")
