from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from ..models.spoki_monthly_report import FIGURES
from .common import NOW, SpokiReportsCommon


@tagged("post_install", "-at_install")
class TestDashboard(SpokiReportsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._create_march_history()
        a, p = cls.account, "+39347666000"
        hour = timedelta(hours=1)
        cls._create_messages(
            [
                # counted: business-initiated, accepted
                cls._msg(a, p + "10", NOW - hour, state="read"),
                cls._msg(a, p + "11", NOW - 2 * hour, state="sending"),
                cls._msg(a, p + "10", NOW - 23 * hour, state="delivered"),  # same number again
                cls._msg(a, p + "12", NOW - 25 * hour, state="sent"),  # 7 days only
                cls._msg(a, p + "13", NOW - timedelta(days=6), state="read"),
                # not counted
                cls._msg(a, p + "14", NOW - timedelta(days=8), state="read"),  # older than 7 days
                cls._msg(a, p + "15", NOW - hour, kind="text", state="read"),  # reply inside the window
                cls._msg(a, p + "16", NOW - hour, state="failed"),
                cls._msg(a, p + "17", NOW - hour, state="queued"),
                cls._msg(a, p + "18", NOW - hour, direction="incoming"),
                cls._msg(a, p + "19", NOW + hour, state="sent"),  # in the future of the fixed clock
            ]
        )
        cls.Dashboard = cls.env["spoki.dashboard"].with_user(cls.manager)

    def _data(self, account=None, **kwargs):
        return self.Dashboard.get_dashboard_data((account or self.account).id, now=NOW, **kwargs)

    def _orm_unique(self, since):
        messages = self.Message.search(
            [
                ("account_id", "=", self.account.id),
                ("counts_for_limit", "=", True),
                ("direction", "=", "outgoing"),
                ("state", "in", ("sending", "sent", "delivered", "read")),
                ("message_date", ">", NOW - since),
                ("message_date", "<=", NOW),
            ]
        )
        return len(set(messages.mapped("wa_phone")))

    def test_status(self):
        data = self._data()
        status = data["status"]
        self.assertEqual((status["unique_24h"], status["unique_7d"]), (2, 4))
        self.assertEqual(status["unique_24h"], self._orm_unique(timedelta(hours=24)))
        self.assertEqual(status["unique_7d"], self._orm_unique(timedelta(days=7)))
        self.assertEqual((status["quality"], status["phone_status"]), ("high", "connected"))
        self.assertEqual(status["tier_limit"], 1000)
        self.assertEqual(status["usage_percent"], 0.2)
        self.assertEqual(status["remaining"], 998)
        self.assertEqual(data["account"]["name"], self.account.name)
        self.assertEqual(data["account_id"], self.account.id)
        self.assertEqual(data["tz"], "Europe/Rome")

    def test_quality_is_reported(self):
        self.account.write({"quality": "low", "phone_status": "flagged"})
        status = self._data()["status"]
        self.assertEqual((status["quality"], status["quality_label"]), ("low", "Low"))
        self.assertEqual((status["phone_status"], status["phone_status_label"]), ("flagged", "Flagged"))

    def test_outlook_guide(self):
        outlook = self._data()["outlook"]
        self.assertTrue(outlook["available"])
        self.assertEqual(outlook["action"], "stay")
        self.assertEqual((outlook["threshold_7d"], outlook["needed_7d"]), (2000, 1996))
        self.assertFalse(outlook["earliest_promotion"])
        self.assertIn("1,996", outlook["summary"])

    def test_outlook_meta_promotion(self):
        """Meta 2025: 125 unique users in 7 days at the 250 step qualify; the new
        limit is expected about 6 hours later."""
        account = self.env["spoki.account"].create(
            {"name": "Meta", "phone": "+390200000055", "company_id": self.company_a.id, "tier_policy": "meta"}
        )
        self.assertEqual(account.tier_limit, 250)
        data = self._data(account)
        self.assertEqual((data["outlook"]["threshold_7d"], data["outlook"]["needed_7d"]), (125, 125))
        self._create_messages(
            [
                self._msg(account, f"+39348{i:07d}", NOW - timedelta(hours=1 + i % 20), state="delivered")
                for i in range(125)
            ]
        )
        data = self._data(account)
        self.assertEqual((data["status"]["unique_24h"], data["status"]["unique_7d"]), (125, 125))
        self.assertEqual(data["outlook"]["action"], "promote")
        self.assertEqual(data["outlook"]["needed_7d"], 0)
        self.assertEqual(data["outlook"]["earliest_promotion"], fields.Datetime.to_string(NOW + timedelta(hours=6)))
        self.assertTrue(data["outlook"]["earliest_promotion_display"])
        self.assertEqual(data["status"]["usage_percent"], 50.0)

    def test_last_month(self):
        last_month = self._data()["last_month"]
        self.assertEqual((last_month["year"], last_month["month"]), (2025, 3))
        report = (
            self.env["spoki.monthly.report"]
            .with_user(self.manager)
            .create({"account_id": self.account.id, "year": 2025, "month": "3"})
        )
        self.assertEqual([figure["key"] for figure in last_month["figures"]], list(FIGURES))
        self.assertEqual(
            {f["key"]: f["value"] for f in last_month["figures"]}, {name: report[name] for name in FIGURES}
        )
        self.assertEqual({f["key"]: f["value"] for f in last_month["figures"]}["message_count"], 7)
        self.assertIn("read receipts", last_month["note"])

    def test_chart_included(self):
        data = self._data(period="hour", date_from="2025-04-15", date_to="2025-04-15")
        self.assertEqual(data["chart"]["period"], "hour")
        self.assertEqual(len(data["chart"]["labels"]), 24)
        # 11:00 in Rome = NOW - 1 h: read template, read text, incoming (failed/queued excluded)
        series = dict(zip(data["chart"]["labels"], zip(data["chart"]["incoming"], data["chart"]["outgoing"])))
        self.assertEqual(series["2025-04-15 11:00"], (1, 2))
        self.assertEqual(series["2025-04-15 13:00"], (0, 1))  # the future message of the fixed clock
        self.assertEqual(
            [option["key"] for option in data["periods"]], ["minute", "hour", "day", "month", "quarter", "year"]
        )

    def test_accounts_switcher_and_help(self):
        other = self.env["spoki.account"].create(
            {"name": "Second number", "phone": "+390200000066", "company_id": self.company_a.id}
        )
        data = self.Dashboard.get_dashboard_data(now=NOW)
        ids = [account["id"] for account in data["accounts"]]
        self.assertIn(self.account.id, ids)
        self.assertIn(other.id, ids)
        self.assertNotIn(self.account_b.id, ids)
        self.assertEqual(data["account_id"], ids[0])
        self.assertEqual(self._data(other)["account"]["name"], "Second number")
        self.company_a.write(
            {
                "spoki_help_training_url": "https://example.com/training",
                "spoki_help_rules_url": "https://example.com/rules",
                "spoki_help_videos_url": False,
            }
        )
        help_links = self._data()["help"]
        self.assertEqual(help_links["training"], "https://example.com/training")
        self.assertEqual(help_links["rules"], "https://example.com/rules")
        self.assertEqual(help_links["videos"], "")

    def test_credit(self):
        self.account.credit_balance = 123.45
        account = self._data()["account"]
        self.assertEqual(account["credit"], 123.45)
        self.assertIn("123.45", account["credit_display"])

    def test_no_account(self):
        company = self.env["res.company"].create({"name": "Company without WhatsApp"})
        self.manager.write({"company_ids": [(4, company.id)]})
        data = self.Dashboard.with_company(company).with_context(allowed_company_ids=company.ids).get_dashboard_data()
        self.assertFalse(data["account_id"])
        self.assertNotIn("account", data)
        self.assertIn("help", data)

    def test_paused_campaigns(self):
        Campaign = self.env["spoki.campaign"]
        campaign = Campaign.create({"name": "Promo", "account_id": self.account.id})
        campaign.write({"state": "paused", "pause_reason": "Quality rating dropped to low"})
        Campaign.create({"name": "Other", "account_id": self.account.id})
        paused = self._data()["paused_campaigns"]
        self.assertEqual([(c["id"], c["reason"]) for c in paused], [(campaign.id, "Quality rating dropped to low")])

    def test_quality_guard(self):
        self.assertFalse(self._data()["status"]["quality_guard"])
        self.account.sudo().write(
            {"quality_guard_state": "tripped", "quality_guard_reason": "quality", "quality_guard_at": NOW}
        )
        guard = self._data()["status"]["quality_guard"]
        self.assertTrue(guard)
        self.assertTrue(guard["reason"])

    def test_tier_history(self):
        self.assertFalse(self._data()["tier_history"])
        self.env["spoki.tier.history"].create(
            [
                {
                    "account_id": self.account.id,
                    "date": "2025-04-14",
                    "tier_limit": 1000,
                    "max_users_24h": 3,
                    "unique_users_7d": 5,
                },
                {
                    "account_id": self.account.id,
                    "date": "2025-04-15",
                    "tier_limit": 0,
                    "max_users_24h": 2,
                    "unique_users_7d": 4,
                },
                {
                    "account_id": self.account.id,
                    "date": "2025-03-01",
                    "tier_limit": 1000,
                    "max_users_24h": 9,
                    "unique_users_7d": 9,
                },  # older than 30 days
                {
                    "account_id": self.account_b.id,
                    "date": "2025-04-15",
                    "tier_limit": 1000,
                    "max_users_24h": 7,
                    "unique_users_7d": 7,
                },
            ]
        )
        history = self._data()["tier_history"]
        self.assertEqual(history["labels"], ["2025-04-14", "2025-04-15"])
        self.assertEqual(history["peak_24h"], [3, 2])
        self.assertEqual(history["unique_7d"], [5, 4])
        self.assertEqual(history["limit"], [1000, None])
