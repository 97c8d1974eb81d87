"""Automations from the UI (issue 13, "Done when"): headless Chromium, the
guide's demo rules, in English and in Italian; and a WhatsApp rule opened from
Odoo's own Settings › Technical › Automation Rules."""

import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytz

from odoo import api
from odoo.tests import tagged

from . import fake_provider as fp
from .browser_signals import BrowserSignalsCase

SECRET = "automation-ui-app-secret"


class AutomationUiCase(BrowserSignalsCase):
    screens_dir = Path("/tmp/screens/G")

    def _on_command(self, browser, command):
        if command.startswith("times:"):
            self.times = json.loads(command[6:])
        elif command == "incoming":
            threading.Thread(target=self._post_answer).start()
        elif command == "webinar":
            thread = threading.Thread(target=self._run_webinar_cron)
            thread.start()
            self.threads.append(thread)


@tagged("post_install", "-at_install")
class TestAutomationUi(AutomationUiCase):
    """As a WhatsApp manager: WhatsApp › Automations lists the five examples
    (inactive), a rule opens with its trigger, the rules are switched on in the
    list, and their effects show in the UI — list trigger "add tag", the
    "Sono interessato" answer through the real webhook, the webinar reminders
    queued for a contact in New York and one in Rome at their own times."""

    RULES = (
        "demo_automation_interested",
        "demo_automation_not_interested",
        "demo_automation_newsletter_tag",
        "demo_automation_webinar",
        "demo_automation_booking",
        "demo_automation_appointment",
    )
    ACTIVATE = (
        "demo_automation_interested",
        "demo_automation_not_interested",
        "demo_automation_newsletter_tag",
        "demo_automation_webinar",
    )

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = cls.env.ref("spoki_whatsapp.demo_account_sandbox")
        cls.sandbox.meta_app_secret = SECRET
        cls.manager = cls.env["res.users"].create(
            {
                "name": "Marta Manager",
                "login": "spoki_auto_manager",
                "password": "spoki_auto_manager",
                "groups_id": [
                    (6, 0, [cls.env.ref("base.group_user").id, cls.env.ref("spoki_whatsapp.group_spoki_manager").id])
                ],
            }
        )
        cls.emily = cls.env.ref("spoki_whatsapp.demo_partner_emily")
        cls.giulia = cls.env.ref("spoki_whatsapp.demo_partner_giulia")
        cls.john = cls.env.ref("spoki_whatsapp.demo_partner_john")
        cls.webinar_rule = cls.env.ref("spoki_whatsapp.demo_automation_webinar")
        cls.webinar_template = cls.env.ref("spoki_whatsapp.demo_template_webinar")

    def _post_answer(self):
        """Giulia presses "Sono interessato": a signed webhook, real HTTP."""
        number = self.giulia.wa_phone.lstrip("+")
        change = fp.meta_messages_change(
            contacts=[fp.meta_contact(number, "Giulia Bianchi")],
            messages=[fp.meta_text_message("wamid.AUTO1", number, "Sono interessato", time.time())],
        )
        raw = json.dumps(fp.meta_webhook([change])).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": fp.meta_signature(SECRET, raw)}
        response = self.opener.post(
            f"{self.base_url()}/spoki/webhook/{self.sandbox.id}", data=raw, headers=headers, timeout=30
        )
        self.webhook_codes.append(response.status_code)

    def _webinar_moments(self):
        """{partner: UTC moment of the reminder} (1 hour before WEBINAR_DATETIME)."""
        values = (self.emily | self.giulia)._spoki_get_values()
        return {
            partner: values[partner]["WEBINAR_DATETIME"] - timedelta(hours=1) for partner in self.emily | self.giulia
        }

    def _run_webinar_cron(self):
        """The cron "WhatsApp: automation dates" at each reminder's moment
        (frozen clock): Rome's first, then New York's."""
        for moment in sorted(self._webinar_moments().values()):
            now = moment + timedelta(minutes=2)
            with self.registry.cursor() as cr:
                env = api.Environment(cr, self.env.uid, {"spoki_clock": lambda now=now: now})
                env["base.automation"].browse(self.webinar_rule.id)._spoki_run_dates(now=now)

    def _check_demo(self, lang):
        self.screens, self.webhook_codes, self.threads, self.times = [], [], [], None
        env = self.env(context=dict(self.env.context, lang=lang))
        Rule = env["base.automation"].with_context(spoki_automation=True, active_test=False)
        rules = [env.ref(f"spoki_whatsapp.{xmlid}") for xmlid in self.RULES]
        self.assertFalse(any(rule.active for rule in rules), "the demo rules ship inactive")
        presets = dict(Rule.fields_get(["spoki_preset"])["spoki_preset"]["selection"])
        triggers = dict(Rule.fields_get(["trigger"])["trigger"]["selection"])
        spoki = {
            "lang": lang,
            "menu": env.ref("spoki_whatsapp.spoki_menu_automations").name,
            "rules": [rule.name for rule in rules],
            "activate": [env.ref(f"spoki_whatsapp.{xmlid}").name for xmlid in self.ACTIVATE],
            "webinar": self.webinar_rule.with_env(env).name,
            "preset": presets["list_tag"],
            "dateTrigger": triggers["on_spoki_date"],
            "newsletterId": env.ref("spoki_whatsapp.demo_list_newsletter").id,
            "johnId": self.john.id,
            "giuliaId": self.giulia.id,
            "listTag": env.ref("spoki_whatsapp.demo_tag_promo_june").name,
            "interestedTag": env.ref("spoki_whatsapp.demo_tag_interested").name,
            "webinarTemplate": self.webinar_template.name,
            "webinarContacts": [self.giulia.name, self.emily.name],
        }
        self.assertNotIn(env.ref("spoki_whatsapp.demo_tag_promo_june"), self.john.category_id)
        self.assertNotIn(env.ref("spoki_whatsapp.demo_tag_interested"), self.giulia.category_id)
        action = self.env.ref("spoki_whatsapp.spoki_automation_action")
        self.assertEqual(action.domain, "[('spoki_rule', '=', True)]")
        self._run_browser(
            "spoki_automations.js", "/odoo", login="spoki_auto_manager", prefix=f"const SPOKI = {json.dumps(spoki)};\n"
        )
        for thread in self.threads:
            thread.join(60)
        # what the UI showed, in the database
        self.assertEqual(self.webhook_codes, [200])
        self.assertTrue(all(rule.active for rule in rules[:4]))
        self.assertIn(env.ref("spoki_whatsapp.demo_tag_promo_june"), self.john.category_id)
        self.assertIn(env.ref("spoki_whatsapp.demo_tag_interested"), self.giulia.category_id)
        answer = self.env["spoki.message"].search([("provider_message_id", "=", "wamid.AUTO1")])
        self.assertEqual(answer.tag_ids, env.ref("spoki_whatsapp.demo_tag_interested"))
        replies = self.env["spoki.message"].search(
            [("partner_id", "=", self.giulia.id), ("direction", "=", "outgoing"), ("kind", "=", "text")]
        )
        self.assertEqual(replies.body, "Grazie! Ti contattiamo a breve con i dettagli della promozione.")
        self.assertIn(self.giulia, env.ref("spoki_whatsapp.demo_list_interested").partner_ids)
        reminders = self.env["spoki.message"].search(
            [("template_id", "=", self.webinar_template.id), ("partner_id", "in", (self.emily | self.giulia).ids)]
        )
        self.assertEqual(reminders.partner_id, self.emily | self.giulia)
        self.assertEqual(set(reminders.mapped("state")), {"queued"})
        moments = self._webinar_moments()
        for reminder in reminders:
            self.assertLess(abs(reminder.message_date - moments[reminder.partner_id]), timedelta(minutes=5))
            local = pytz.utc.localize(reminder.message_date).astimezone(pytz.timezone(reminder.partner_id.tz))
            self.assertEqual(local.hour, 17, "one hour before 18:00 in the contact's own timezone")
        self.assertNotEqual(*reminders.mapped("message_date"))
        self.assertTrue(self.times and self.times[0] != self.times[1], self.times)
        self.assertGreaterEqual(len(self.screens), 6, self.screens)

    def test_demo_rules_english(self):
        self._check_demo("en_US")

    def test_demo_rules_italian(self):
        self.env["res.lang"]._activate_lang("it_IT")
        self.env["ir.module.module"]._load_module_terms(
            ["web", "base_automation", "spoki_whatsapp"], ["it_IT"], overwrite=True
        )
        self.manager.lang = "it_IT"
        env_it = self.env(context=dict(self.env.context, lang="it_IT"))
        self.assertEqual(env_it.ref("spoki_whatsapp.spoki_menu_automations").name, "Automazioni")
        self.assertNotEqual(self.webinar_rule.with_env(env_it).name, self.webinar_rule.with_context(lang="en_US").name)
        self._check_demo("it_IT")


