import random
from datetime import date, datetime, timedelta

import pytz
from freezegun import freeze_time

from odoo.tests import tagged

from ..models.spoki_monthly_report import FIGURES, SENT_STATES
from .common import NOW, SpokiReportsCommon, rome


@tagged("post_install", "-at_install")
class TestMonthlyReport(SpokiReportsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._create_march_history()

    def _report(self, account=None, year=2025, month=3, tz="Europe/Rome", user=None):
        return (
            self.env["spoki.monthly.report"]
            .with_user(user or self.manager)
            .create({"account_id": (account or self.account).id, "year": year, "month": str(month), "tz": tz})
        )

    def _figures(self, report):
        return {name: report[name] for name in FIGURES}

    def test_march_figures(self):
        report = self._report()
        self.assertEqual(
            self._figures(report),
            {
                "contact_count": 4,  # numbers 1, 2, 3, 6 (4 failed, 5 queued: not contacted)
                "conversation_count": 4,
                "message_count": 7,
                "template_count": 3,
                "text_count": 2,
                "received_count": 2,
                "sent_count": 5,
                "delivered_count": 4,
                "read_count": 2,
                "failed_count": 1,
            },
        )
        self.assertEqual((report.date_from, report.date_to), (date(2025, 3, 1), date(2025, 3, 31)))
        self.assertTrue(report.computed_at)
        self.assertIn("2025", report.name)

    def test_daily_lines(self):
        report = self._report()
        lines = report.line_ids.sorted("day")
        self.assertEqual(len(lines), 31)
        self.assertEqual(lines[0].day, date(2025, 3, 1))
        by_day = {line.day.day: line for line in lines}
        self.assertEqual((by_day[1].message_count, by_day[1].contact_count, by_day[1].conversation_count), (3, 1, 1))
        self.assertEqual((by_day[1].template_count, by_day[1].text_count, by_day[1].received_count), (1, 1, 1))
        # 23:59:59 and 00:00:00 local land in different days
        self.assertEqual((by_day[10].message_count, by_day[10].conversation_count), (1, 1))
        self.assertEqual((by_day[11].message_count, by_day[11].conversation_count), (1, 1))
        self.assertEqual((by_day[15].message_count, by_day[15].failed_count), (0, 1))
        self.assertEqual((by_day[31].message_count, by_day[31].contact_count, by_day[31].conversation_count), (2, 2, 1))
        self.assertEqual(sum(lines.mapped("message_count")), report.message_count)
        self.assertEqual(sum(lines.mapped("conversation_count")), report.conversation_count)

    def test_month_boundaries_follow_the_timezone(self):
        """The same month cut at midnight UTC: 1 March 00:00 Rome is February in
        UTC, 1 April 00:00 Rome is still March in UTC."""
        report = self._report(tz="UTC")
        self.assertEqual(report.message_count, 7)  # 2, 3, 4, 5, 8, 9 and the 1 April 00:00 Rome reply
        self.assertEqual(report.received_count, 3)
        self.assertEqual(report.template_count, 2)
        self.assertEqual(report.contact_count, 5)
        self.assertEqual(report.conversation_count, 4)  # 2, 3, 6 and 8
        february = self._report(month=2)
        self.assertEqual((february.message_count, february.contact_count), (1, 1))
        april = self._report(month=4)
        self.assertEqual((april.message_count, april.received_count), (1, 1))

    def test_default_month_is_last_month(self):
        with freeze_time(NOW):
            report = self.env["spoki.monthly.report"].with_user(self.manager).create({"account_id": self.account.id})
        self.assertEqual((report.year, report.month, report.tz), (2025, "3", "Europe/Rome"))
        self.assertEqual(report.message_count, 7)
        # 1 January 00:30 in Rome is still 31 December in UTC: last month is November there
        with freeze_time(datetime(2024, 12, 31, 23, 30)):
            self.assertEqual(self.env["spoki.monthly.report"].with_user(self.manager)._default_year_month(), (2024, 12))
            self.assertEqual(
                self.env["spoki.monthly.report"].with_user(self.manager).with_context(tz="UTC")._default_year_month(),
                (2024, 11),
            )

    def test_refresh_recomputes(self):
        report = self._report()
        self._create_messages([self._msg(self.account, "+393470000099", rome(2025, 3, 5, 8, 0, 0), state="read")])
        self.assertEqual(report.message_count, 7)
        report.action_refresh()
        self.assertEqual((report.message_count, report.template_count, report.contact_count), (8, 4, 5))
        self.assertEqual(len(report.line_ids), 31)
        # changing the month recomputes too
        report.month = "2"
        self.assertEqual((report.message_count, len(report.line_ids)), (1, 28))

    def test_open_month_reuses_the_report(self):
        Report = self.env["spoki.monthly.report"].with_user(self.manager)
        action = Report.action_open_month(self.account.id, 2025, 3)
        self.assertEqual(action["res_model"], "spoki.monthly.report")
        again = Report.action_open_month(self.account.id, 2025, 3)
        self.assertEqual(action["res_id"], again["res_id"])
        self.assertEqual(Report.browse(action["res_id"]).message_count, 7)

    def test_generated_history_agrees_with_orm_counts(self):
        """Random history over three accounts and three months: every figure of
        every month, in three timezones, equals the count over spoki.message /
        spoki.conversation with the local month turned into a UTC range."""
        account_c = self.env["spoki.account"].create(
            {"name": "Third", "phone": "+390200000077", "company_id": self.company_a.id}
        )
        accounts = self.account | self.account_b | account_c
        rng = random.Random(20250315)
        start = datetime(2025, 1, 31, 0, 0, 0)
        span = int(timedelta(days=92).total_seconds())
        states = ["queued", "sending", "sent", "delivered", "read", "failed"]
        vals_list, conv_list = [], []
        for _index in range(700):
            account = rng.choice(accounts)
            phone = f"+39347{rng.randrange(60):07d}"
            when = start + timedelta(seconds=rng.randrange(span))
            if rng.random() < 0.1:  # around local midnights
                when = rome(2025, rng.choice([2, 3, 4]), 1, 0, 0, 0) + timedelta(seconds=rng.choice([-1, 0, 1]))
            direction = "incoming" if rng.random() < 0.3 else "outgoing"
            kind = rng.choice(["template", "text"])
            vals_list.append(self._msg(account, phone, when, direction=direction, kind=kind, state=rng.choice(states)))
            if rng.random() < 0.3:
                conv_list.append(self._conv(account, phone, when, rng.choice(["business", "customer"])))
        self._create_messages(vals_list)
        self.Conversation.create(conv_list)

        Message = self.Message
        for tz_name in ("Europe/Rome", "UTC", "America/New_York"):
            tz = pytz.timezone(tz_name)
            for month in (2, 3, 4):
                lo = tz.localize(datetime(2025, month, 1)).astimezone(pytz.utc).replace(tzinfo=None)
                hi = tz.localize(datetime(2025, month + 1, 1)).astimezone(pytz.utc).replace(tzinfo=None)
                for account in accounts:
                    report = self._report(account=account, month=month, tz=tz_name, user=self.env.user)
                    base = [("account_id", "=", account.id), ("message_date", ">=", lo), ("message_date", "<", hi)]
                    out = base + [("direction", "=", "outgoing")]
                    exchanged = base + ["|", ("direction", "=", "incoming"), ("state", "in", SENT_STATES)]
                    expected = {
                        "contact_count": len(set(Message.search(exchanged).mapped("wa_phone"))),
                        "conversation_count": self.Conversation.search_count(
                            [("account_id", "=", account.id), ("start_at", ">=", lo), ("start_at", "<", hi)]
                        ),
                        "message_count": Message.search_count(exchanged),
                        "template_count": Message.search_count(
                            out + [("kind", "=", "template"), ("state", "in", SENT_STATES)]
                        ),
                        "text_count": Message.search_count(out + [("kind", "=", "text"), ("state", "in", SENT_STATES)]),
                        "received_count": Message.search_count(base + [("direction", "=", "incoming")]),
                        "sent_count": Message.search_count(out + [("state", "in", SENT_STATES)]),
                        "delivered_count": Message.search_count(out + [("state", "in", ("delivered", "read"))]),
                        "read_count": Message.search_count(out + [("state", "=", "read")]),
                        "failed_count": Message.search_count(out + [("state", "=", "failed")]),
                    }
                    self.assertEqual(self._figures(report), expected, f"{account.name} {month}/2025 {tz_name}")
                    self.assertGreater(expected["message_count"], 0)
                    # the daily rows add up (people contacted: distinct per day)
                    for name in FIGURES:
                        if name != "contact_count":
                            self.assertEqual(sum(report.line_ids.mapped(name)), expected[name], name)
