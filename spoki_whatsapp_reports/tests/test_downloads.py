import csv
import io
from datetime import date, datetime

from openpyxl import load_workbook

from odoo.tests import tagged

from ..tools import export
from .common import NOW, SpokiReportsCommon


@tagged("post_install", "-at_install")
class TestDownloads(SpokiReportsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._create_march_history()
        cls.report = (
            cls.env["spoki.monthly.report"]
            .with_user(cls.manager)
            .create({"account_id": cls.account.id, "year": 2025, "month": "3", "tz": "Europe/Rome"})
        )

    def test_monthly_xlsx(self):
        workbook = load_workbook(io.BytesIO(self.report._export_xlsx()))
        self.assertEqual(workbook.sheetnames, ["Totals", "Daily"])
        totals = {row[0]: row[1] for row in workbook["Totals"].iter_rows(min_row=2, values_only=True)}
        self.assertEqual(totals["People contacted"], 4)
        self.assertEqual(totals["Conversations"], 4)
        self.assertEqual(totals["Messages exchanged"], 7)
        self.assertEqual(totals["Templates sent"], 3)
        self.assertEqual(totals["Free messages sent"], 2)
        self.assertEqual(totals["Messages received"], 2)
        self.assertEqual(
            (totals["Messages sent"], totals["Messages delivered"], totals["Messages read"], totals["Failed messages"]),
            (5, 4, 2, 1),
        )
        self.assertEqual(totals["Timezone"], "Europe/Rome")
        self.assertIn("read receipts", totals["Note"])
        daily = list(workbook["Daily"].iter_rows(values_only=True))
        self.assertEqual(daily[0][:4], ("Day", "People contacted", "Conversations", "Messages exchanged"))
        self.assertEqual(len(daily), 32)
        self.assertEqual(daily[1][0], datetime(2025, 3, 1))
        self.assertEqual(daily[1][1:4], (1, 1, 3))
        self.assertEqual(sum(row[3] for row in daily[1:]), 7)

    def test_monthly_csv(self):
        content = self.report._export_csv()
        self.assertTrue(content.startswith(b"\xef\xbb\xbf"))
        rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
        self.assertEqual(rows[0][:4], ["Day", "People contacted", "Conversations", "Messages exchanged"])
        self.assertEqual(len(rows), 1 + 31 + 1)
        self.assertEqual(rows[1][:4], ["2025-03-01", "1", "1", "3"])
        self.assertEqual(rows[-1][:4], ["Total", "4", "4", "7"])
        self.assertEqual(sum(int(row[3]) for row in rows[1:-1]), 7)
        self.assertEqual(self.report._export_filename("csv"), "whatsapp_report_Test_sandbox_2025-03.csv")

    def test_chart_exports(self):
        Dashboard = self.env["spoki.dashboard"].with_user(self.manager)
        chart = Dashboard.get_chart_data(self.account.id, "day", "2025-03-01", "2025-03-31", now=NOW)
        title, header, rows = Dashboard._chart_export_sheet(chart)
        parsed = list(csv.reader(io.StringIO(export.csv_bytes(header, rows).decode("utf-8-sig"))))
        self.assertEqual(parsed[0], ["Period start", "Incoming", "Outgoing", "Total"])
        self.assertEqual(len(parsed), 32)
        self.assertEqual(parsed[1], ["2025-03-01 00:00:00", "1", "2", "3"])
        self.assertEqual(sum(int(row[3]) for row in parsed[1:]), 7)
        workbook = load_workbook(io.BytesIO(export.xlsx_bytes([(title, header, rows)])))
        sheet = workbook[workbook.sheetnames[0]]
        values = list(sheet.iter_rows(values_only=True))
        self.assertEqual(values[1], (datetime(2025, 3, 1), 1, 2, 3))
        self.assertEqual(sum(row[3] for row in values[1:]), 7)

    def test_pdf(self):
        """In test mode Odoo renders the HTML of a qweb-pdf report (no
        wkhtmltopdf); the real PDF is rendered in test_ui (HttpCase)."""
        content, report_format = (
            self.env["ir.actions.report"]
            .with_user(self.manager)
            ._render_qweb_pdf("spoki_whatsapp_reports.spoki_monthly_report_action_pdf", self.report.ids)
        )
        html = content.decode()
        self.assertEqual(report_format, "html")
        self.assertIn("Messages exchanged", html)
        self.assertIn("read receipts", html)
        self.assertIn(self.report.name, html)
        self.assertEqual(html.count('<tr><td>Messages exchanged</td><td class="text-end"><span>7</span></td></tr>'), 1)
        action = self.report.action_print_pdf()
        self.assertEqual(action["report_name"], "spoki_whatsapp_reports.report_spoki_monthly_report")

    def test_export_helpers(self):
        data = export.xlsx_bytes([("A/B:C", ["x"], [[date(2025, 1, 2)]]), ("A B C", ["y"], [[False]])])
        workbook = load_workbook(io.BytesIO(data))
        self.assertEqual(len(workbook.sheetnames), 2)
        self.assertEqual(workbook.worksheets[0]["A2"].value, datetime(2025, 1, 2))
        self.assertIsNone(workbook.worksheets[1]["A2"].value)
