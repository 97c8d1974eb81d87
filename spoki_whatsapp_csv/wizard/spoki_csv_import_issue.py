from odoo import fields, models


class SpokiCsvImportIssue(models.TransientModel):
    """A row left out of the clean file, and why."""

    _name = "spoki.csv.import.issue"
    _description = "Manage CSV: row with a problem"
    _order = "row"

    wizard_id = fields.Many2one("spoki.csv.import", required=True, ondelete="cascade")
    row = fields.Integer("Row", help="Row number in the file, as a spreadsheet shows it.")
    kind = fields.Selection([("invalid", "Error"), ("duplicate", "Duplicate")], required=True)
    phone = fields.Char("Number")
    message = fields.Char("Reason")
    kept_row = fields.Integer("Kept row", help="For duplicates: the row that is kept for this number.")
