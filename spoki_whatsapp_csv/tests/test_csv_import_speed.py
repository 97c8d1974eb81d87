from unittest.mock import patch

from odoo.tests import tagged

from odoo.addons.spoki_whatsapp.tools import template_rules

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
