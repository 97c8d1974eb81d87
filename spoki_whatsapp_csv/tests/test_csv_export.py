import csv
import io
from unittest.mock import patch

from openpyxl import load_workbook

from odoo.tests import HttpCase, tagged

from odoo.addons.mail.tests.common import mail_new_test_user

from ..tools.reader import open_table
from ..wizard import spoki_csv_export
from .common import SpokiCsvCommon


def parse(chunks):
    text = b"".join(chunks).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@tagged("post_install", "-at_install")
class TestCsvExport(SpokiCsvCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tag_vip = cls.env["res.partner.category"].create({"name": "VIP"})
        cls.tag_promo = cls.env["res.partner.category"].create({"name": "Promo June"})
        cls.list_a = cls.env["spoki.list"].create({"name": "Newsletter"})
        cls.list_b_company = cls.env["spoki.list"].create({"name": "Company B only", "company_id": cls.company_b.id})
        cls.partner_it.write(
            {
                "email": "mario@example.it",
                "lang": "it_IT",
                "category_id": [(6, 0, (cls.tag_vip | cls.tag_promo).ids)],
                "spoki_list_ids": [(6, 0, (cls.list_a | cls.list_b_company).ids)],
                "wa_opt_out": True,
            }
        )
        cls.partner_it._spoki_set_values(
            {"BIRTHDAY_DATE": "1990-05-01", "APPOINTMENT": "2025-01-15 08:00:00", "LINK": "=cmd|' /C calc'!A0"}
        )
        cls.partner_formula = cls.env["res.partner"].create(
            {"name": "Formula", "wa_first_name": "@SUM(1+1)", "wa_last_name": "-2+3", "mobile": "+39 348 000 0001"}
        )

    def _export_rows(self, partners):
        export = (
            self.env["spoki.csv.export"]
            .with_user(self.agent)
            .create({"partner_ids_text": ",".join(str(i) for i in partners.ids)})
        )
        return parse(export._iter_csv(export._get_partner_ids()))

    def test_export_content_and_formula_neutralisation(self):
        rows = self._export_rows(self.partner_it | self.partner_formula | self.partner_bad)
        self.assertEqual(
            rows[0],
            [
                "phone",
                "first name",
                "last name",
                "email",
                "language",
                "APPOINTMENT",
                "BIRTHDAY_DATE",
                "LINK",
                "tags",
                "lists",
                "valid number",
                "opt-out",
            ],
        )
        by_name = {row[1]: row for row in rows[1:]}
        mario = by_name["Mario"]
        # the date-time is shown in the user's time zone (Rome, UTC+1 in January)
        self.assertEqual(
            mario,
            [
                "+393471234567",
                "Mario",
                "Rossi",
                "mario@example.it",
                "it_IT",
                "2025-01-15 09:00:00",
                "1990-05-01",
                "'=cmd|' /C calc'!A0",
                "Promo June, VIP",
                "Newsletter",
                "yes",
                "yes",
            ],
        )
        self.assertNotIn("Company B only", mario[9], "lists of other companies are not disclosed")
        formula = by_name["'@SUM(1+1)"]
        self.assertEqual(formula[:3], ["+393480000001", "'@SUM(1+1)", "'-2+3"])
        bad = by_name["Bad"]
        self.assertEqual((bad[0], bad[2], bad[10]), ("12", "Number", "no"))
        # the export reads back through Manage CSV's reader unchanged
        data = b"\xef\xbb\xbf" + "\r\n".join(",".join(_quote(v) for v in row) for row in rows).encode()
        table = open_table(data)
        back = {cells[1]: cells for _n, cells in table.rows}
        self.assertEqual(back["@SUM(1+1)"][:3], ["+393480000001", "@SUM(1+1)", "-2+3"])
        self.assertEqual(back["Mario"][7], "=cmd|' /C calc'!A0")

    def test_export_xlsx_same_columns_and_rules(self):
        """Export contacts as XLSX too (issue 14): the same columns and cells
        as the CSV (E.164 plain in the phone column, formulas neutralised),
        every cell a string cell."""
        partners = self.partner_it | self.partner_formula | self.partner_bad
        csv_rows = self._export_rows(partners)
        action = (
            self.env["res.partner"]
            .with_user(self.agent)
            .with_context(active_model="res.partner", active_ids=partners.ids)
            .action_spoki_xlsx_export()
        )
        export = self.env["spoki.csv.export"].browse(int(action["url"].rsplit("/", 1)[1]))
        self.assertEqual(export.file_format, "xlsx")
        with patch.object(spoki_csv_export, "CHUNK_SIZE", 2):
            content = export.with_user(self.agent)._xlsx_content(export._get_partner_ids())
        sheet = load_workbook(io.BytesIO(content)).active
        xlsx_rows = [[cell.value or "" for cell in row] for row in sheet.iter_rows()]
        self.assertEqual(xlsx_rows, csv_rows)
        by_name = {row[1]: row for row in xlsx_rows[1:]}
        self.assertEqual(by_name["Mario"][0], "+393471234567")
        self.assertEqual(by_name["Mario"][7], "'=cmd|' /C calc'!A0")
        self.assertEqual(by_name["'@SUM(1+1)"][:3], ["+393480000001", "'@SUM(1+1)", "'-2+3"])
        self.assertEqual({cell.data_type for row in sheet.iter_rows() for cell in row if cell.value}, {"s"})

    def test_export_streams_in_chunks(self):
        partners = self._create_partners(7, prefix="+39349")
        export = (
            self.env["spoki.csv.export"]
            .with_user(self.agent)
            .create({"partner_ids_text": ",".join(str(i) for i in partners.ids)})
        )
        with patch.object(spoki_csv_export, "CHUNK_SIZE", 3):
            chunks = list(export._iter_csv(export._get_partner_ids()))
        self.assertEqual(len(chunks), 1 + 3, "header, then 3 + 3 + 1 contacts")
        self.assertEqual(len(parse(chunks)), 8)

    def test_export_action_selection_or_domain(self):
        Partner = self.env["res.partner"].with_user(self.agent)
        selection = (self.partner_it | self.partner_es).ids
        action = Partner.with_context(
            active_model="res.partner", active_ids=selection, active_domain=[("id", ">", 0)]
        ).action_spoki_csv_export()
        self.assertEqual(action["type"], "ir.actions.act_url")
        export = self.env["spoki.csv.export"].browse(int(action["url"].rsplit("/", 1)[1]))
        self.assertEqual(sorted(export._get_partner_ids()), sorted(selection))
        # "select all" beyond the web client's id limit (or no selection): the filter
        self.env["ir.config_parameter"].set_param("web.active_ids_limit", 2)
        domain = [("wa_phone", "=like", "+39%")]
        action = Partner.with_context(
            active_model="res.partner", active_ids=selection, active_domain=domain
        ).action_spoki_csv_export()
        export = self.env["spoki.csv.export"].browse(int(action["url"].rsplit("/", 1)[1]))
        self.assertEqual(export._get_partner_ids(), Partner.search(domain, order="id").ids)
        action = Partner.with_context(
            active_model="res.partner", active_ids=[], active_domain=domain
        ).action_spoki_csv_export()
        export = self.env["spoki.csv.export"].browse(int(action["url"].rsplit("/", 1)[1]))
        self.assertEqual(export.domain, repr(domain))


def _quote(value):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([value])
    return buffer.getvalue()


@tagged("post_install", "-at_install")
class TestCsvExportHttp(HttpCase):
    def test_export_route_streams_csv_for_its_owner_only(self):
        agent = mail_new_test_user(
            self.env, login="csv_agent", groups="base.group_user,spoki_whatsapp.group_spoki_user"
        )
        mail_new_test_user(self.env, login="csv_other", groups="base.group_user,spoki_whatsapp.group_spoki_user")
        partners = self.env["res.partner"].create(
            [{"name": f"Stream {i}", "mobile": f"+39 347 900 {i:04d}"} for i in range(12)]
        )
        export = (
            self.env["spoki.csv.export"]
            .with_user(agent)
            .create({"partner_ids_text": ",".join(str(i) for i in partners.ids)})
        )
        self.authenticate("csv_agent", "csv_agent")
        with patch.object(spoki_csv_export, "CHUNK_SIZE", 5):
            response = self.url_open(f"/spoki_whatsapp_csv/export/{export.id}")
        self.assertEqual(response.status_code, 200)
        self.assertIn("text/csv", response.headers["Content-Type"])
        self.assertIn("attachment", response.headers["Content-Disposition"])
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        self.assertEqual(len(rows), 13)
        self.assertEqual({row[0] for row in rows[1:]}, {f"+39347900{i:04d}" for i in range(12)})
        self.authenticate("csv_other", "csv_other")
        response = self.url_open(f"/spoki_whatsapp_csv/export/{export.id}")
        self.assertEqual(response.status_code, 404)

    def test_export_route_sends_xlsx(self):
        mail_new_test_user(self.env, login="xlsx_agent", groups="base.group_user,spoki_whatsapp.group_spoki_user")
        agent = self.env["res.users"].search([("login", "=", "xlsx_agent")])
        partners = self.env["res.partner"].create(
            [{"name": f"Sheet {i}", "mobile": f"+39 347 910 {i:04d}"} for i in range(3)]
        )
        action = (
            self.env["res.partner"]
            .with_user(agent)
            .with_context(active_model="res.partner", active_ids=partners.ids)
            .action_spoki_xlsx_export()
        )
        self.authenticate("xlsx_agent", "xlsx_agent")
        response = self.url_open(action["url"])
        self.assertEqual(response.status_code, 200)
        self.assertIn("spreadsheetml", response.headers["Content-Type"])
        self.assertIn(".xlsx", response.headers["Content-Disposition"])
        rows = [[cell.value for cell in row] for row in load_workbook(io.BytesIO(response.content)).active.iter_rows()]
        self.assertEqual(rows[0][0], "phone")
        self.assertEqual({row[0] for row in rows[1:]}, {f"+39347910{i:04d}" for i in range(3)})
