import base64
import csv
import datetime
import io
import time
from unittest.mock import patch

import psycopg2

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import SpokiCsvCommon, csv_bytes, xls_bytes, xlsx_bytes
from .csv_fixtures import big_export_lines

MESSY = [
    ["Nome", "Cognome", "Cellulare", "E-mail", "Lingua", "Tag", "BIRTHDAY_DATE", "Note"],
    ["Niccolò", "Società", "+39 347 111 2222", "nicco@example.it", "italiano", "vip", "01/05/1990", "a"],  # 2
    ["Niccolò", "Società", "0039347 111 2222", "", "", "", "", "b"],  # 3: duplicate of 2
    ["Zoë", "Perché", "347 111 2222", "zoe@example.it", "it", "", "1991-02-03", "c"],  # 4: duplicate of 2
    ["Luca", "Bianchi", "348 333 4444", "", "english", "", "", "d"],  # 5
    ["Bad", "Number", "12", "", "", "", "", "e"],  # 6: too short
    ["No", "Number", "", "", "", "", "", "f"],  # 7: missing
    ["Anna", "Verdi", "349 555 6666", "", "", "", "not a date", "g"],  # 8: bad date
]


@tagged("post_install", "-at_install")
class TestCsvImportAnalysis(SpokiCsvCommon):
    def test_semicolon_cp1252_italian_accents(self):
        wizard = self._wizard(csv_bytes(MESSY, delimiter=";", encoding="cp1252"))
        self.assertEqual(wizard.state, "map")
        self.assertEqual(wizard.file_format, "CSV")
        self.assertEqual(wizard.detected, "Windows-1252 · Semicolon ;")
        self.assertEqual(
            self._mapping(wizard),
            {
                "phone": "Cellulare",
                "first_name": "Nome",
                "last_name": "Cognome",
                "email": "E-mail",
                "language": "Lingua",
                "BIRTHDAY_DATE": "BIRTHDAY_DATE",
            },
        )
        self.assertIn("Niccolò", wizard.column_ids.filtered(lambda c: c.name == "Nome").sample)
        count = self._partner_count()
        wizard.action_analyze()
        self.assertEqual(wizard.state, "analyzed")
        self.assertEqual(
            (
                wizard.row_count,
                wizard.valid_count,
                wizard.invalid_count,
                wizard.missing_phone_count,
                wizard.value_error_count,
                wizard.duplicate_number_count,
                wizard.duplicate_row_count,
                wizard.clean_count,
            ),
            (7, 5, 2, 1, 1, 1, 2, 2),
        )
        self.assertEqual((wizard.new_count, wizard.existing_count), (2, 0))
        issues = {(i.row, i.kind, i.kept_row) for i in wizard.issue_ids}
        self.assertEqual(
            issues, {(3, "duplicate", 2), (4, "duplicate", 2), (6, "invalid", 0), (7, "invalid", 0), (8, "invalid", 0)}
        )
        messages = {i.row: i.message for i in wizard.issue_ids}
        self.assertEqual(messages[6], "Invalid number: too short")
        self.assertEqual(messages[7], "No number")
        self.assertIn("BIRTHDAY_DATE expects a date", messages[8])
        empty = {line.target: line.empty_count for line in wizard.mapping_ids if line.column_id}
        self.assertEqual(empty["phone"], 1)
        self.assertEqual(empty["email"], 5)
        self.assertIn("Tag", wizard.notes_html)  # tags column reported as ignored
        self.assertIn("Note", wizard.notes_html)  # unmapped column reported
        self.assertIn("Niccolò", wizard.preview_html)
        clean = self._attachment_text(wizard.clean_attachment_id).splitlines()
        self.assertEqual(clean[0], "phone,first name,last name,email,language,BIRTHDAY_DATE")
        self.assertEqual(clean[1], "+393471112222,Niccolò,Società,nicco@example.it,it_IT,1990-05-01")
        self.assertEqual(clean[2], "+393483334444,Luca,Bianchi,,en_US,")
        errors = self._attachment_text(wizard.errors_attachment_id).splitlines()
        self.assertEqual(len(errors), 6, errors)
        self.assertTrue(errors[1].startswith('3,"Duplicate of row 2, which is kept",Niccolò'), errors)
        self.assertEqual(self._partner_count(), count, "analysis writes no contact")

    def test_keep_most_complete(self):
        wizard = self._wizard(csv_bytes(MESSY, delimiter=";"), keep="most_complete")
        wizard.action_analyze()
        kept = {(i.row, i.kept_row) for i in wizard.issue_ids if i.kind == "duplicate"}
        # row 2 and row 4 have the same number of values: the first of them wins
        self.assertEqual(kept, {(3, 2), (4, 2)})
        wizard.keep = "first"
        self.assertTrue(wizard.needs_analysis)
        data = csv_bytes(
            [["phone", "first name", "email"], ["3471112222", "", ""], ["+39 347 111 2222", "Mario", "m@x.it"]]
        )
        wizard = self._wizard(data, keep="most_complete")
        wizard.action_analyze()
        self.assertEqual([(i.row, i.kept_row) for i in wizard.issue_ids], [(2, 3)])
        self.assertIn("Mario", self._attachment_text(wizard.clean_attachment_id))

    def test_utf8_bom_and_utf16(self):
        rows = [["phone", "first name", "last name"], ["+39 347 123 4567", "José", "Núñez"]]
        for data, encoding in (
            (csv_bytes(rows, bom=True), "UTF-8 with BOM · Comma ,"),
            ("\r\n".join("\t".join(r) for r in rows).encode("utf-16"), "UTF-16 · Tab"),
        ):
            wizard = self._wizard(data)
            self.assertEqual(wizard.detected, encoding)
            self.assertEqual(self._mapping(wizard)["phone"], "phone")
            wizard.action_analyze()
            self.assertEqual(wizard.clean_count, 1)
            self.assertIn("José", wizard.preview_html)

    def test_encoding_override(self):
        data = csv_bytes([["phone", "first name"], ["3471234567", "Forlì"]], encoding="cp1252")
        wizard = self._wizard(data)
        wizard.encoding = "utf-8"
        self.assertTrue(wizard.needs_reload)
        with self.assertRaisesRegex(UserError, "can't be read as utf-8"):
            wizard.action_load()
        wizard.encoding = "latin-1"
        wizard.action_load()
        self.assertFalse(wizard.needs_reload)
        self.assertIn("Forlì", wizard.column_ids[1].sample)

    def test_xls_with_date_column(self):
        data = xls_bytes(
            [
                ["Cellulare", "Nome", "BIRTHDAY_DATE"],
                [393470001234, "Anna", datetime.date(1990, 5, 1)],
                [3480001234, "Bruno", datetime.date(2001, 1, 31)],
            ],
            date_columns=(2,),
        )
        if data is None:
            self.skipTest("xlwt is not installed: no way to write a real .xls fixture")
        wizard = self._wizard(data, "contatti.xls")
        self.assertEqual(wizard.file_format, "XLS")
        wizard.action_analyze()
        self.assertEqual((wizard.valid_count, wizard.clean_count), (2, 2))
        clean = self._attachment_text(wizard.clean_attachment_id).splitlines()
        self.assertEqual(clean[1], "+393470001234,Anna,,,,1990-05-01")
        wizard.action_import()
        partner = self._partners_by_phone("+393470001234")["+393470001234"]
        self.assertEqual(partner._spoki_get_values()[partner]["BIRTHDAY_DATE"], datetime.date(1990, 5, 1))

    def test_xlsx_numeric_phones_two_sheets(self):
        data = xlsx_bytes(
            {
                "Clienti": [
                    ["Telefono", "Nome", "APPOINTMENT"],
                    [393471234567, "Anna", datetime.datetime(2025, 3, 1, 10, 30)],
                    [3481234567.0, "Bruno", None],
                ],
                "Fornitori": [["phone", "company"], ["+34612345678", "ACME"]],
            }
        )
        wizard = self._wizard(data, "contacts.xlsx")
        self.assertEqual(wizard.file_format, "XLSX")
        self.assertEqual(wizard.sheet_count, 2)
        self.assertEqual(wizard.sheet_id.name, "Clienti")
        self.assertEqual(wizard.column_ids.filtered(lambda c: c.name == "Telefono").sample, "393471234567, 3481234567")
        wizard.action_analyze()
        self.assertEqual(wizard.clean_count, 2)
        self.assertIn("+393481234567", wizard.preview_html)
        self.assertIn("2025-03-01 10:30:00", wizard.preview_html)
        wizard.sheet_id = wizard.sheet_ids.filtered(lambda s: s.name == "Fornitori")
        self.assertTrue(wizard.needs_reload)
        with self.assertRaises(UserError):
            wizard.action_analyze()
        wizard.action_load()
        self.assertEqual(wizard.column_ids.mapped("name"), ["phone", "company"])
        wizard.action_analyze()
        self.assertEqual(wizard.clean_count, 1)

    def test_formula_cell(self):
        data = csv_bytes(
            [["phone", "first name"], ["3470007777", '=HYPERLINK("http://evil";"x")'], ["3480007777", "@SUM(A1)"]]
        )
        wizard = self._wizard(data)
        wizard.action_analyze()
        clean = list(csv.reader(io.StringIO(self._attachment_text(wizard.clean_attachment_id))))
        self.assertEqual(clean[1][:2], ["+393470007777", '\'=HYPERLINK("http://evil";"x")'])
        self.assertEqual(clean[2][:2], ["+393480007777", "'@SUM(A1)"])
        wizard.action_import()
        partner = self._partners_by_phone("+393470007777")["+393470007777"]
        self.assertEqual(partner.wa_first_name, '=HYPERLINK("http://evil";"x")', "stored as plain text")

    def test_files_that_cant_be_read_write_nothing(self):
        count = self._partner_count()
        broken = xlsx_bytes({"Sheet": [["phone"], ["3471234567"]] * 20})
        cases = {
            b"": "The file is empty",
            b"\r\n\r\n": "The file is empty",
            b"phone;first name\r\n": "column names but no rows",
            xlsx_bytes({"Sheet": [["phone", "name"]]}): "column names but no rows",
            broken[: len(broken) // 2]: "damaged or incomplete",
            b"3471234567,Mario\r\n3481234567,Luca\r\n": "No row of column names",
        }
        for data, message in cases.items():
            wizard = self._wizard(data, load=False)
            with self.assertRaisesRegex(UserError, message):
                wizard.action_load()
            self.assertEqual(wizard.state, "upload")
        self.assertEqual(self._partner_count(), count)

    def test_phone_column_required(self):
        wizard = self._wizard(csv_bytes([["who", "first name"], ["x", "Mario"]]))
        self.assertNotIn("phone", self._mapping(wizard))
        with self.assertRaisesRegex(UserError, "phone numbers"):
            wizard.action_analyze()

    def test_50mb_csv(self):
        """A 50 MB export analysed through the wizard (file read, numbers
        normalised, duplicates found, clean + errors files written)."""
        lines, i = big_export_lines(50 * 1024 * 1024)
        lines.append("12;Bad;Row;;;;;;;;\r\n")
        data = "".join(lines).encode()
        del lines
        wizard = self._wizard(data, "big.csv")
        started, cpu = time.monotonic(), time.process_time()
        wizard.action_analyze()
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
        self.assertEqual(wizard.row_count, i + 1)
        self.assertEqual(wizard.clean_count, i)
        self.assertEqual(wizard.invalid_count, 1)
        self.assertEqual(wizard.new_count, i)
        self.assertEqual(len(wizard.issue_ids), 1)
        print(f"\n50 MB CSV ({i + 1} rows) analysed by the wizard in {elapsed:.1f} s ({cpu:.1f} s CPU)")  # noqa: T201
        self.assertLess(cpu, 120)


@tagged("post_install", "-at_install")
class TestCsvImport(SpokiCsvCommon):
    def _import(self, rows, delimiter=",", **values):
        wizard = self._wizard(csv_bytes(rows, delimiter=delimiter), **values)
        wizard.action_analyze()
        wizard.action_import()
        return wizard

    def test_import_creates_contacts_like_the_orm(self):
        rows = [
            ["phone", "first name", "last name", "email", "language", "BIRTHDAY_DATE", "APPOINTMENT", "LINK"],
            [
                "+39 347 000 0001",
                "Maria Grazia",
                "Rossi",
                "MG.Rossi@Example.it",
                "it",
                "31/12/1980",
                "2025-06-01 09:30",
                "https://x.it/a",
            ],
            ["347 000 0002", "", "", "", "", "", "", ""],
        ]
        wizard = self._import(rows)
        self.assertEqual(wizard.state, "done", wizard.import_error)
        self.assertEqual((wizard.result_created, wizard.result_updated, wizard.result_values), (2, 0, 3))
        partners = self._partners_by_phone("+393470000001", "+393470000002")
        maria, bare = partners["+393470000001"], partners["+393470000002"]
        self.assertEqual(maria.name, "Maria Grazia Rossi")
        self.assertEqual(maria._spoki_split_name(), ("Maria Grazia", "Rossi"))
        self.assertEqual(bare.name, "+393470000002", "a contact without names is named by its number")
        values = maria._spoki_get_values()[maria]
        self.assertEqual(values["BIRTHDAY_DATE"], datetime.date(1980, 12, 31))
        # 09:30 in Rome (summer time) is 07:30 UTC
        self.assertEqual(values["APPOINTMENT"], datetime.datetime(2025, 6, 1, 7, 30))
        self.assertEqual(values["LINK"], "https://x.it/a")
        # the bulk INSERT gives the same stored values as create() would
        twin = self.env["res.partner"].create(
            {
                "name": "Maria Grazia Rossi",
                "mobile": "+393470000001",
                "wa_first_name": "Maria Grazia",
                "wa_last_name": "Rossi",
                "email": "MG.Rossi@Example.it",
                "lang": "it_IT",
            }
        )
        skip = {"id", "create_date", "write_date", "create_uid", "write_uid", "commercial_partner_id", "display_name"}
        stored = [
            name for name, field in twin._fields.items() if field.store and field.column_type and name not in skip
        ]
        imported, created = maria.read(stored)[0], twin.read(stored)[0]
        self.assertEqual({k: v for k, v in imported.items() if k != "id" and v != created[k]}, {})
        self.assertEqual(maria.commercial_partner_id, maria)
        self.assertEqual(maria.create_uid, self.agent)
        self.assertFalse(maria.company_id, "imported contacts are shared, as Odoo's default")

    def test_reimport_updates_the_same_contacts(self):
        archived = self.env["res.partner"].create({"name": "Old Archived", "mobile": "+39 349 000 0009"})
        archived.action_archive()
        untouched = self.env["res.partner"].create(
            {"name": "Not In File", "mobile": "+39 349 000 0008", "email": "n@x.it"}
        )
        mario = self.env["res.partner"].create({"name": "Mario Rossi", "mobile": "+39 347 000 0004"})
        mario.write({"wa_opt_out": True, "category_id": [(0, 0, {"name": "Existing tag"})]})
        self.env.flush_all()  # (so that the agent's import doesn't flush the setup's writes)
        first = self._import(
            [
                ["telefono", "nome", "cognome", "email", "lingua", "LINK", "Tags"],
                ["3470000004", "Mario", "Rossi", "mario@x.it", "it", "v1", "new tag"],
                ["+39 347 000 0005", "Anna", "Blu", "anna@x.it", "", "v1", ""],
                ["0039 349 000 0009", "Back", "", "", "", "", ""],  # archived one
            ],
            delimiter=";",
        )
        self.assertEqual((first.result_created, first.result_updated, first.result_reactivated), (1, 2, 1))
        anna = self._partners_by_phone("+393470000005")["+393470000005"]
        self.assertTrue(archived.active, "archived contacts found in the file are reactivated")
        self.assertEqual(archived.name, "Back Archived", "the file's first name, the derived last name")
        self.assertEqual(mario.email, "mario@x.it")
        self.assertTrue(mario.wa_opt_out, "an import never lifts an opt-out")
        self.assertEqual(mario.category_id.mapped("name"), ["Existing tag"], "tags are never imported")
        # second version of the file: changed values, empty cells, one row gone
        second = self._import(
            [
                ["telefono", "nome", "cognome", "email", "lingua", "LINK"],
                ["+39 347 000 0004", "Mario", "Verdi", "", "", "v2"],
                ["347 000 0005", "Annalisa", "", "annalisa@x.it", "en", ""],
            ],
        )
        self.assertEqual((second.result_created, second.result_updated), (0, 2))
        self.assertEqual(self._partners_by_phone("+393470000005")["+393470000005"], anna, "same contact, updated")
        self.assertEqual(mario.name, "Mario Verdi")
        self.assertEqual(mario.email, "mario@x.it", "an empty cell keeps the current value")
        self.assertEqual(anna.name, "Annalisa Blu")
        self.assertEqual((anna.email, anna.email_normalized, anna.lang), ("annalisa@x.it", "annalisa@x.it", "en_US"))
        self.assertEqual(anna._spoki_get_values()[anna]["LINK"], "v1", "an empty cell keeps the dynamic value")
        self.assertEqual(mario._spoki_get_values()[mario]["LINK"], "v2")
        self.assertEqual((untouched.name, untouched.email, untouched.active), ("Not In File", "n@x.it", True))
        self.assertEqual((archived.wa_first_name, archived.wa_last_name), ("Back", "Archived"))
        # (one transaction in this test: both imports share the timestamp)
        opened = self.env["res.partner"].search(second.action_open_contacts()["domain"])
        self.assertEqual(opened, mario | anna | archived)
        self.assertNotIn(untouched, opened)

    def test_list_from_file_new_and_existing(self):
        wizard = self._wizard(
            csv_bytes([["phone", "first name"], ["3470000011", "A"], ["3470000012", "B"], ["12", "bad"]]),
            list_mode="new",
            new_list_name="Promo June",
        )
        wizard.action_analyze()
        wizard.action_import()
        promo = wizard.result_list_id
        self.assertEqual(promo.name, "Promo June")
        self.assertEqual(promo.contact_count, 2)
        self.assertEqual(wizard.result_list_added, 2)
        self.assertEqual(wizard.action_open_list()["domain"], [("spoki_list_ids", "in", promo.ids)])
        # Lists › Import from CSV on an existing list
        action = promo.action_spoki_csv_import()
        self.assertEqual(action["context"], {"default_list_mode": "existing", "default_list_id": promo.id})
        wizard = self._wizard(
            csv_bytes([["phone"], ["3470000012"], ["3470000013"]]), list_mode="existing", list_id=promo.id
        )
        wizard.action_analyze()
        wizard.action_import()
        self.assertEqual(wizard.result_list_added, 1)
        self.assertEqual(promo.contact_count, 3)

    def test_all_or_nothing_on_database_error(self):
        count, lists = self._partner_count(), self.env["spoki.list"].search_count([])
        wizard = self._wizard(
            csv_bytes([["phone", "LINK"], ["3470000021", "x"], ["3470000022", "y"]]),
            list_mode="new",
            new_list_name="Never created",
        )
        wizard.action_analyze()
        failure = psycopg2.errors.CheckViolation("boom")
        with (
            patch.object(type(self.env["res.partner"]), "_spoki_csv_write_values", side_effect=failure),
            self.assertLogs("odoo.addons.spoki_whatsapp_csv.wizard.spoki_csv_import", "WARNING"),
        ):
            wizard.action_import()
        self.assertEqual(wizard.state, "analyzed")
        self.assertIn("Nothing was imported", wizard.import_error)
        self.assertEqual(self._partner_count(), count, "contacts created before the failure are rolled back")
        self.assertEqual(self.env["spoki.list"].search_count([]), lists)
        # and it works once the cause is gone
        wizard.action_import()
        self.assertEqual(wizard.state, "done")
        self.assertEqual(self._partner_count(), count + 2)

    def test_strict_mode_refuses_a_file_with_errors(self):
        count = self._partner_count()
        wizard = self._wizard(csv_bytes([["phone"], ["3470000031"], ["12"]]), skip_invalid=False)
        wizard.action_analyze()
        with self.assertRaisesRegex(UserError, "Nothing was imported"):
            wizard.action_import()
        self.assertEqual(self._partner_count(), count)

    def test_mapping_change_requires_new_analysis(self):
        wizard = self._wizard(csv_bytes([["phone", "other", "first name"], ["3470000041", "3470000042", "A"]]))
        wizard.action_analyze()
        self._map(wizard, "phone", "other")
        self.assertTrue(wizard.needs_analysis)
        with self.assertRaises(UserError):
            wizard.action_import()
        wizard.action_analyze()
        wizard.action_import()
        self.assertIn("+393470000042", self._partners_by_phone("+393470000042"))

    def test_companies_and_child_contacts(self):
        company = self.env["res.partner"].create(
            {"name": "ACME S.p.A.", "is_company": True, "mobile": "+39 347 000 0071"}
        )
        person = self.env["res.partner"].create({"name": "Carla Neri", "mobile": "+39 347 000 0072"})
        child = self.env["res.partner"].create({"name": "Home", "parent_id": person.id, "type": "delivery"})
        colleague = self.env["res.partner"].create(
            {"name": "Ugo", "parent_id": company.id, "mobile": "+39 347 000 0073"}
        )
        self.env.flush_all()
        self.assertEqual(child.complete_name, "Carla Neri, Home")
        self._import(
            [
                ["phone", "first name", "last name", "email"],
                ["3470000071", "Rosa", "Gialli", "INFO@Acme.IT"],
                ["3470000072", "Carla", "Bruni", "Carla <carla.bruni@example.com>"],
                ["3470000073", "Ugo", "Foscolo", ""],
            ]
        )
        self.assertEqual(company.name, "ACME S.p.A.", "a company keeps its name")
        self.assertEqual((company.wa_first_name, company.wa_last_name), ("Rosa", "Gialli"))
        self.assertEqual(company.email_normalized, "info@acme.it")
        self.assertEqual((person.name, person.complete_name), ("Carla Bruni", "Carla Bruni"))
        self.assertEqual(person.email_normalized, "carla.bruni@example.com")
        self.assertEqual(child.complete_name, "Carla Bruni, Home", "the child's name follows (ORM recompute)")
        self.assertEqual((colleague.name, colleague.complete_name), ("Ugo Foscolo", "ACME S.p.A., Ugo Foscolo"))
        self.assertEqual(colleague.commercial_company_name, "ACME S.p.A.")

    def test_fast_paths_match_odoo(self):
        from odoo.tools import email_normalize

        from odoo.addons.spoki_whatsapp.tools.dynamic_values import FAST_DATE_RE, fast_datetime, parse_typed

        from ..models.res_partner import normalized_email

        for email in (
            "a@b.it",
            "Mario.Rossi+tag@Example.COM",
            "x_y-z@sub.domain.co.uk",
            "A@B",
            "Mario <M@X.IT>",
            "a@b.it, c@d.it",
            "é@école.fr",
            "not an email",
            "UPPER@CASE.COM",
        ):
            self.assertEqual(normalized_email(email), email_normalize(email, strict=False) or None, email)
        for text in (
            "2024-05-01",
            "1/5/1990",
            "01/05/1990",
            "2025-06-01 09:30",
            "2025-06-01T09:30:15",
            "31/12/1999 23:59",
        ):
            match = FAST_DATE_RE.match(text)
            self.assertTrue(match, text)
            self.assertEqual(fast_datetime(match), parse_typed("datetime", text), text)

    def test_tampered_clean_file_is_refused(self):
        count = self._partner_count()
        wizard = self._wizard(csv_bytes([["phone"], ["3470000081"]]))
        wizard.action_analyze()
        wizard.clean_attachment_id.sudo().raw = b"phone\r\n+1\r\n"
        with self.assertRaisesRegex(UserError, "analyze the file again"):
            wizard.action_import()
        self.assertEqual(self._partner_count(), count)

    def test_user_without_contact_creation_imports_nothing(self):
        self.agent.groups_id -= self.env.ref("base.group_partner_manager")
        count = self._partner_count()
        wizard = self._wizard(csv_bytes([["phone"], ["3470000061"]]))
        wizard.action_analyze()
        wizard.action_import()
        self.assertEqual(wizard.state, "analyzed")
        self.assertIn("not allowed to create", wizard.import_error)
        self.assertEqual(self._partner_count(), count)

    def test_access(self):
        outsider = self.env["res.users"].create(
            {"name": "No WhatsApp", "login": "no_wa", "groups_id": [(6, 0, [self.env.ref("base.group_user").id])]}
        )
        with self.assertRaises(AccessError):
            self.env["spoki.csv.import"].with_user(outsider).create({"filename": "x.csv"})
        wizard = self._wizard(csv_bytes([["phone"], ["3470000051"]]))
        wizard.action_analyze()
        # another agent can't read this session nor its files
        other = self.agent_b
        with self.assertRaises(AccessError):
            wizard.with_user(other).read(["row_count"])
        with self.assertRaises(AccessError):
            wizard.clean_attachment_id.with_user(other).read(["datas"])
        self.assertTrue(base64.b64decode(wizard.clean_attachment_id.datas))

    def test_done_when_excel_export_to_list_and_back(self):
        """The issue's "done when": an Excel export with messy numbers goes
        through Manage CSV, its clean file is imported into a new list, a
        changed version updates the same contacts, and the export gives them
        back with tags and lists."""
        export_rows = [
            ["Export clienti 2025"],
            [],
            ["Telefono", "Nome", "Cognome", "E-mail", "Lingua", "BIRTHDAY_DATE", "Tag"],
            [393470000101, "Anna", "Rossi", "anna@example.it", "Italiano", datetime.datetime(1990, 5, 1), "vip"],
            ["0039 347 000 0101", "Anna", "R.", "", "", None, ""],  # duplicate of the row above
            ["347-000-0102", "Bruno", "Verdi", "", "English", datetime.datetime(1985, 1, 2), ""],
            [3470000103.0, "Carla", "Neri", "carla@example.it", "", None, ""],
            ["n/a", "Dario", "Blu", "", "", None, ""],  # invalid
        ]
        wizard = self._wizard(xlsx_bytes({"Clienti": export_rows, "Note": [["x"]]}), "export.xlsx")
        self.assertEqual((wizard.sheet_count, wizard.header_row), (2, 3))
        wizard.action_analyze()
        self.assertEqual(
            (
                wizard.row_count,
                wizard.valid_count,
                wizard.invalid_count,
                wizard.duplicate_row_count,
                wizard.clean_count,
            ),
            (5, 4, 1, 1, 3),
        )
        clean = base64.b64decode(wizard.clean_attachment_id.datas)
        # the clean file goes through Manage CSV again, into a new list
        second = self._wizard(clean, "export-clean.csv", list_mode="new", new_list_name="Clienti 2025")
        self.assertEqual(
            self._mapping(second),
            {
                "phone": "phone",
                "first_name": "first name",
                "last_name": "last name",
                "email": "email",
                "language": "language",
                "BIRTHDAY_DATE": "BIRTHDAY_DATE",
            },
        )
        second.action_analyze()
        self.assertEqual((second.clean_count, len(second.issue_ids), second.new_count), (3, 0, 3))
        second.action_import()
        clients = second.result_list_id
        self.assertEqual((second.result_created, clients.contact_count), (3, 3))
        partners = self._partners_by_phone("+393470000101", "+393470000102", "+393470000103")
        anna = partners["+393470000101"]
        anna.category_id = [(0, 0, {"name": "VIP"})]
        # a changed version of the export updates the same contacts
        export_rows[3][3] = "anna.rossi@example.it"
        export_rows[5][1] = "Bruno Maria"
        third = self._wizard(xlsx_bytes({"Clienti": export_rows}), "export-v2.xlsx")
        third.action_analyze()
        self.assertEqual((third.existing_count, third.new_count), (3, 0))
        third.action_import()
        self.assertEqual((third.result_created, third.result_updated), (0, 3))
        self.assertEqual(self._partners_by_phone(*partners)["+393470000101"], anna)
        self.assertEqual(anna.email, "anna.rossi@example.it")
        self.assertEqual(partners["+393470000102"].name, "Bruno Maria Verdi")
        # and back out, with tags and lists
        export = (
            self.env["spoki.csv.export"]
            .with_user(self.agent)
            .create({"domain": repr([("spoki_list_ids", "in", clients.ids)])})
        )
        text = b"".join(export._iter_csv(export._get_partner_ids())).decode("utf-8-sig")
        rows = {row[0]: row for row in csv.reader(io.StringIO(text))}
        header = rows.pop("phone")
        anna_row = dict(zip(header, rows["+393470000101"]))
        self.assertEqual(
            (anna_row["email"], anna_row["language"], anna_row["BIRTHDAY_DATE"], anna_row["tags"], anna_row["lists"]),
            ("anna.rossi@example.it", "it_IT", "1990-05-01", "VIP", "Clienti 2025"),
        )
        self.assertEqual(len(rows), 3)


@tagged("post_install", "-at_install")
class TestCsvImportFirstUse(SpokiCsvCommon):
    """Issue 14: what a new user tripped over in Manage CSV."""

    def test_address_book_export_columns_and_several_values(self):
        data = csv_bytes(
            [
                ["Name", "E-mail 1 - Type", "E-mail 1 - Value", "Phone 1 - Type", "Phone 1 - Value", "BIRTHDAY_DATE"],
                ["Mario", "* Home", "m@rossi.it ::: mario@work.it", "Mobile", "+39 347 1234567 ::: 02 1234567", ""],
                ["Anna", "Work", "anna@example.it", "Home", "+39 348 7654321; +39 349 0000000", "00/00/0000"],
            ]
        )
        wizard = self._wizard(data)
        mapping = self._mapping(wizard)
        self.assertEqual((mapping["phone"], mapping["email"]), ("Phone 1 - Value", "E-mail 1 - Value"))
        wizard.action_analyze()
        self.assertEqual((wizard.valid_count, wizard.invalid_count, wizard.clean_count), (2, 0, 2))
        clean = list(csv.reader(io.StringIO(self._attachment_text(wizard.clean_attachment_id))))
        self.assertEqual([row[3] for row in clean[1:]], ["m@rossi.it", "anna@example.it"])
        self.assertEqual([row[5] for row in clean[1:]], ["", ""])

    def test_rows_with_only_a_company_name(self):
        data = csv_bytes(
            [
                ["Ragione sociale", "Telefono", "Nome"],
                ["Rossi Impianti Srl", "347 1230001", ""],
                ["Bianchi SpA", "348 1230002", "Anna"],
            ]
        )
        wizard = self._wizard(data)
        self.assertEqual(
            self._mapping(wizard), {"company": "Ragione sociale", "phone": "Telefono", "first_name": "Nome"}
        )
        wizard.action_analyze()
        wizard.action_import()
        partners = self._partners_by_phone("+393471230001", "+393481230002")
        self.assertEqual(partners["+393471230001"].name, "Rossi Impianti Srl")
        self.assertEqual(partners["+393481230002"].name, "Anna")

    def test_file_library_errors_say_what_to_do(self):
        broken = xlsx_bytes({"Sheet": [["phone"], ["3471234567"]] * 20})
        broken = broken[: len(broken) // 2]
        wizard = self._wizard(broken, filename="contacts.xlsx", load=False)
        with self.assertRaises(UserError) as error:
            wizard.action_load()
        message = str(error.exception)
        self.assertIn("damaged or incomplete", message)
        self.assertIn("export or download it again, or open it in Excel or LibreOffice", message)
        self.assertIn("(Technical detail: File is not a zip file)", message)
        # in Italian: the advice is translated, the library's words stay as a detail
        self.env["res.lang"]._activate_lang("it_IT")
        self.env["ir.module.module"].search([("name", "=", "spoki_whatsapp_csv")])._update_translations("it_IT")
        wizard = self._wizard(broken, filename="contacts.xlsx", load=False).with_context(lang="it_IT")
        with self.assertRaises(UserError) as error:
            wizard.action_load()
        message = str(error.exception)
        self.assertIn("Il file Excel (XLSX) è danneggiato o incompleto.", message)
        self.assertIn("esportala o scaricala di nuovo", message)
        self.assertIn("(Dettaglio tecnico: File is not a zip file)", message)


@tagged("post_install", "-at_install")
class TestCsvImportCountry(SpokiCsvCommon):
    """Issue 14: numbers without prefix are read with the country of the
    WhatsApp account's own number, then the company's; the analysis says
    which country and counts the numbers read with it; the user can change
    it before importing."""

    def _data(self):
        return csv_bytes([["phone", "first name"], ["347 555 0101", "Anna"], ["+34 612 000 111", "Lucía"]])

    def test_account_number_country_first(self):
        # the company is in the US (as the demo company), the WhatsApp number is Italian
        self.company_a.country_id = self.env.ref("base.us")
        wizard = self._wizard(self._data())
        self.assertEqual(wizard.country_id, self.env.ref("base.it"))
        self.assertEqual(wizard.country_note, "Numbers without prefix are read as Italy.")
        wizard.action_analyze()
        self.assertEqual((wizard.valid_count, wizard.guessed_country_count), (2, 1))
        clean = list(csv.reader(io.StringIO(self._attachment_text(wizard.clean_attachment_id))))
        self.assertEqual([row[0] for row in clean[1:]], ["+393475550101", "+34612000111"])
        # the user changes the country before importing: analyze again, then the numbers follow it
        wizard.country_id = self.env.ref("base.us")
        self.assertTrue(wizard.needs_analysis)
        self.assertEqual(wizard.country_note, "Numbers without prefix are read as United States.")
        with self.assertRaises(UserError):
            wizard.action_import()
        wizard.action_analyze()
        wizard.action_import()
        self.assertTrue(self._partners_by_phone("+13475550101"))
        self.assertFalse(self._partners_by_phone("+393475550101"))

    def test_company_country_without_account(self):
        self.env["spoki.account"].search([("company_id", "=", self.company_a.id)]).write({"active": False})
        self.company_a.country_id = self.env.ref("base.es")
        wizard = self._wizard(self._data())
        self.assertEqual(wizard.country_id, self.env.ref("base.es"))
        self.company_a.country_id = False
        wizard = self._wizard(self._data())
        self.assertFalse(wizard.country_id)
        self.assertIn("can't be read", wizard.country_note)
        wizard.action_analyze()
        self.assertEqual((wizard.valid_count, wizard.guessed_country_count), (1, 0))
