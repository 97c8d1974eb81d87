"""Issue 14, dashboard and reports: conversations counted once a message was
exchanged (dashboard, monthly report and downloads agree), the month picker,
the account form's live counters, the credit card, the quality link."""

import csv
import io
from datetime import timedelta

from openpyxl import load_workbook

from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.spoki_whatsapp.tools.providers import StatusEvent

from .common import NOW, SpokiReportsCommon, rome


@tagged("post_install", "-at_install")
class TestConversationCountsAgree(SpokiReportsCommon):
    """Three numbers get a template in March, the provider accepts all three
    and later reports one undeliverable: two conversations, everywhere."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        a, p = cls.account, "+39347555000"
        cls.sent = cls._create_messages(
            [
                cls._msg(a, p + "1", rome(2025, 3, 3, 9, 0, 0), provider_message_id="wamid.ok1"),
                cls._msg(a, p + "2", rome(2025, 3, 3, 9, 0, 1), provider_message_id="wamid.ok2"),
                cls._msg(a, p + "3", rome(2025, 3, 3, 9, 0, 2), provider_message_id="wamid.bad"),
            ]
        )
        cls.env["spoki.conversation"]._link_messages(cls.sent)
        cls.env["spoki.message"]._apply_status_events(
            a, [StatusEvent("wamid.bad", "failed", rome(2025, 3, 3, 9, 1, 0), "131026", "Message undeliverable")]
        )

    def test_dashboard_report_and_downloads_agree(self):
        dashboard = self.env["spoki.dashboard"].with_user(self.manager)
        figures = dashboard.get_dashboard_data(self.account.id, now=NOW)["last_month"]["figures"]
        on_dashboard = {figure["key"]: figure["value"] for figure in figures}
        report = (
            self.env["spoki.monthly.report"]
            .with_user(self.manager)
            .create({"account_id": self.account.id, "year": 2025, "month": "3", "tz": "Europe/Rome"})
        )
        totals = {
            row[0]: row[1]
            for row in load_workbook(io.BytesIO(report._export_xlsx()))["Totals"].iter_rows(min_row=2, values_only=True)
        }
        rows = list(csv.reader(io.StringIO(report._export_csv().decode("utf-8-sig"))))
        header, total_row = rows[0], rows[-1]
        in_csv = int(total_row[header.index("Conversations")])
        self.assertEqual(
            (on_dashboard["conversation_count"], report.conversation_count, totals["Conversations"], in_csv),
            (2, 2, 2, 2),
            "the undeliverable template opened no conversation",
        )
        self.assertEqual(on_dashboard["contact_count"], report.contact_count)
        self.assertEqual(report.contact_count, 2)


@tagged("post_install", "-at_install")
class TestMonthPicker(SpokiReportsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._create_march_history()
        a = cls.account
        cls._create_messages([cls._msg(a, "+393475550101", NOW - timedelta(hours=3), state="read")])
        cls.Dashboard = cls.env["spoki.dashboard"].with_user(cls.agent)

    def test_current_month_offered_and_counted(self):
        month = self.Dashboard.get_dashboard_data(self.account.id, now=NOW)["last_month"]
        self.assertEqual(month["value"], "2025-03", "last month by default")
        values = [option["value"] for option in month["options"]]
        self.assertEqual(values[:3], ["2025-04", "2025-03", "2025-02"], "the current month first")
        self.assertEqual(len(values), 24)
        self.assertEqual(month["options"][0]["label"].lower(), "april 2025")
        current = self.Dashboard.get_month_data(self.account.id, month="2025-04", now=NOW)
        self.assertTrue(current["is_current"])
        by_key = {figure["key"]: figure["value"] for figure in current["figures"]}
        self.assertEqual(by_key["sent_count"], 1, "this month's message, not last month's")
        data = self.Dashboard.get_dashboard_data(self.account.id, now=NOW, month="2025-04")
        self.assertEqual(data["last_month"]["figures"], current["figures"])

    def test_month_outside_the_list_refused(self):
        for month in ("2025-05", "2023-01", "April", "2025-13"):
            with self.assertRaises(UserError):
                self.Dashboard.get_month_data(self.account.id, month=month, now=NOW)

    def test_monthly_report_of_the_current_month(self):
        action = self.env["spoki.monthly.report"].with_user(self.manager).action_open_month(self.account.id, 2025, 4)
        report = self.env["spoki.monthly.report"].browse(action["res_id"])
        self.assertEqual((report.year, report.month), (2025, "4"))


@tagged("post_install", "-at_install")
class TestAccountCountersLive(SpokiReportsCommon):
    def test_form_counters_equal_the_dashboard_without_compute_now(self):
        a = self.account
        self._create_messages(
            [self._msg(a, f"+39347444{i:04d}", NOW - timedelta(hours=1 + i), state="delivered") for i in range(5)]
            + [self._msg(a, "+393474449999", NOW - timedelta(days=3), state="read")]
        )
        self.assertEqual(a.unique_users_24h, 0, "the stored snapshot waits for the cron or “Compute now”")
        status = self.env["spoki.dashboard"].with_user(self.manager).get_dashboard_data(a.id, now=NOW)["status"]
        account = a.with_user(self.manager).with_context(spoki_clock=NOW)
        self.assertEqual((status["unique_24h"], status["unique_7d"]), (5, 6))
        self.assertEqual((account.live_users_24h, account.live_users_7d), (5, 6))
        self.assertEqual((account.live_portfolio_users_24h, account.live_portfolio_users_7d), (5, 6))
        arch = account.get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn('name="live_users_24h"', arch)
        self.assertNotIn('name="unique_users_24h"', arch, "the form shows the live figures only")


@tagged("post_install", "-at_install")
class TestCreditCard(SpokiReportsCommon):
    def test_sandbox_consumes_credit_per_conversation(self):
        a = self.account
        a.write({"credit_balance": 10.0, "credit_prices": "marketing = 0.5\nutility = 0.25"})
        template = self.env["spoki.template"].create(
            {"name": "Shipping update", "account_id": a.id, "lang": "en_US", "body": "Shipped", "category": "utility"}
        )
        messages = self._create_messages(
            [
                self._msg(a, "+393475550201", NOW - timedelta(hours=2)),  # no template: service, free
                self._msg(a, "+393475550202", NOW - timedelta(hours=2), template_id=template.id),
                self._msg(a, "+393475550203", NOW - timedelta(hours=2), direction="incoming"),
            ]
        )
        self.env["spoki.conversation"]._link_messages(messages)
        a.invalidate_recordset()
        self.assertAlmostEqual(a.credit_left, 9.75)
        self.assertEqual(a.credit_balance, 10.0, "nothing written per conversation")
        card = self.env["spoki.dashboard"].with_user(self.manager).get_dashboard_data(a.id, now=NOW)["account"]
        self.assertEqual(card["credit"], 9.75)
        self.assertFalse(card["credit_real"])
        self.assertIn("Simulated", card["credit_note"])
        # a conversation removed by a failure after acceptance gives its price back
        messages[1].provider_message_id = "wamid.util"
        self.env["spoki.message"]._apply_status_events(a, [StatusEvent("wamid.util", "failed", NOW, "131026", "")])
        a.invalidate_recordset()
        self.assertAlmostEqual(a.credit_left, 10.0)
        # the provider read-back sets the credit to what is left: consumed from then on
        later = self._create_messages(
            [self._msg(a, "+393475550204", NOW - timedelta(hours=1), template_id=template.id)]
        )
        self.env["spoki.conversation"]._link_messages(later)
        a.invalidate_recordset()
        self.assertAlmostEqual(a.credit_left, 9.75)
        a.with_user(self.manager).action_refresh_status()
        self.assertEqual((round(a.credit_balance, 2), round(a.credit_left, 2)), (9.75, 9.75))

    def test_price_list_checked(self):
        from odoo.exceptions import ValidationError

        with self.assertRaises(ValidationError):
            self.account.credit_prices = "promo = 1"

    def test_meta_shows_no_number(self):
        meta = self.env["spoki.account"].create(
            {"name": "Meta number", "phone": "+390200000077", "provider": "meta", "company_id": self.company_a.id}
        )
        meta.credit_balance = 5.0  # whatever is stored, Meta reports no balance
        card = self.env["spoki.dashboard"].with_user(self.manager).get_dashboard_data(meta.id, now=NOW)["account"]
        self.assertIs(card["credit"], False)
        self.assertEqual(card["credit_display"], "Not reported")
        self.assertIn("doesn't report a credit balance", card["credit_note"])

    def test_quality_link(self):
        status = self.env["spoki.dashboard"].with_user(self.agent).get_dashboard_data(self.account.id, now=NOW)
        self.assertEqual(status["status"]["quality_help_url"], "https://www.facebook.com/business/help/896873687365001")
        arch = self.account.get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn("https://www.facebook.com/business/help/896873687365001", arch)
