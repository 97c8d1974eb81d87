# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Spoki WhatsApp Reports",
    "summary": "WhatsApp dashboard (status, tier outlook, messages chart), monthly "
    "reports with XLSX/CSV/PDF downloads and a messages analysis",
    "version": "18.0.1.0.0",
    "category": "Marketing/WhatsApp",
    "website": "https://github.com/spoki-odoo/spoki-whatsapp",
    "author": "Spoki WhatsApp for Odoo contributors",
    "maintainers": [],
    "license": "LGPL-3",
    "development_status": "Beta",
    "installable": True,
    "depends": ["spoki_whatsapp", "web"],
    "external_dependencies": {"python": ["openpyxl"]},
    "data": [
        "security/ir.model.access.csv",
        "security/spoki_whatsapp_reports_rules.xml",
        "report/spoki_message_report_views.xml",
        "report/spoki_monthly_report_reports.xml",
        "views/spoki_monthly_report_views.xml",
        "views/spoki_dashboard_views.xml",
        "views/spoki_whatsapp_reports_menus.xml",
    ],
    "demo": [
        "demo/spoki_whatsapp_reports_demo.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "spoki_whatsapp_reports/static/src/**/*",
        ],
    },
}
