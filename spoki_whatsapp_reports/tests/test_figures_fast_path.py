from datetime import date, datetime, timedelta

import pytz

from odoo.tests import tagged

from ..models.spoki_monthly_report import DELIVERED_STATES, FIGURES, SENT_STATES
from .common import NOW, SpokiReportsCommon


@tagged("post_install", "-at_install")
class TestFiguresFastPath(SpokiReportsCommon):
    """The report's aggregate queries (people contacted counted on a hash of
    the number, see ``_MESSAGES_SQL``) give exactly the figures of a plain
    count over the ORM, every day and the month, on a generated history where
    numbers repeat within a day and a month and differ only in their last
    digits."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Dashboard = cls.env["spoki.dashboard"]
        # 3,000 messages over 75 days on 37 numbers (+39347000000…36); 10 % on account B, same numbers
        Dashboard._generate_sample_history(cls.account, 3000, days=75, numbers=37, now=NOW)
        Dashboard._generate_sample_history(cls.account_b, 300, days=75, numbers=37, now=NOW)

    def _expected(self, account, tz_name, first, last):
        """``{day: figures}`` and the totals of local days first..last, counted in Python."""
        tz = pytz.timezone(tz_name)
        lo = tz.localize(datetime.combine(first, datetime.min.time())).astimezone(pytz.utc).replace(tzinfo=None)
        hi = tz.localize(datetime.combine(last + timedelta(days=1), datetime.min.time()))
        hi = hi.astimezone(pytz.utc).replace(tzinfo=None)
        messages = self.Message.search_read(
            [("account_id", "=", account.id), ("message_date", ">=", lo), ("message_date", "<", hi)],
            ["wa_phone", "direction", "kind", "state", "message_date"],
        )
        conversations = self.Conversation.search_read(
            [("account_id", "=", account.id), ("start_at", ">=", lo), ("start_at", "<", hi)], ["start_at"]
        )

        def local_day(when):
            return pytz.utc.localize(when).astimezone(tz).date()

        def figures(rows, convs):
            out = [r for r in rows if r["direction"] == "outgoing"]
            sent = [r for r in out if r["state"] in SENT_STATES]
            exchanged = [r for r in rows if r["direction"] == "incoming" or r["state"] in SENT_STATES]
            return {
                "contact_count": len({r["wa_phone"] for r in exchanged}),
                "conversation_count": len(convs),
                "message_count": len(exchanged),
                "template_count": len([r for r in sent if r["kind"] == "template"]),
                "text_count": len([r for r in sent if r["kind"] == "text"]),
                "received_count": len([r for r in rows if r["direction"] == "incoming"]),
                "sent_count": len(sent),
                "delivered_count": len([r for r in out if r["state"] in DELIVERED_STATES]),
                "read_count": len([r for r in out if r["state"] == "read"]),
                "failed_count": len([r for r in out if r["state"] == "failed"]),
            }

        daily = {}
        day = first
        while day <= last:
            rows = [r for r in messages if local_day(r["message_date"]) == day]
            convs = [c for c in conversations if local_day(c["start_at"]) == day]
            daily[day] = figures(rows, convs)
            day += timedelta(days=1)
        return daily, figures(messages, conversations)

    def test_report_equals_plain_counts(self):
        Report = self.env["spoki.monthly.report"]  # account B is in another company than the manager's
        for tz_name in ("Europe/Rome", "America/New_York"):
            for account, month in ((self.account, 3), (self.account, 2), (self.account_b, 3)):
                report = Report.create({"account_id": account.id, "year": 2025, "month": str(month), "tz": tz_name})
                daily, totals = self._expected(account, tz_name, report.date_from, report.date_to)
                label = f"{account.name} {month}/2025 {tz_name}"
                self.assertEqual({name: report[name] for name in FIGURES}, totals, label)
                self.assertGreater(totals["message_count"], totals["contact_count"], "numbers repeat in the month")
                lines = {line.day: {name: line[name] for name in FIGURES} for line in report.line_ids}
                self.assertEqual(lines, daily, label)
                # numbers repeat within a day too: the daily distinct count is exercised
                self.assertTrue(any(d["message_count"] > d["contact_count"] > 0 for d in daily.values()), label)

    def test_dashboard_last_month_equals_plain_counts(self):
        data = self.env["spoki.dashboard"].with_user(self.manager).get_dashboard_data(self.account.id, now=NOW)
        self.assertEqual((data["last_month"]["year"], data["last_month"]["month"]), (2025, 3))
        _daily, totals = self._expected(self.account, "Europe/Rome", date(2025, 3, 1), date(2025, 3, 31))
        self.assertEqual({figure["key"]: figure["value"] for figure in data["last_month"]["figures"]}, totals)


@tagged("post_install", "-at_install")
class TestMessageIndexes(SpokiReportsCommon):
    """Every index of spoki_message is written for every message sent and
    every status applied: the reports' covering index replaces core's
    (account_id, message_date) one instead of doubling it."""

    def _indexes_leading_with_account_date(self):
        self.env.cr.execute(
            """SELECT c.relname
                 FROM pg_index i
                 JOIN pg_class c ON c.oid = i.indexrelid
                 JOIN pg_class t ON t.oid = i.indrelid
                WHERE t.relname = 'spoki_message' AND i.indpred IS NULL
                  AND i.indkey[0] = (SELECT attnum FROM pg_attribute a WHERE a.attrelid = t.oid
                                                                        AND a.attname = 'account_id')
                  AND i.indkey[1] = (SELECT attnum FROM pg_attribute a WHERE a.attrelid = t.oid
                                                                        AND a.attname = 'message_date')
             ORDER BY 1"""
        )
        return [name for (name,) in self.env.cr.fetchall()]

    def test_one_account_date_index(self):
        self.assertEqual(self._indexes_leading_with_account_date(), ["spoki_message_report_idx"])
        self.env["spoki.message"].init()  # core updated after the reports: not created again
        self.assertEqual(self._indexes_leading_with_account_date(), ["spoki_message_report_idx"])
