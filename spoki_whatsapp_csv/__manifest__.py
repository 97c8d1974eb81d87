# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Spoki WhatsApp: Manage CSV",
    "summary": "Clean, deduplicate and import WhatsApp contacts from CSV/Excel files "
    "(update in place, lists from file) and export them to CSV",
    "version": "18.0.1.0.0",
    "category": "Marketing/WhatsApp",
    "website": "https://github.com/spoki-odoo/spoki-whatsapp",
    "author": "Spoki WhatsApp for Odoo contributors",
    "maintainers": [],
    "license": "LGPL-3",
    "development_status": "Beta",
    "installable": True,
    "depends": ["spoki_whatsapp", "sms"],
    "external_dependencies": {"python": ["xlrd", "openpyxl", "phonenumbers", "xlsxwriter"]},
    "data": [
        "security/ir.model.access.csv",
        "security/spoki_whatsapp_csv_rules.xml",
        "wizard/spoki_csv_import_views.xml",
        "views/res_partner_views.xml",
        "views/spoki_list_views.xml",
        "views/spoki_csv_menus.xml",
    ],
}
