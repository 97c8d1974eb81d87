"""The campaign pre-flight in headless Chromium (issue 14, "Campaigns"), in
English and in Italian: from the campaign form, Start opens the pre-flight
with the estimate and a preview per language, a test goes to a typed number,
then Start starts the campaign. Screenshots in /tmp/screens/P/."""

import json
import time
from pathlib import Path

from odoo.tests import tagged

from .browser_signals import BrowserSignalsCase
from .common import SpokiCommon

PREVIEWS = ["Ciao Giulia, il negozio di Milano apre oggi!", "Hello Emily, our shop in Boston opens today!"]


@tagged("post_install", "-at_install")
class TestCampaignPreflightUi(BrowserSignalsCase, SpokiCommon):
    screens_dir = Path("/tmp/screens/P")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("it_IT")
        cls.manager.password = "spoki_manager"
        cls.env["spoki.dynamic.field"].create({"name": "NEGOZIO", "field_type": "text", "on_contacts": True})
        template = cls.env["spoki.template"].create(
            {
                "name": "Inaugurazione",
                "account_id": cls.account.id,
                "lang": "en_US",
                "body": "Hello %%NOME%%, our shop in %%NEGOZIO%% opens today!",
                "translation_ids": [
                    (0, 0, {"lang": "it_IT", "body": "Ciao %%NOME%%, il negozio di %%NEGOZIO%% apre oggi!"})
                ],
            }
        )
        template.write({"state": "approved", "provider_name": f"inaugurazione_{template.id}"})
        Partner = cls.env["res.partner"]
        people = Partner.create(
            [
                {"name": "Giulia Verdi", "mobile": "+39 340 300 0001"},
                {"name": "Marco Neri", "mobile": "+39 340 300 0002"},
                {"name": "Giulia (doppione)", "mobile": "+39 340 300 0001"},
                {"name": "Emily Stone", "mobile": "+1 212 555 0142", "lang": "en_US"},
                {"name": "Dora Bianchi", "mobile": "+39 340 300 0004", "wa_opt_out": True},
                {"name": "Numero sbagliato", "mobile": "12"},
            ]
        )
        for partner, shop in zip(people[:4], ("Milano", "Roma", "Milano", "Boston")):
            partner._spoki_set_values({"NEGOZIO": shop})
        members = cls.env["spoki.list"].create({"name": "Inaugurazione", "partner_ids": [(6, 0, people.ids)]})
        cls.campaign = cls.env["spoki.campaign"].create(
            {
                "name": "Inaugurazione negozio",
                "account_id": cls.account.id,
                "template_id": template.id,
                "list_ids": [(6, 0, members.ids)],
            }
        )

    def _open(self, lang, expected):
        self.screens = []
        self.manager.lang = lang
        action = self.env.ref("spoki_whatsapp.spoki_campaign_action")
        prefix = f"const SPOKI = {json.dumps(dict(expected, lang=lang, number='347 555 0190'))};\n"
        self._run_browser(
            "spoki_campaign_preflight.js",
            f"/odoo/action-{action.id}/{self.campaign.id}",
            login="spoki_manager",
            prefix=prefix,
        )
        time.sleep(1.5)
        self.campaign.invalidate_recordset()
        self.assertEqual(self.campaign.state, "starting")
        test = self.env["spoki.message"].search([("wa_phone", "=", "+393475550190")])
        self.assertEqual(len(test), 1)
        self.assertFalse(test.campaign_id)
        self.assertEqual(test.body, "Ciao Giulia, il negozio di Milano apre oggi!")
        names = [
            f"0{i}_{step}_{lang}" for i, step in enumerate(("campaign_form", "preflight", "test_sent", "started"), 1)
        ]
        self.assertEqual([name for name in self.screens if name in names], names)

    def test_preflight_in_english(self):
        self._open(
            "en_US",
            {
                "title": "Before you start",
                "labels": ["Language", "Recipients", "Sample contact", "Duplicate numbers", "Test number", "Start"],
                "summary": [
                    "Starting now.",
                    "3 messages will be queued.",
                    "Left out: 1 opted out, 1 invalid numbers, 0 with missing dynamic values, 1 duplicates.",
                ],
                "previews": PREVIEWS,
                "queued": "Test message queued for +393475550190",
                "starting": "Starting",
            },
        )

    def test_preflight_in_italian(self):
        self.env["ir.module.module"]._load_module_terms(["web", "spoki_whatsapp"], ["it_IT"], overwrite=True)
        self._open(
            "it_IT",
            {
                "title": "Prima di avviare",
                "labels": [
                    "Lingua",
                    "Destinatari",
                    "Contatto di esempio",
                    "Numeri duplicati",
                    "Numero di test",
                    "Avvia",
                ],
                "summary": [
                    "Avvio immediato.",
                    "Verranno messi in coda 3 messaggi.",
                    "Esclusi: 1 senza consenso, 1 numeri non validi, 0 con valori dinamici mancanti, 1 duplicati.",
                ],
                "previews": PREVIEWS,
                "queued": "Messaggio di test in coda per +393475550190",
                "starting": dict(
                    self.env["spoki.campaign"].with_context(lang="it_IT").fields_get(["state"])["state"]["selection"]
                )["starting"],
            },
        )
