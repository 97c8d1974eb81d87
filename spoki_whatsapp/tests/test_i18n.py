"""Italian translations stay complete and well-formed.

Odoo's own extractor (the one behind ``--i18n-export``) lists the current
source terms of each installed Spoki addon; every one must have a non-empty
``msgstr`` in ``<addon>/i18n/it.po``, with the same placeholders as its
``msgid``. A new or changed string therefore fails here until it is
translated. To update: install the three addons in a database, then per addon
``odoo -d DB --addons-path=... --i18n-export=<addon>/i18n/<addon>.pot
--modules=<addon> --stop-after-init``, merge the .pot into it.po (msgmerge or
polib, keeping the existing msgstr) and translate the empty msgstr.
"""

import re
from collections import Counter

import polib

from odoo.tests import TransactionCase, tagged
from odoo.tools.misc import file_path
from odoo.tools.translate import TranslationModuleReader, code_translations

ADDONS = ("spoki_whatsapp", "spoki_whatsapp_csv", "spoki_whatsapp_reports")
LANG = "it_IT"
# Python format placeholders (%(name)s, %s, %d, the escaped %%), template
# positional parameters ({{1}}) and HTML/QWeb tag names.
PLACEHOLDER = re.compile(r"%%|%\(\w+\)[sdfr]|%[sdfr]|\{\{\d+\}\}")
TAG = re.compile(r"</?([A-Za-z][\w.-]*)")


def _po_entries(addon):
    """{msgid: msgstr} of the addon's it.po (non-obsolete entries)."""
    po = polib.pofile(file_path(f"{addon}/i18n/it.po"))
    return {entry.msgid: entry.msgstr for entry in po if not entry.obsolete}


def _placeholders(text):
    return Counter(PLACEHOLDER.findall(text)), Counter(TAG.findall(text))


@tagged("post_install", "-at_install")
class TestSpokiI18n(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        installed = cls.env["ir.module.module"].search([("name", "in", ADDONS), ("state", "=", "installed")])
        cls.addons = [name for name in ADDONS if name in installed.mapped("name")]

    def _source_terms(self):
        """{addon: set of source terms} as Odoo's exporter sees them now."""
        reader = TranslationModuleReader(self.env.cr, modules=self.addons, lang=LANG)
        terms = {addon: set() for addon in self.addons}
        for module, _type, _name, _res_id, source, _value, _comments in reader:
            if module in terms:
                terms[module].add(source)
        return terms

    def test_italian_complete(self):
        """Every exported term of every installed Spoki addon is translated."""
        self.assertIn("spoki_whatsapp", self.addons)
        problems = []
        for addon, sources in self._source_terms().items():
            self.assertTrue(sources, f"{addon}: the extractor found no term")
            translated = _po_entries(addon)
            missing = sorted(source for source in sources if not translated.get(source, "").strip())
            if missing:
                problems.append(
                    f"{addon}/i18n/it.po: {len(missing)} of {len(sources)} terms untranslated:\n"
                    + "\n".join(f"    {source!r}" for source in missing)
                )
        if problems:
            self.fail("Italian translations incomplete (re-export the .pot, fill it.po):\n" + "\n".join(problems))

    def test_italian_web_terms(self):
        """Terms of the web client's code (JS, OWL templates) reach the browser
        in Italian: their it.po entry carries the ``odoo-javascript`` flag,
        also when the same text is a view term (one entry, both flags)."""
        reader = TranslationModuleReader(self.env.cr, modules=self.addons, lang=LANG)
        web_terms = {addon: set() for addon in self.addons}
        for module, _type, _name, _res_id, source, _value, comments in reader:
            if module in web_terms and "odoo-javascript" in comments:
                web_terms[module].add(source)
        self.assertTrue(web_terms["spoki_whatsapp"], "the extractor found no web term")
        problems = []
        for addon, sources in web_terms.items():
            served = {message["id"] for message in code_translations.get_web_translations(addon, LANG)["messages"]}
            missing = sorted(sources - served)
            if missing:
                problems.append(
                    f"{addon}/i18n/it.po: {len(missing)} web terms not flagged odoo-javascript:\n"
                    + "\n".join(f"    {source!r}" for source in missing)
                )
        if problems:
            self.fail("Web client terms not served in Italian:\n" + "\n".join(problems))

    def test_italian_placeholders(self):
        """Translations keep the msgid's placeholders and HTML tags."""
        problems = []
        for addon in self.addons:
            for msgid, msgstr in _po_entries(addon).items():
                if msgstr and _placeholders(msgid) != _placeholders(msgstr):
                    problems.append(f"{addon}: {msgid!r} -> {msgstr!r}")
        if problems:
            self.fail("Placeholders or tags differ:\n" + "\n".join(problems))

    def test_italian_ui(self):
        """With Italian active the menus, fields, views and messages read in Italian."""
        self.env["res.lang"]._activate_lang(LANG)
        self.env["ir.module.module"]._load_module_terms(self.addons, [LANG], overwrite=True)
        env_it = self.env(context=dict(self.env.context, lang=LANG))
        self.env.user.lang = LANG

        root = env_it.ref("spoki_whatsapp.spoki_menu_root")
        self.assertEqual(root.name, "WhatsApp")
        children = {menu.get_external_id()[menu.id]: menu.name for menu in root.child_id}
        self.assertEqual(children.get("spoki_whatsapp.spoki_menu_contacts"), "Contatti")
        self.assertEqual(children.get("spoki_whatsapp.spoki_menu_messaging"), "Messaggistica")
        self.assertEqual(children.get("spoki_whatsapp.spoki_menu_config"), "Configurazione")

        self.assertEqual(env_it["res.partner"].fields_get(["wa_phone"])["wa_phone"]["string"], "Numero WhatsApp")
        states = dict(env_it["spoki.template"].fields_get(["state"])["state"]["selection"])
        self.assertEqual(states.get("approved"), "Approvato")
        self.assertEqual(states.get("rejected"), "Rifiutato")

        arch = env_it["res.partner"].get_view(env_it.ref("spoki_whatsapp.res_partner_view_search_spoki").id)["arch"]
        self.assertIn("Telefono valido", arch)
        self.assertIn("Solo contatti eliminati", arch)

        # Python strings (self.env._) follow the user's language.
        self.assertEqual(env_it._("%(name)s (copy)", name="X"), "X (copia)")

        if "spoki_whatsapp_reports" in self.addons:
            web = code_translations.get_web_translations("spoki_whatsapp_reports", LANG)
            strings = {message["id"]: message["string"] for message in web["messages"]}
            self.assertEqual(strings.get("Residual credit"), "Credito residuo")
        if "spoki_whatsapp_csv" in self.addons:
            self.assertEqual(env_it.ref("spoki_whatsapp_csv.spoki_csv_import_action").name, "Gestisci CSV")
