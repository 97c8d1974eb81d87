from datetime import date, datetime

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .common import SpokiCommon


@tagged("post_install", "-at_install")
class TestSpokiDynamicField(SpokiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Field = cls.env["spoki.dynamic.field"]
        cls.f_birthday = Field.create({"name": "test_birthday", "field_type": "date"})
        cls.f_appointment = Field.create({"name": "APPOINTMENT_AT", "field_type": "datetime"})
        cls.f_code = Field.create({"name": "PROMO_CODE", "field_type": "text"})
        cls.f_link = Field.create({"name": "CAMPAIGN_LINK", "field_type": "text", "on_contacts": False})

    def test_builtins_exist_and_are_protected(self):
        builtins = self.env["spoki.dynamic.field"].search([("builtin", "=", True)])
        self.assertEqual(set(builtins.mapped("name")), {"NOME", "COGNOME", "TELEFONO", "EMAIL"})
        with self.assertRaises(UserError):
            builtins[0].unlink()
        with self.assertRaises(UserError):
            builtins[0].field_type = "date"
        with self.assertRaises(ValidationError):
            self.env["spoki.dynamic.field"].create({"name": "NOME"})

    def test_name_rules(self):
        self.assertEqual(self.f_birthday.name, "TEST_BIRTHDAY")
        for bad in ("1ST_NAME", "1st name", "9-LIVES"):
            with self.assertRaisesRegex(ValidationError, "not valid"), self.cr.savepoint():
                self.env["spoki.dynamic.field"].create({"name": bad})
        # names a user would type are normalised rather than refused (issue 14)
        for typed, name in (("NEXT VISIT", "NEXT_VISIT"), ("DATA-VISITA", "DATA_VISITA"), ("È_CLIENTE", "E_CLIENTE")):
            self.assertEqual(self.env["spoki.dynamic.field"].create({"name": typed}).name, name)
        with self.assertRaisesRegex(ValidationError, "already exists"), self.cr.savepoint():
            self.env["spoki.dynamic.field"].create({"name": "promo_code"})
        with self.assertRaisesRegex(ValidationError, "already exists"), self.cr.savepoint():
            self.env["spoki.dynamic.field"].create({"name": "PROMO_CODE", "company_id": self.company_b.id})

    def test_typed_name_normalised_with_message(self):
        """ "promo code" is not refused: the form applies PROMO_CODE and says so."""
        Field = self.env["spoki.dynamic.field"]
        draft = Field.new({"name": "promo code"})
        result = draft._onchange_name_normalise()
        self.assertEqual(draft.name, "PROMO_CODE")
        self.assertIn("“promo code” becomes PROMO_CODE", result["warning"]["message"])
        self.assertIn("%%PROMO_CODE%%", result["warning"]["message"])
        # only the case changes: applied silently; already valid: nothing to say
        draft = Field.new({"name": "promo_code"})
        self.assertFalse(draft._onchange_name_normalise())
        self.assertEqual(draft.name, "PROMO_CODE")
        self.assertFalse(Field.new({"name": "PROMO_CODE"})._onchange_name_normalise())
        # saved without the form (import, API): normalised too
        created = Field.create({"name": "link utm"})
        self.assertEqual(created.name, "LINK_UTM")
        created.name = "link-utm 2"
        self.assertEqual(created.name, "LINK_UTM_2")

    def test_help_shows_double_percent(self):
        """The form's help and the empty list's help show %%NAME%% as typed in templates."""
        arch = self.env["spoki.dynamic.field"].get_view(view_type="form")["arch"]
        self.assertIn("<code>%%NAME%%</code>", arch)
        action = self.env.ref("spoki_whatsapp.spoki_dynamic_field_action")
        self.assertIn("%%NOME%%, %%BIRTHDAY_DATE%%, %%LINK%%", str(action.help))

    def test_builtin_value_counts(self):
        """Built-in fields count the contacts whose own data gives them a value, not 0."""
        builtins = self.env["spoki.dynamic.field"].search([("builtin", "=", True)])
        by_name = {field.name: field for field in builtins}

        def expected():
            values = self.env["res.partner"].search([("spoki_contact", "=", True)])._spoki_get_values().values()
            return {name: sum(1 for row in values if row[name]) for name in by_name}

        counts = expected()
        self.assertEqual({name: field.value_count for name, field in by_name.items()}, counts)
        self.assertTrue(all(counts.values()), counts)
        self.env["res.partner"].create({"name": "Solo"})
        self.env["res.partner"].create({"name": "ACME Due Srl", "is_company": True, "mobile": "+393471112233"})
        self.env["res.partner"].create({"name": "anna", "wa_last_name": "Verdi", "email": "anna@example.com"})
        builtins.invalidate_recordset(["value_count"])
        self.assertEqual(
            {name: field.value_count for name, field in by_name.items()},
            {
                "NOME": counts["NOME"] + 2,
                "COGNOME": counts["COGNOME"] + 1,
                "TELEFONO": counts["TELEFONO"] + 1,
                "EMAIL": counts["EMAIL"] + 1,
            },
        )
        self.assertEqual(expected(), {name: field.value_count for name, field in by_name.items()})

    def test_typed_values(self):
        partner = self.partner_it
        partner._spoki_set_values(
            {
                "TEST_BIRTHDAY": "14/06/1985",
                "APPOINTMENT_AT": "2026-12-01 15:30",
                "PROMO_CODE": "XMAS",
                "NOME": "Mariolino",
            }
        )
        values = partner._spoki_get_values()[partner]
        self.assertEqual(values["TEST_BIRTHDAY"], date(1985, 6, 14))
        self.assertEqual(values["APPOINTMENT_AT"], datetime(2026, 12, 1, 15, 30))
        self.assertEqual(values["PROMO_CODE"], "XMAS")
        self.assertEqual(values["NOME"], "Mariolino")
        # empty value removes it
        partner._spoki_set_values({"PROMO_CODE": ""})
        self.assertNotIn("PROMO_CODE", partner._spoki_get_values()[partner])

    def test_bad_date_is_clear_error(self):
        with self.assertRaisesRegex(ValidationError, "TEST_BIRTHDAY expects a date"):
            self.partner_it._spoki_set_values({"TEST_BIRTHDAY": "31/02/2020"})
        with self.assertRaisesRegex(ValidationError, "APPOINTMENT_AT expects a date and time"):
            self.partner_it._spoki_set_values({"APPOINTMENT_AT": "tomorrow"})
        self.assertFalse(self.env["spoki.dynamic.value"].search([("partner_id", "=", self.partner_it.id)]))

    def test_value_in_wrong_column_refused(self):
        with self.assertRaisesRegex(ValidationError, "holds values of type"):
            self.env["spoki.dynamic.value"].create(
                {"partner_id": self.partner_it.id, "field_id": self.f_birthday.id, "value_text": "yesterday"}
            )

    def test_off_fields_hold_no_contact_values(self):
        with self.assertRaises(UserError):
            self.partner_it._spoki_set_values({"CAMPAIGN_LINK": "https://example.com"})
        with self.assertRaisesRegex(ValidationError, "not a dynamic field associated with contacts"):
            self.env["spoki.dynamic.value"].create(
                {"partner_id": self.partner_it.id, "field_id": self.f_link.id, "value_text": "x"}
            )

    def test_searchable_and_type_locked(self):
        self.partner_it._spoki_set_values({"TEST_BIRTHDAY": "1985-06-14"})
        self.partner_es._spoki_set_values({"TEST_BIRTHDAY": "1990-01-01"})
        found = self.env["res.partner"].search(
            [("spoki_value_ids.field_id", "=", self.f_birthday.id), ("spoki_value_ids.value_date", "<", "1986-01-01")]
        )
        self.assertEqual(found, self.partner_it)
        self.assertEqual(self.f_birthday.value_count, 2)
        with self.assertRaisesRegex(UserError, "can't change"):
            self.f_birthday.field_type = "text"

    def test_exportable(self):
        self.partner_it._spoki_set_values({"PROMO_CODE": "XMAS"})
        rows = self.partner_it.export_data(["name", "spoki_value_ids/field_id/name", "spoki_value_ids/value_text"])[
            "datas"
        ]
        self.assertEqual(rows[0], ["Mario Rossi", "PROMO_CODE", "XMAS"])

    def test_known_names(self):
        names = self.env["spoki.dynamic.field"]._known_names()
        self.assertTrue({"NOME", "COGNOME", "TELEFONO", "EMAIL", "TEST_BIRTHDAY", "CAMPAIGN_LINK"} <= names)
