"""Issue 14, templates, in headless Chromium (English and Italian): checks
before the confirmation, the preview following the typing in the form and in
the translation dialog, buttons per language. Screenshots in /tmp/screens/T/."""

from pathlib import Path

from odoo import Command
from odoo.tests import tagged

from .browser_signals import BrowserSignalsCase
from .common import SpokiCommon


@tagged("post_install", "-at_install", "spoki_template")
class TestSpokiTemplateIssue14Ui(BrowserSignalsCase, SpokiCommon):
    screens_dir = Path("/tmp/screens/T")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("it_IT")
        Template = cls.env["spoki.template"]
        original = Template.create(
            {
                "name": "Tour original",
                "account_id": cls.account.id,
                "lang": "it",
                "body": "Ciao %%NOME%%, benvenuto!",
                "button_ids": cls._buttons(),
            }
        )
        original.action_request_approval()
        cls.manager.password = "spoki_manager"

    @staticmethod
    def _buttons():
        return [
            Command.create({"button_type": "url", "text": "Sito", "value": "https://www.example.com"}),
            Command.create({"button_type": "quick_reply", "text": "Conferma"}),
        ]

    def _draft(self):
        template = self.env["spoki.template"].create(
            {
                "name": "Tour draft",
                "account_id": self.account.id,
                "lang": "it",
                "body": "Ciao %%NOME%%, benvenuto!",
                "button_ids": self._buttons(),
                "translation_ids": [Command.create({"lang": "en_US", "body": "Hi %%NOME%%, welcome!"})],
            }
        )
        english = template.translation_ids
        english.button_text_ids.filtered(lambda b: b.button_type == "url").text = "Website"
        english.button_text_ids.filtered(lambda b: b.button_type == "quick_reply").text = "Yes, confirm"
        return template

    def _run(self, suffix):
        self.screens = []
        template = self._draft()
        action = self.env.ref("spoki_whatsapp.spoki_template_action")
        self._run_browser(
            "spoki_template_issue14.js",
            f"/odoo/action-{action.id}/{template.id}",
            login="spoki_manager",
            prefix=f"const spokiShot = {suffix!r};\n",
        )
        template.invalidate_recordset()
        self.assertEqual(template.state, "queued")
        self.assertEqual(template.body, "Ciao %%NOME%%, *live* preview del template!")
        self.assertEqual(template.translation_ids.body, "Hello %%NOME%%, typed live in English!")
        for name in ("template_check_error", "template_form", "translation_dialog", "template_confirm"):
            self.assertIn(f"{name}_{suffix}", self.screens)

    def test_template_flow_english(self):
        self._run("en")

    def test_template_flow_italian(self):
        self.env["ir.module.module"].search([("name", "in", ("spoki_whatsapp", "web"))])._update_translations("it_IT")
        self.manager.lang = "it_IT"
        self._run("it")

    def test_rejection_explained_in_italian(self):
        """A rejected template shows the reason in Italian beside WhatsApp's words."""
        self.screens = []
        self.env["ir.module.module"].search([("name", "in", ("spoki_whatsapp", "web"))])._update_translations("it_IT")
        self.manager.lang = "it_IT"
        template = self._draft()
        template.body = "Buongiorno %%NOME%%, a presto!"
        template.action_request_approval()
        self.env["spoki.template"]._apply_provider_status(template.external_id, "rejected", "TAG_CONTENT_MISMATCH")
        action = self.env.ref("spoki_whatsapp.spoki_template_action")
        code = """
            (async () => {
                const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
                for (let i = 0; i < 200; i++) {
                    const explained = document.querySelector(".o_spoki_rejection_explained");
                    const raw = document.querySelector(".o_spoki_rejection_raw");
                    if (explained && explained.textContent.includes("categoria")
                            && raw && raw.textContent.includes("TAG_CONTENT_MISMATCH")) {
                        await sleep(500);
                        console.log("spoki:shot:template_rejected_it");
                        await sleep(700);
                        console.log("test successful");
                        return;
                    }
                    await sleep(100);
                }
                console.error("the rejection is not explained in Italian beside WhatsApp's words");
            })();
        """
        with self._console_patch():
            self.browser_js(f"/odoo/action-{action.id}/{template.id}", code, login="spoki_manager", timeout=60)
        self.assertIn("template_rejected_it", self.screens)
