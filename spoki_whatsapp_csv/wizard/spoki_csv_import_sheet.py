from odoo import fields, models


class SpokiCsvImportSheet(models.TransientModel):
    _name = "spoki.csv.import.sheet"
    _description = "Manage CSV: workbook sheet"
    _order = "sequence"

    wizard_id = fields.Many2one("spoki.csv.import", required=True, ondelete="cascade")
    sequence = fields.Integer()
    name = fields.Char(required=True)
