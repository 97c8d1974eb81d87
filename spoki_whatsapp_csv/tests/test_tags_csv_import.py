from odoo.tests import tagged

from .common import SpokiCsvCommon, csv_bytes


@tagged("post_install", "-at_install")
class TestCsvImportMemberTags(SpokiCsvCommon):
    """Contacts imported into a list get the list's member tags (the CSV
    import adds members in SQL, not through the ORM)."""

    def test_imported_members_get_the_list_tags(self):
        tag = self.env["res.partner.category"].create({"name": "Fiera 2026"})
        fair = self.env["spoki.list"].create({"name": "Fair", "member_tag_ids": [(6, 0, tag.ids)]})
        outsider = self.env["res.partner"].create({"name": "Not in the file", "mobile": "+393470000099"})
        wizard = self._wizard(
            csv_bytes([["phone", "first name"], ["3470000031", "A"], ["3470000032", "B"]]),
            list_mode="existing",
            list_id=fair.id,
        )
        wizard.action_analyze()
        wizard.action_import()
        self.assertEqual(fair.contact_count, 2)
        self.assertEqual(tag.partner_ids, fair.partner_ids)
        self.assertNotIn(tag, outsider.category_id)
