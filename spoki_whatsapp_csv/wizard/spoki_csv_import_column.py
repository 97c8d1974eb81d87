from odoo import fields, models


class SpokiCsvImportColumn(models.TransientModel):
    _name = "spoki.csv.import.column"
    _description = "Manage CSV: file column"
    _order = "sequence"

    wizard_id = fields.Many2one("spoki.csv.import", required=True, ondelete="cascade")
    sequence = fields.Integer("Position", help="0-based position of the column in the file.")
    name = fields.Char("Column", required=True)
    sample = fields.Char("Example values")
