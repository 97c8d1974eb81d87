from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import NOW, SpokiReportsCommon


@tagged("post_install", "-at_install")
class TestReportsAccess(SpokiReportsCommon):
    """An agent of company B sees nothing of company A: dashboard data, chart,
    messages analysis, monthly reports."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._create_march_history()
        cls.report_a = cls.env["spoki.monthly.report"].create(
            {"account_id": cls.account.id, "year": 2025, "month": "3", "tz": "Europe/Rome"}
        )
        cls.report_b = cls.env["spoki.monthly.report"].create(
            {"account_id": cls.account_b.id, "year": 2025, "month": "3", "tz": "Europe/Rome"}
        )

    def test_dashboard(self):
        Dashboard = self.env["spoki.dashboard"].with_user(self.agent_b)
        data = Dashboard.get_dashboard_data(now=NOW)
        self.assertEqual([account["id"] for account in data["accounts"]], [self.account_b.id])
        self.assertEqual(data["account_id"], self.account_b.id)
        self.assertEqual({f["key"]: f["value"] for f in data["last_month"]["figures"]}["message_count"], 1)
        with self.assertRaises(AccessError):
            Dashboard.get_dashboard_data(self.account.id, now=NOW)
        with self.assertRaises(AccessError):
            Dashboard.get_chart_data(self.account.id, "day", now=NOW)
        # the agent of company A sees A (not B)
        data = self.env["spoki.dashboard"].with_user(self.agent).get_dashboard_data(now=NOW)
        ids = [account["id"] for account in data["accounts"]]
        self.assertIn(self.account.id, ids)
        self.assertNotIn(self.account_b.id, ids)

    def test_dashboard_needs_whatsapp_group(self):
        outsider = new_test_user(
            self.env, login="spoki_outsider", groups="base.group_user", company_id=self.company_a.id
        )
        with self.assertRaises(AccessError):
            self.env["spoki.dashboard"].with_user(outsider).get_dashboard_data()
        with self.assertRaises(AccessError):
            self.env["spoki.message.report"].with_user(outsider).search([])

    def test_messages_analysis(self):
        Analysis = self.env["spoki.message.report"]
        self.assertEqual(Analysis.with_user(self.agent_b).search_count([]), 1)
        self.assertFalse(Analysis.with_user(self.agent_b).search([("account_id", "=", self.account.id)]))
        groups = Analysis.with_user(self.agent_b).read_group([], ["message_count:sum"], ["account_id"])
        self.assertEqual([g["account_id"][0] for g in groups], [self.account_b.id])
        self.assertNotIn(self.account_b, Analysis.with_user(self.agent).search([]).account_id)
        rows = Analysis.with_user(self.agent).search([("account_id", "in", (self.account | self.account_b).ids)])
        self.assertEqual(set(rows.mapped("account_id").ids), {self.account.id})
        self.assertEqual(len(rows), 11)
        self.assertEqual(sum(rows.mapped("exchanged_count")), 9)  # 7 in March + February + April
        with self.assertRaises(AccessError):
            rows[:1].with_user(self.agent).write({"state": "read"})

    def test_monthly_reports(self):
        Report = self.env["spoki.monthly.report"].with_user(self.agent_b)
        self.assertEqual(Report.search([]), self.report_b)
        self.assertFalse(
            self.env["spoki.monthly.report.line"].with_user(self.agent_b).search([("report_id", "=", self.report_a.id)])
        )
        with self.assertRaises(AccessError):
            Report.browse(self.report_a.id).read(["message_count"])
        with self.assertRaises(AccessError):
            Report.create({"account_id": self.account.id, "year": 2025, "month": "3"})
        with self.assertRaises(AccessError):
            Report.action_open_month(self.account.id, 2025, 3)
        with self.assertRaises(AccessError):
            Report.browse(self.report_a.id).action_refresh()
        # agents create and refresh their own company's reports, but don't delete them
        own = (
            self.env["spoki.monthly.report"]
            .with_user(self.agent)
            .create({"account_id": self.account.id, "year": 2025, "month": "3"})
        )
        own.action_refresh()
        self.assertEqual((own.message_count, len(own.line_ids)), (7, 31))
        with self.assertRaises(AccessError):
            own.unlink()