@tagged("post_install", "-at_install")
class TestAutomationTechnicalForm(AutomationUiCase):
    """A WhatsApp rule opened from Settings › Technical › Automation Rules:
    no crash, its trigger shown in a "WhatsApp" group with its settings."""

    def test_whatsapp_rule_in_odoo_form(self):
        self.screens = []
        rule = self.env.ref("spoki_whatsapp.demo_automation_webinar")
        label = dict(
            self.env["base.automation"]
            .with_context(spoki_automation=True)
            .fields_get(["trigger"])["trigger"]["selection"]
        )["on_spoki_date"]
        action = self.env.ref("base_automation.base_automation_act")
        code = """
            (async () => {
                const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
                const deadline = Date.now() + 30000;
                while (Date.now() < deadline) {
                    const error = document.querySelector('.o_error_dialog');
                    if (error) { console.error('error dialog: ' + error.innerText); return; }
                    const select = document.querySelector('.o_field_widget[name="trigger"] select');
                    const option = select && select.selectedOptions[0];
                    const field = document.querySelector('.o_field_widget[name="spoki_date_field_id"]');
                    if (option && option.textContent.trim() === %(label)s
                            && option.parentElement.getAttribute('label') === 'WhatsApp'
                            && field
                            && ((field.querySelector('input') || {}).value || field.textContent)
                                .includes('WEBINAR_DATETIME')) {
                        const groups = [...select.querySelectorAll('optgroup')].map((g) => g.getAttribute('label'));
                        if (groups.indexOf('WhatsApp') < 0 || groups.length < 2) {
                            console.error('groups: ' + groups); return;
                        }
                        console.log('spoki:shot:07_technical_form_whatsapp_trigger');
                        await sleep(1200);
                        console.log('test successful');
                        return;
                    }
                    await sleep(100);
                }
                const select = document.querySelector('.o_field_widget[name="trigger"] select');
                const option = select && select.selectedOptions[0];
                console.error('the WhatsApp trigger is not shown in the technical form: '
                    + (option ? option.textContent + ' in ' + option.parentElement.outerHTML.slice(0, 80) : 'none'));
            })();
        """ % {"label": json.dumps(label)}
        with self._console_patch():
            self.browser_js(f"/odoo/action-{action.id}/{rule.id}?debug=1", code, login="admin", timeout=60)
        self.assertEqual(self.screens, ["07_technical_form_whatsapp_trigger"])
