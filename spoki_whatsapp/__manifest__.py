# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Spoki WhatsApp",
    "summary": "WhatsApp marketing and chat from Odoo: contacts, lists, dynamic "
    "fields, templates, campaigns and conversations through Spoki or Meta",
    "version": "18.0.1.0.0",
    "category": "Marketing/WhatsApp",
    "website": "https://github.com/spoki-odoo/spoki-whatsapp",
    "author": "Spoki WhatsApp for Odoo contributors",
    "maintainers": [],
    "license": "LGPL-3",
    "development_status": "Beta",
    "application": True,
    "installable": True,
    "depends": ["base", "mail", "contacts", "phone_validation"],
    "external_dependencies": {"python": ["phonenumbers", "requests", "babel"]},
    "data": [
        "security/spoki_whatsapp_security.xml",
        "security/ir.model.access.csv",
        "security/spoki_whatsapp_rules.xml",
        "data/spoki_tier_level_data.xml",
        "data/spoki_dynamic_field_data.xml",
        "data/ir_cron_data.xml",
        "wizard/spoki_list_add_contacts_views.xml",
        "wizard/spoki_template_preview_views.xml",
        "views/spoki_template_views.xml",
        "views/spoki_account_views.xml",
        "views/spoki_dynamic_field_views.xml",
        "views/spoki_list_views.xml",
        "views/res_partner_views.xml",
        "views/res_config_settings_views.xml",
        "views/spoki_whatsapp_menus.xml",
    ],
    "demo": [
        "demo/spoki_whatsapp_demo.xml",
        "demo/spoki_template_demo.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "spoki_whatsapp/static/src/**/*",
        ],
    },
}
