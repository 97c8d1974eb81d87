"""The dashboard as a user sees it, in English and in Italian: the month
picker (current month included), dates in the user's language format in the
range pickers and on the chart's axis, numbers in the user's format on the
charts (Italian thousands separator), the quality rating link, the credit
note. Screenshots in /tmp/screens/D/."""

import time
from datetime import datetime, timedelta
from pathlib import Path

from odoo import fields
from odoo.tests import tagged

from odoo.addons.spoki_whatsapp.tests.browser_signals import BrowserSignalsCase

from .common import WAIT_JS, SpokiReportsCommon

POLISH_JS = (
    WAIT_JS
    + """
const expect = (what, value, expected) => {
    if (value !== expected) {
        throw new Error(`${what}: ${JSON.stringify(value)} instead of ${JSON.stringify(expected)}`);
    }
};
(async () => {
    await wait('.o_spoki_dashboard [data-kpi="tier_limit"]', (el) => text(el) === "%(thousand)s");
    const link = await wait(".o_spoki_dashboard .o_spoki_quality_help");
    expect("quality link", link.getAttribute("href"), "https://www.facebook.com/business/help/896873687365001");
    expect("quality link label", text(link), "%(quality_label)s");
    await wait('.o_spoki_dashboard [data-kpi="credit_note"]');
    // the range pickers and the axis: the user's date format
    const from = await wait(".o_spoki_date_from input", (el) => el.value);
    expect("range start", from.value, "%(date_from)s");
    expect("range end", document.querySelector(".o_spoki_date_to input").value, "%(date_to)s");
    const chart = Chart.getChart(await wait("canvas.o_spoki_chart"));
    expect("last axis label", chart.data.labels[chart.data.labels.length - 1], "%(date_to)s");
    expect("y ticks", chart.options.scales.y.ticks.callback(12000), "%(twelve_thousand)s");
    // the month picker offers the current month; its figures replace last month's
    const picker = await wait(".o_spoki_month_picker");
    expect("first month offered", picker.options[0].value, "%(current_month)s");
    expect("month shown", picker.value, "%(last_month)s");
    picker.value = "%(current_month)s";
    picker.dispatchEvent(new Event("change"));
    await wait('[data-kpi="month_sent_count"]', (el) => text(el) === "%(current_sent)s");
    await wait(".o_spoki_month_so_far");
    expect("gauge", text(await wait(".o_spoki_gauge_text")), "%(gauge)s");
    await new Promise((resolve) => setTimeout(resolve, 300));
    console.log("spoki:shot:%(shot)s");
    await new Promise((resolve) => setTimeout(resolve, 800));
    document.querySelector(".o_spoki_chart_card").scrollIntoView();
    await new Promise((resolve) => setTimeout(resolve, 300));
    console.log("spoki:shot:%(shot)s_chart");
    await new Promise((resolve) => setTimeout(resolve, 800));
    console.log("test successful");
})().catch((error) => console.error(error.message || error));
"""
)


@tagged("post_install", "-at_install")
class TestDashboardPolishUi(SpokiReportsCommon, BrowserSignalsCase):
    screens_dir = Path("/tmp/screens/D")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        now = fields.Datetime.now()
        a = cls.account
        cls._create_messages(
            [cls._msg(a, f"+39347777{i:04d}", now - timedelta(minutes=10 + i), state="delivered") for i in range(12)]
            + [cls._msg(a, f"+39347888{i:04d}", now - timedelta(days=2, hours=i % 5), state="read") for i in range(5)]
            + [
                cls._msg(a, f"+39347999{i:04d}", now - timedelta(days=12 + i % 20), direction="incoming")
                for i in range(40)
            ]
        )
        cls.account.write({"quality": "medium", "sequence": 0, "credit_balance": 1234.5})

    def setUp(self):
        super().setUp()
        self.screens = []

    def _expected(self, lang_code, shot):
        Dashboard = self.env["spoki.dashboard"].with_user(self.manager)
        data = Dashboard.get_dashboard_data(self.account.id)
        current = data["last_month"]["options"][0]["value"]
        month = Dashboard.get_month_data(self.account.id, month=current)
        lang = self.env["res.lang"]._lang_get(lang_code)

        def local(day):
            return datetime.strptime(day, "%Y-%m-%d").strftime(lang.date_format)

        italian = lang_code == "it_IT"
        return {
            "thousand": "1.000" if italian else "1,000",
            "twelve_thousand": "12.000" if italian else "12,000",
            "quality_label": "Che cos'è?" if italian else "What is it?",
            "date_from": local(data["chart"]["date_from"]),
            "date_to": local(data["chart"]["date_to"]),
            "current_month": current,
            "last_month": data["last_month"]["value"],
            "current_sent": str({f["key"]: f["value"] for f in month["figures"]}["sent_count"]),
            "gauge": ("1,2%" if italian else "1.2%"),
            "shot": shot,
        }

    def _run(self, lang_code, shot):
        self.manager.lang = lang_code
        code = POLISH_JS % self._expected(lang_code, shot)
        with self._console_patch():
            self.browser_js("/odoo/whatsapp-dashboard", code, login="spoki_manager", timeout=180)
        time.sleep(1)
        self.assertIn(shot, self.screens)
        self.assertIn(f"{shot}_chart", self.screens)

    def test_dashboard_english(self):
        self._run("en_US", "dashboard_en")

    def test_dashboard_italian(self):
        self.env["res.lang"]._activate_lang("it_IT")
        self.env["ir.module.module"].search(
            [("name", "in", ("spoki_whatsapp", "spoki_whatsapp_reports", "web"))]
        )._update_translations("it_IT")
        self._run("it_IT", "dashboard_it")
