from unittest.mock import patch

import psycopg2

from odoo.tests import tagged

from odoo.addons.spoki_whatsapp.tools import template_rules

from ..wizard import spoki_csv_import
from .common import SpokiCsvCommon, csv_bytes


@tagged("post_install", "-at_install")
class TestCsvImportSpeed(SpokiCsvCommon):
    """What keeps a 100,000-row import fast (issue 15) without changing what
    it writes."""

    def _import(self, rows):
        wizard = self._wizard(csv_bytes(rows))
        wizard.action_analyze()
        wizard.action_import()
        self.assertEqual(wizard.state, "done", wizard.import_error)
        return wizard

    def _count_language_calls(self):
        calls = []
        original = template_rules.recipient_language

        def counted(*args, **kwargs):
            calls.append(args[0])
            return original(*args, **kwargs)

        return calls, patch.object(template_rules, "recipient_language", counted)

    def test_language_of_contacts_by_calling_code(self):
        """The language a contact is addressed in (wa_lang) is written with
        the contacts, from each number's calling code, not recomputed by the
        ORM number by number; where the calling code doesn't decide (+1:
        United States, Puerto Rico…) the number does. Same values as the ORM."""
        rows = [["phone", "first name", "language"]]
        rows += [[f"+39 347 100 {i:04d}", f"Contact {i}", "english"] for i in range(40)]
        rows += [["+1 787 555 0123", "Puerto Rico", "it"], ["+1 202 555 0123", "Washington", "it"]]
        calls, counting = self._count_language_calls()
        with counting:
            wizard = self._import(rows)
            self.env.flush_all()
        self.assertEqual(wizard.result_created, 42)
        self.assertEqual(sorted(calls), ["+12025550123", "+17875550123"], "one call per number of +1 only")
        partners = self._partners_by_phone(*[f"+39347100{i:04d}" for i in range(40)], "+17875550123", "+12025550123")
        self.assertEqual(len(partners), 42)
        for phone, partner in partners.items():
            self.assertEqual(partner.wa_lang, template_rules.recipient_language(phone, partner.lang), phone)
        self.assertEqual(partners["+393471000007"].wa_lang, "it")
        self.assertEqual(partners["+17875550123"].wa_lang, "es")
        self.assertEqual(partners["+12025550123"].wa_lang, "en")

        # a re-import that changes the contacts' language: +39 numbers keep
        # Italian without a recomputation, the ORM's values are the same
        rows = [["phone", "language"]] + [[f"+39 347 100 {i:04d}", "it"] for i in range(40)]
        rows.append(["+1 787 555 0123", "english"])
        calls, counting = self._count_language_calls()
        with counting:
            wizard = self._import(rows)
            self.env.flush_all()
        self.assertEqual(wizard.result_updated, 41)
        self.assertEqual(calls, ["+17875550123"])
        partners["+393471000007"].invalidate_recordset()
        self.assertEqual(partners["+393471000007"].lang, "it_IT")
        self.assertEqual(partners["+393471000007"].wa_lang, "it")
        self.assertEqual(partners["+17875550123"].lang, "en_US")
        self.assertEqual(partners["+17875550123"].wa_lang, "es")
        partners["+393471000007"]._compute_wa_lang()
        self.assertEqual(partners["+393471000007"].wa_lang, "it")

    def test_dynamic_values_have_no_redundant_index(self):
        """Every index of spoki_dynamic_value costs each of the 300,000 values
        of a 100,000-row import: the contact's values are found through the
        unique (partner_id, field_id) index, partner_id has none of its own."""
        self.env.cr.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'spoki_dynamic_value' ORDER BY indexname"
        )
        indexes = dict(self.env.cr.fetchall())
        self.assertNotIn("spoki_dynamic_value__partner_id_index", indexes)
        self.assertTrue(
            any("(partner_id, field_id)" in definition for definition in indexes.values()),
            indexes,
        )
        for definition in indexes.values():
            self.assertNotRegex(definition, r"\(partner_id\)$", "partner_id alone is indexed")

    def test_import_holds_one_chunk_of_rows_at_a_time(self):
        """The import reads the clean file a chunk at a time and writes each
        chunk before reading the next (its memory doesn't grow with the
        file), all in one savepoint: same totals, and a failure in a later
        chunk leaves nothing of the earlier ones."""
        rows = [["phone", "first name", "LINK"]] + [[f"+39 347 200 {i:04d}", f"C{i}", f"l{i}"] for i in range(5)]
        Partner = type(self.env["res.partner"])
        original = Partner._spoki_csv_upsert
        sizes = []

        def spy(records, chunk, *args, **kwargs):
            sizes.append(len(chunk))
            return original(records, chunk, *args, **kwargs)

        List = type(self.env["spoki.list"])
        original_fire = List._spoki_fire_entry
        fired = []

        def fire(records, partner_ids):
            fired.append(sorted(partner_ids))
            return original_fire(records, partner_ids)

        with (
            patch.object(Partner, "_spoki_csv_upsert", spy),
            patch.object(List, "_spoki_fire_entry", fire),
            patch.object(spoki_csv_import, "IMPORT_CHUNK", 2),
        ):
            wizard = self._wizard(csv_bytes(rows), list_mode="new", new_list_name="Chunks")
            wizard.action_analyze()
            wizard.action_import()
        self.assertEqual(wizard.state, "done", wizard.import_error)
        self.assertEqual(sizes, [2, 2, 1])
        # the list's entry rules run once for the whole file, as before chunks
        # (creating the list calls it with no contact: nothing runs)
        self.assertEqual([ids for ids in fired if ids], [sorted(wizard.result_list_id.partner_ids.ids)])
        self.assertEqual((wizard.result_created, wizard.result_values, wizard.result_list_added), (5, 5, 5))
        self.assertEqual(len(wizard.result_list_id.partner_ids), 5)

        # a database error in the last chunk: nothing of the first two stays
        count = self._partner_count()
        rows = [["phone", "first name"]] + [[f"+39 347 300 {i:04d}", f"D{i}"] for i in range(5)]
        calls = []

        def failing(records, chunk, *args, **kwargs):
            calls.append(len(chunk))
            if len(calls) == 3:
                raise psycopg2.errors.CheckViolation("boom")
            return original(records, chunk, *args, **kwargs)

        with (
            patch.object(Partner, "_spoki_csv_upsert", failing),
            patch.object(spoki_csv_import, "IMPORT_CHUNK", 2),
            self.assertLogs("odoo.addons.spoki_whatsapp_csv.wizard.spoki_csv_import", "WARNING"),
        ):
            wizard = self._wizard(csv_bytes(rows), list_mode="new", new_list_name="Never")
            wizard.action_analyze()
            wizard.action_import()
        self.assertEqual(calls, [2, 2, 1])
        self.assertNotEqual(wizard.state, "done")
        self.assertIn("Nothing was imported", wizard.import_error)
        self.assertEqual(self._partner_count(), count)
        self.assertFalse(self.env["spoki.list"].search([("name", "=", "Never")]))

    def test_working_files_are_not_indexed(self):
        """The clean and errors files are working files of the wizard: their
        text is not copied into index_content (tens of MB for a big file);
        other text attachments still are."""
        wizard = self._wizard(csv_bytes([["phone", "first name"], ["+39 347 400 0001", "Anna"], ["12", "Bad"]]))
        wizard.action_analyze()
        clean, errors = wizard.clean_attachment_id.sudo(), wizard.errors_attachment_id.sudo()
        self.assertTrue(clean and errors)
        self.assertIn("+393474000001", self._attachment_text(clean))
        self.assertFalse(clean.index_content)
        self.assertFalse(errors.index_content)
        other = self.env["ir.attachment"].create({"name": "n.csv", "raw": b"phone\r\n+393474000001\r\n"})
        self.assertIn("393474000001", other.index_content)
