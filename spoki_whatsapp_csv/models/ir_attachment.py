from odoo import models


class IrAttachment(models.Model):
    _inherit = "ir.attachment"

    def _index(self, bin_data, file_type, checksum=None):
        # Manage CSV's clean and errors files are working files of the wizard
        # (deleted with it), never searched by their content: no copy of
        # their text (tens of MB for a big file) in index_content
        if self.env.context.get("spoki_csv_no_index"):
            return False
        return super()._index(bin_data, file_type, checksum=checksum)
