import csv
import io
from datetime import timedelta

from openpyxl import load_workbook

from odoo import fields
from odoo.tests import HttpCase, tagged

from .common import WAIT_JS, SpokiReportsCommon

# Waits for the dashboard, checks the figures it shows, opens the "?" menu,
# switches the chart to hourly and checks the chart was redrawn.
DASHBOARD_JS = (
    WAIT_JS
    + """
(async () => {
    const unique24 = await wait('.o_spoki_dashboard [data-kpi="unique_24h"]');
    const unique7 = await wait('.o_spoki_dashboard [data-kpi="unique_7d"]');
    if (text(unique24) !== "%(unique_24h)s" || text(unique7) !== "%(unique_7d)s") {
        throw new Error(`unique users shown: ${text(unique24)} / ${text(unique7)}`);
    }
    const quality = await wait('.o_spoki_dashboard [data-kpi="quality"]');
    if (!quality.classList.contains("text-bg-warning") || text(quality) !== "Medium") {
        throw new Error(`quality shown: ${text(quality)} ${quality.className}`);
    }
    await wait('.o_spoki_dashboard [data-kpi="tier_limit"]', (el) => text(el) === "1,000");
    await wait('.o_spoki_dashboard [data-kpi="needed_7d"]', (el) => text(el) === "%(needed)s");
    await wait('.o_spoki_dashboard .o_spoki_account_switcher');
    await wait('.o_spoki_dashboard canvas.o_spoki_chart');
    const outgoing = await wait('.o_spoki_dashboard [data-kpi="chart_outgoing"]');
    if (text(outgoing) !== "%(outgoing_30d)s") {
        throw new Error(`outgoing in the chart: ${text(outgoing)}`);
    }
    (await wait(".o_spoki_help_toggle")).click();
    await wait(".o_spoki_help_training");
    await wait(".o_spoki_help_rules");
    (await wait('.o_spoki_periods button[data-period="hour"]')).click();
    await wait('.o_spoki_periods button[data-period="hour"].btn-primary');
    await wait(".o_spoki_date_from", (el) => el.dataset.value === "%(yesterday)s");
    const chart = Chart.getChart(document.querySelector("canvas.o_spoki_chart"));
    if (!chart || chart.data.labels.length !== 48) {
        throw new Error(`hourly chart has ${chart && chart.data.labels.length} points`);
    }
    // the download buttons post to the controller (CSRF token included)
    const body = new FormData();
    body.append("account_id", "%(account_id)s");
    body.append("period", "hour");
    body.append("date_from", document.querySelector(".o_spoki_date_from").dataset.value);
    body.append("date_to", document.querySelector(".o_spoki_date_to").dataset.value);
    body.append("csrf_token", odoo.csrf_token);
    const response = await fetch("/spoki_whatsapp_reports/chart/csv", { method: "POST", body });
    const csv = await response.text();
    if (response.status !== 200 || !csv.includes("Period start") || csv.trim().split("\\n").length !== 49) {
        throw new Error(`chart download: ${response.status} ${csv.slice(0, 200)}`);
    }
    console.log("test successful");
})().catch((error) => console.error(error.message || error));
"""
)


@tagged("post_install", "-at_install")
class TestDashboardUi(SpokiReportsCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._create_march_history()
        now = fields.Datetime.now()
        a = cls.account
        cls._create_messages(
            [cls._msg(a, f"+39347777{i:04d}", now - timedelta(hours=2 + i % 3), state="delivered") for i in range(12)]
            + [cls._msg(a, f"+39347888{i:04d}", now - timedelta(days=2, hours=i % 5), state="read") for i in range(5)]
        )
        cls.account.write({"quality": "medium", "sequence": 0})  # first account: the dashboard opens on it
        cls.env["spoki.account"].create(
            {"name": "Second number", "phone": "+390200000066", "company_id": cls.company_a.id}
        )

    def test_dashboard_renders(self):
        data = self.env["spoki.dashboard"].with_user(self.manager).get_dashboard_data(self.account.id)
        self.assertEqual((data["status"]["unique_24h"], data["status"]["unique_7d"]), (12, 17))
        self.assertEqual(data["chart"]["total_outgoing"], 17)
        yesterday = (fields.Date.from_string(data["chart"]["date_to"]) - timedelta(days=1)).isoformat()
        code = DASHBOARD_JS % {
            "unique_24h": 12,
            "unique_7d": 17,
            "needed": "1,983",
            "outgoing_30d": 17,
            "yesterday": yesterday,
            "account_id": self.account.id,
        }
        self.browser_js("/odoo/whatsapp-dashboard", code, login="spoki_manager", timeout=120)

    def test_root_menu_opens_the_dashboard(self):
        root = self.env.ref("spoki_whatsapp.spoki_menu_root")
        self.assertEqual(root.action, self.env.ref("spoki_whatsapp_reports.spoki_dashboard_action"))
        children = root.child_id.sorted("sequence")
        self.assertEqual(children[0], self.env.ref("spoki_whatsapp_reports.spoki_menu_dashboard"))

    def test_http_downloads(self):
        report = self.env["spoki.monthly.report"].create(
            {"account_id": self.account.id, "year": 2025, "month": "3", "tz": "Europe/Rome"}
        )
        self.authenticate("spoki_agent", "spoki_agent")
        response = self.url_open(f"/spoki_whatsapp_reports/monthly/{report.id}/xlsx")
        self.assertEqual(response.status_code, 200)
        self.assertIn("2025-03.xlsx", response.headers["Content-Disposition"])
        workbook = load_workbook(io.BytesIO(response.content))
        self.assertEqual(workbook.sheetnames, ["Totals", "Daily"])
        response = self.url_open(f"/spoki_whatsapp_reports/monthly/{report.id}/csv")
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        self.assertEqual(rows[-1][:4], ["Total", "4", "4", "7"])
        response = self.url_open(
            f"/spoki_whatsapp_reports/chart/csv?account_id={self.account.id}&period=day"
            "&date_from=2025-03-10&date_to=2025-03-11"
        )
        self.assertEqual(response.status_code, 200)
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        self.assertEqual(rows[1:], [["2025-03-10 00:00:00", "0", "1", "1"], ["2025-03-11 00:00:00", "0", "1", "1"]])
        response = self.url_open(
            f"/spoki_whatsapp_reports/chart/xlsx?account_id={self.account.id}&period=month"
            "&date_from=2025-03-01&date_to=2025-03-31"
        )
        sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
        self.assertEqual(list(sheet.iter_rows(min_row=2, values_only=True))[0][1:], (2, 5, 7))
        # company B's agent gets nothing of company A
        self.authenticate("spoki_agent_b", "spoki_agent_b")
        response = self.url_open(f"/spoki_whatsapp_reports/monthly/{report.id}/xlsx")
        self.assertNotEqual(response.status_code, 200)
        response = self.url_open(f"/spoki_whatsapp_reports/chart/csv?account_id={self.account.id}&period=day")
        self.assertNotEqual(response.status_code, 200)

    def test_pdf_with_wkhtmltopdf(self):
        if self.env["ir.actions.report"].get_wkhtmltopdf_state() not in ("ok", "workers"):
            self.skipTest("wkhtmltopdf is not installed")
        report = self.env["spoki.monthly.report"].create(
            {"account_id": self.account.id, "year": 2025, "month": "3", "tz": "Europe/Rome"}
        )
        content, report_format = (
            self.env["ir.actions.report"]
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf("spoki_whatsapp_reports.spoki_monthly_report_action_pdf", report.ids)
        )
        self.assertEqual(report_format, "pdf")
        self.assertTrue(content.startswith(b"%PDF"))
