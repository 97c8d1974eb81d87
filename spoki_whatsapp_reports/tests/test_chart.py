from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import NOW, SpokiReportsCommon, rome


@tagged("post_install", "-at_install")
class TestMessagesChart(SpokiReportsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account_c = cls.env["spoki.account"].create(
            {"name": "Chart", "phone": "+390200000099", "company_id": cls.company_a.id}
        )
        c, p = cls.account_c, "+39347555000"
        cls._create_messages(
            [
                cls._msg(c, p + "1", rome(2024, 12, 31, 23, 59, 59), state="sent"),
                cls._msg(c, p + "2", rome(2025, 1, 1, 0, 0, 0), direction="incoming"),
                cls._msg(c, p + "3", rome(2025, 3, 10, 23, 59, 59), state="read"),
                cls._msg(c, p + "4", rome(2025, 3, 11, 0, 0, 0), kind="text", state="delivered"),
                cls._msg(c, p + "5", rome(2025, 3, 31, 23, 59, 59), direction="incoming"),
                cls._msg(c, p + "6", rome(2025, 4, 1, 0, 0, 0), state="sent"),
                # not exchanged: never in the chart
                cls._msg(c, p + "7", rome(2025, 3, 10, 12, 0, 0), state="failed"),
                cls._msg(c, p + "8", rome(2025, 3, 10, 12, 0, 0), state="queued"),
            ]
        )
        cls.Dashboard = cls.env["spoki.dashboard"].with_user(cls.manager)

    def _chart(self, period, date_from, date_to, dashboard=None):
        dashboard = self.Dashboard if dashboard is None else dashboard
        return dashboard.get_chart_data(self.account_c.id, period, date_from, date_to, now=NOW)

    def _series(self, chart):
        return {label: (inc, out) for label, inc, out in zip(chart["labels"], chart["incoming"], chart["outgoing"])}

    def test_day(self):
        chart = self._chart("day", "2025-03-10", "2025-03-11")
        self.assertEqual(chart["labels"], ["2025-03-10", "2025-03-11"])
        self.assertEqual(chart["outgoing"], [1, 1])
        self.assertEqual(chart["incoming"], [0, 0])
        self.assertEqual(chart["buckets"], ["2025-03-10 00:00:00", "2025-03-11 00:00:00"])

    def test_day_in_utc(self):
        """In UTC both messages (22:59:59 and 23:00:00 UTC) are on 10 March."""
        chart = self._chart("day", "2025-03-10", "2025-03-11", self.Dashboard.with_context(tz="UTC"))
        self.assertEqual(chart["outgoing"], [2, 0])

    def test_hour(self):
        chart = self._chart("hour", "2025-03-10", "2025-03-11")
        self.assertEqual(len(chart["labels"]), 48)
        series = self._series(chart)
        self.assertEqual(series["2025-03-10 23:00"], (0, 1))
        self.assertEqual(series["2025-03-11 00:00"], (0, 1))
        self.assertEqual(chart["total_outgoing"], 2)

    def test_minute(self):
        chart = self._chart("minute", "2025-03-10", "2025-03-11")
        self.assertEqual(len(chart["labels"]), 2880)
        series = self._series(chart)
        self.assertEqual(series["2025-03-10 23:59"], (0, 1))
        self.assertEqual(series["2025-03-11 00:00"], (0, 1))
        self.assertEqual(series["2025-03-10 12:00"], (0, 0))  # failed and queued don't count
        self.assertEqual((chart["total_incoming"], chart["total_outgoing"]), (0, 2))

    def test_month(self):
        chart = self._chart("month", "2025-03-01", "2025-04-30")
        self.assertEqual(self._series(chart), {"2025-03": (1, 2), "2025-04": (0, 1)})

    def test_quarter(self):
        chart = self._chart("quarter", "2024-10-01", "2025-06-30")
        self.assertEqual(self._series(chart), {"2024 Q4": (0, 1), "2025 Q1": (2, 2), "2025 Q2": (0, 1)})

    def test_year(self):
        chart = self._chart("year", "2024-01-01", "2025-12-31")
        self.assertEqual(self._series(chart), {"2024": (0, 1), "2025": (2, 3)})

    def test_default_ranges(self):
        expected = {
            "minute": ("2025-04-15", "2025-04-15", 1440),
            "hour": ("2025-04-14", "2025-04-15", 48),
            "day": ("2025-03-17", "2025-04-15", 30),
            "month": ("2024-05-01", "2025-04-15", 12),
            "quarter": ("2023-07-01", "2025-04-15", 8),
            "year": ("2021-01-01", "2025-04-15", 5),
        }
        for period, (date_from, date_to, count) in expected.items():
            chart = self._chart(period, False, False)
            self.assertEqual(
                (chart["date_from"], chart["date_to"], len(chart["labels"])), (date_from, date_to, count), period
            )

    def test_chart_agrees_with_monthly_report(self):
        self._create_march_history()
        chart = self.Dashboard.get_chart_data(self.account.id, "day", "2025-03-01", "2025-03-31", now=NOW)
        report = (
            self.env["spoki.monthly.report"]
            .with_user(self.manager)
            .create({"account_id": self.account.id, "year": 2025, "month": "3", "tz": "Europe/Rome"})
        )
        self.assertEqual(chart["total_incoming"] + chart["total_outgoing"], report.message_count)
        self.assertEqual(chart["total_incoming"], report.received_count)
        self.assertEqual(chart["total_outgoing"], report.sent_count)
        by_day = {line.day.isoformat(): line.message_count for line in report.line_ids}
        self.assertEqual({label: inc + out for label, (inc, out) in self._series(chart).items()}, by_day)

    def test_refused_ranges(self):
        with self.assertRaises(UserError):
            self._chart("minute", "2025-01-01", "2025-01-10")  # 14,400 points
        with self.assertRaises(UserError):
            self._chart("fortnight", "2025-01-01", "2025-01-10")
        with self.assertRaises(UserError):
            self._chart("day", "2025-01-10", "2025-01-01")
