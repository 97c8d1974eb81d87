import base64
from pathlib import Path
from unittest.mock import patch

from odoo.tests import HttpCase, tagged
from odoo.tests.common import ChromeBrowser

from .common import csv_bytes


@tagged("post_install", "-at_install")
class TestCsvUi(HttpCase):
    """Manage CSV and the export buttons render in a real (headless Chromium) web client."""

    def _wait_for(self, url, selectors, texts=()):
        code = """
            const selectors = %r;
            const texts = %r;
            const deadline = Date.now() + 20000;
            const check = () => {
                const missing = selectors.filter((s) => !document.querySelector(s))
                    .concat(texts.filter((t) => !document.body.innerText.includes(t)));
                if (!missing.length) { console.log('test successful'); return; }
                if (document.querySelector('.o_error_dialog')) {
                    console.error('error dialog: ' + document.querySelector('.o_error_dialog').innerText);
                    return;
                }
                if (Date.now() > deadline) { console.error('not rendered: ' + missing.join(', ')); return; }
                setTimeout(check, 100);
            };
            check();
        """ % (selectors, list(texts))
        self.browser_js(url, code, login="admin", timeout=40)

    def test_manage_csv_dialog_opens(self):
        action = self.env.ref("spoki_whatsapp_csv.spoki_csv_import_action")
        self._wait_for(
            f"/odoo/action-{action.id}",
            [".o_dialog .o_form_view .o_field_binary", ".o_dialog button[name='action_load']"],
        )

    def test_analyzed_session_renders(self):
        data = csv_bytes(
            [
                ["Cellulare", "Nome", "Tag"],
                ["+39 347 000 0091", "Anna", "vip"],
                ["0039 347 000 0091", "Anna", ""],
                ["12", "X", ""],
            ],
            delimiter=";",
        )
        admin = self.env.ref("base.user_admin")  # sessions are visible to their creator only
        wizard = (
            self.env["spoki.csv.import"].with_user(admin).create({"file": base64.b64encode(data), "filename": "c.csv"})
        )
        wizard.action_load()
        wizard.action_analyze()
        self._wait_for(
            f"/odoo/spoki.csv.import/{wizard.id}",
            [
                ".o_field_one2many[name='issue_ids'] .o_data_row",
                "table.o_spoki_csv_preview",
            ],
        )

    def test_contacts_list_has_export_and_manage_buttons(self):
        action = self.env.ref("spoki_whatsapp.res_partner_action_spoki")
        self._wait_for(
            f"/odoo/action-{action.id}",
            [
                "button[name='action_spoki_csv_export']",
                "button[name='action_spoki_xlsx_export']",
                ".o_list_view .o_data_row",
            ],
        )

    def test_analysis_says_the_country_of_numbers_without_prefix(self):
        """Next to the preview: "numbers without prefix are read as <country>"
        and how many were read so (screenshot in /tmp/screens/P)."""
        data = csv_bytes([["Cellulare", "Nome"], ["347 000 0092", "Anna"], ["+34 612 000 092", "Lucía"]], delimiter=";")
        admin = self.env.ref("base.user_admin")
        wizard = (
            self.env["spoki.csv.import"].with_user(admin).create({"file": base64.b64encode(data), "filename": "c.csv"})
        )
        wizard.country_id = self.env.ref("base.it")
        wizard.action_load()
        wizard.action_analyze()
        self.assertEqual(wizard.guessed_country_count, 1)
        original = ChromeBrowser.stop

        def stop(browser):
            future = browser._websocket_send("Page.captureScreenshot", with_future=True)
            Path("/tmp/screens/P").mkdir(parents=True, exist_ok=True)
            Path("/tmp/screens/P/csv_country_note.png").write_bytes(base64.b64decode(future.result(timeout=10)["data"]))
            return original(browser)

        with patch.object(ChromeBrowser, "stop", stop):
            self._wait_for(
                f"/odoo/spoki.csv.import/{wizard.id}",
                [".o_spoki_csv_country_note", "table.o_spoki_csv_preview"],
                ["Numbers without prefix are read as Italy.", "Numbers of the file read this way: 1."],
            )
