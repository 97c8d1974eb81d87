"""Automations (issue 13): WhatsApp triggers and actions on Odoo's automation
rules, each run recorded once per contact and occurrence."""

import json
from datetime import datetime

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import Form, HttpCase, tagged

from .automation_common import AutomationCommon


@tagged("post_install", "-at_install")
class TestAutomationListEntry(AutomationCommon):
    def setUp(self):
        super().setUp()
        self.list = self.env["spoki.list"].create({"name": "Webinar"})
        self.rule = self._rule(
            "Welcome",
            "on_spoki_list_entry",
            [self._tag(self.tag_promo), self._send()],
            spoki_list_id=self.list.id,
        )

    def test_every_path_fires_once_per_entry(self):
        """Form (list write), contact form, select all matching, automation:
        each new member fires the rule once; members already in don't."""
        a, b, c, d = self._create_partners(4, prefix="+39348")
        self.list.write({"partner_ids": [(4, a.id)]})
        b.write({"spoki_list_ids": [(4, self.list.id)]})
        self.list._add_partners_by_domain([("id", "in", (a | b | c).ids)])
        self.env["res.partner"].create(
            {"name": "New", "mobile": "+393480000099", "spoki_list_ids": [(4, self.list.id)]}
        )
        self.list._add_partners_by_domain([("id", "in", (a | b | c).ids)])  # nobody new
        runs = self.env["spoki.automation.run"].search([("automation_id", "=", self.rule.id)])
        new = self.env["res.partner"].search([("mobile", "=", "+393480000099")])
        self.assertEqual(runs.partner_id, a | b | c | new)
        self.assertEqual(len(runs), 4)
        self.assertEqual(set(runs.mapped("state")), {"done"})
        self.assertIn("Template Order ready queued.", runs[0].outcome)
        self.assertIn(self.tag_promo, a.category_id)
        self.assertIn(self.tag_promo, new.category_id)
        self.assertNotIn(self.tag_promo, d.category_id)
        sent = self.sent_to(a | b | c | d | new)
        self.assertEqual(len(sent), 4)
        self.assertEqual(sent.automation_id, self.rule)
        self.assertEqual(set(sent.mapped("state")), {"queued"})

    def test_bulk_entry_one_evaluation(self):
        """1,000 members added at once: 1,000 runs and messages, with a bounded
        number of queries (not one per member)."""
        partners = self._create_partners(1000, prefix="+39349")
        self.env.flush_all()
        with self.assertQueryCount(__system__=60):
            self.list._add_partners_by_domain([("id", "in", partners.ids)])
        self.assertEqual(len(self.sent_to(partners)), 1000)
        self.assertEqual(self.env["spoki.automation.run"].search_count([("automation_id", "=", self.rule.id)]), 1000)

    def test_reentry_fires_again_and_inactive_rule_not(self):
        a = self._create_partners(1, prefix="+39350")
        self.list._add_partners_by_domain([("id", "=", a.id)])
        self.list._remove_partners_by_domain([("id", "=", a.id)])
        self.advance(minutes=1)
        self.list._add_partners_by_domain([("id", "=", a.id)])
        self.assertEqual(len(self.sent_to(a)), 2)
        self.rule.active = False
        self.list._remove_partners_by_domain([("id", "=", a.id)])
        self.advance(minutes=1)
        self.list._add_partners_by_domain([("id", "=", a.id)])
        self.assertEqual(len(self.sent_to(a)), 2)

    def test_filter_domain_and_invalid_numbers(self):
        ok = self._create_partners(1, prefix="+39351")
        bad = self.env["res.partner"].create({"name": "No number", "mobile": "12"})
        self.rule.filter_domain = "[('name', '!=', 'Skip me')]"
        skip = self._create_partners(1, prefix="+39352", start=5)
        skip.name = "Skip me"
        self.list._add_partners_by_domain([("id", "in", (ok | bad | skip).ids)])
        runs = self.env["spoki.automation.run"].search([("automation_id", "=", self.rule.id)])
        self.assertEqual(runs.partner_id, ok | bad)
        self.assertIn("no valid WhatsApp number", runs.filtered(lambda r: r.partner_id == bad).outcome)
        self.assertEqual(len(self.sent_to(ok | bad | skip)), 1)


@tagged("post_install", "-at_install")
class TestAutomationIncoming(AutomationCommon):
    def test_button_reply_tags_answers_and_fills_a_list(self):
        interested = self.env["spoki.list"].create({"name": "Interessati"})
        rule = self._rule(
            "Sono interessato",
            "on_spoki_incoming",
            [
                self._tag(self.tag_yes, target="message"),
                {"name": "reply", "state": "spoki_text", "spoki_body": "Grazie! Ti richiamiamo presto."},
                {"name": "list", "state": "spoki_list", "spoki_list_id": interested.id, "spoki_operation": "add"},
            ],
            model=self.message_model,
            spoki_incoming_template_id=self.promo.id,
            spoki_incoming_text="Sono interessato",
        )
        incoming = self.receive(self.customer.wa_phone, "  sono INTERESSATO ")
        self.assertEqual(incoming.tag_ids, self.tag_yes)
        self.assertIn(self.tag_yes, self.customer.category_id)
        reply = self.sent_to(self.customer).filtered(lambda m: m.kind == "text")
        self.assertEqual(reply.body, "Grazie! Ti richiamiamo presto.")
        self.assertIn(self.customer, interested.partner_ids)
        other = self.receive(self.customer_es.wa_phone, "Non sono interessato")
        self.assertFalse(other.tag_ids)
        run = self.env["spoki.automation.run"].search([("automation_id", "=", rule.id)])
        self.assertEqual(run.occurrence, f"message:{incoming.id}")
        self.assertIn("Reply queued.", run.outcome)

    def test_text_reply_skipped_outside_the_window(self):
        """A reply action on a contact whose window is closed is skipped,
        with the reason on the run."""
        spoki_list = self.env["spoki.list"].create({"name": "L"})
        rule = self._rule(
            "Reply",
            "on_spoki_list_entry",
            [{"name": "reply", "state": "spoki_text", "spoki_body": "Ciao", "spoki_account_id": self.account.id}],
            spoki_list_id=spoki_list.id,
        )
        spoki_list._add_partners_by_domain([("id", "=", self.customer.id)])
        run = self.env["spoki.automation.run"].search([("automation_id", "=", rule.id)])
        self.assertIn("window is closed", run.outcome)
        self.assertFalse(self.sent_to(self.customer))

    def test_keywords_and_wrong_button(self):
        with self.assertRaises(ValidationError):
            self._rule(
                "Wrong",
                "on_spoki_incoming",
                [self._tag(self.tag_yes, target="message")],
                model=self.message_model,
                spoki_incoming_template_id=self.promo.id,
                spoki_incoming_text="Forse",
            )
        self._rule(
            "Prezzo",
            "on_spoki_incoming",
            [self._tag(self.tag_yes, target="message")],
            model=self.message_model,
            spoki_incoming_mode="keywords",
            spoki_incoming_text="prezzo, listino",
        )
        self.assertTrue(self.receive(self.customer.wa_phone, "Qual è il prezzo?").tag_ids)
        self.assertFalse(self.receive(self.customer.wa_phone, "Ciao").tag_ids)


@tagged("post_install", "-at_install")
class TestAutomationDates(AutomationCommon):
    def setUp(self):
        super().setUp()
        self.ny, self.rome = self.env["res.partner"].create(
            [
                {"name": "Ann NY", "mobile": "+12125550101", "tz": "America/New_York"},
                {"name": "Aldo Roma", "mobile": "+393471110001", "tz": "Europe/Rome"},
            ]
        )

    def cron(self):
        self.env["base.automation"]._cron_spoki_dates()

    def test_webinar_reminder_each_contact_own_hour(self):
        """1 hour before each contact's WEBINAR_DATETIME (18:00 local each:
        22:00 UTC in New York, 16:00 UTC in Rome), within the cron's run,
        once, even if the cron runs twice or late."""
        self.ny._spoki_set_values({"WEBINAR_DATETIME": "2026-06-10 22:00:00"})
        self.rome._spoki_set_values({"WEBINAR_DATETIME": "2026-06-10 16:00:00"})
        self.at(2026, 6, 10, 12, 0)
        rule = self._rule(
            "Webinar reminder",
            "on_spoki_date",
            [self._send()],
            spoki_date_field_id=self.webinar_field.id,
            spoki_date_offset=-1,
            spoki_date_offset_unit="hours",
            last_run=self.clock["now"],
        )
        self.at(2026, 6, 10, 14, 55)
        self.cron()
        self.assertFalse(self.sent_to(self.ny | self.rome))
        self.at(2026, 6, 10, 15, 0)
        self.cron()
        self.assertEqual(self.sent_to(self.ny | self.rome).partner_id, self.rome)
        self.cron()  # twice
        self.at(2026, 6, 10, 23, 30)  # late: catches up New York
        self.cron()
        self.cron()
        sent = self.sent_to(self.ny | self.rome)
        self.assertEqual(len(sent), 2)
        runs = self.env["spoki.automation.run"].search([("automation_id", "=", rule.id)])
        self.assertEqual(sorted(runs.mapped("occurrence")), ["date:2026-06-10T15:00:00", "date:2026-06-10T21:00:00"])
        # a rule run again over the same window (a second server) changes nothing
        rule.last_run = datetime(2026, 6, 10, 12, 0)
        self.cron()
        self.assertEqual(len(self.sent_to(self.ny | self.rome)), 2)

    def test_day_before_at_nine_local_across_dst(self):
        """09:00 the day before APPOINTMENT_DATE, in the contact's timezone:
        Rome 2026-03-29 is the DST day (08:00 UTC on the 28th, CET; 07:00
        UTC on the 29th, CEST); New York moved on 2026-03-08."""
        self.rome._spoki_set_values({"APPOINTMENT_DATE": "2026-03-29"})
        rome2 = self.rome.copy({"mobile": "+393471110002", "name": "Bea Roma"})
        rome2._spoki_set_values({"APPOINTMENT_DATE": "2026-03-30"})
        self.ny._spoki_set_values({"APPOINTMENT_DATE": "2026-03-09"})
        self.at(2026, 3, 1)
        rule = self._rule(
            "Appointment reminder",
            "on_spoki_date",
            [self._send()],
            spoki_date_field_id=self.appointment_field.id,
            spoki_date_offset=-1,
            spoki_date_offset_unit="days",
            spoki_date_time=9.0,
            last_run=self.clock["now"],
        )
        self.at(2026, 4, 1)
        self.cron()
        runs = self.env["spoki.automation.run"].search([("automation_id", "=", rule.id)])
        moments = {run.partner_id: run.occurrence for run in runs}
        self.assertEqual(moments[self.ny], "date:2026-03-08T13:00:00")  # 09:00 EDT (UTC-4), DST day
        self.assertEqual(moments[self.rome], "date:2026-03-28T08:00:00")  # 09:00 CET
        self.assertEqual(moments[rome2], "date:2026-03-29T07:00:00")  # 09:00 CEST

    def test_every_year_on_birthday(self):
        self.rome._spoki_set_values({"BIRTHDAY_DATE": "1980-02-29"})
        self.at(2027, 2, 1)
        rule = self._rule(
            "Auguri",
            "on_spoki_date",
            [self._tag(self.tag_promo)],
            spoki_date_field_id=self.birthday_field.id,
            spoki_date_offset=0,
            spoki_date_offset_unit="days",
            spoki_date_time=9.0,
            spoki_date_yearly=True,
            last_run=self.clock["now"],
        )
        self.at(2027, 3, 1)
        self.cron()
        self.at(2028, 3, 1)
        self.cron()
        runs = self.env["spoki.automation.run"].search(
            [("automation_id", "=", rule.id), ("partner_id", "=", self.rome.id)]
        )
        self.assertEqual(sorted(runs.mapped("occurrence")), ["date:2027-02-28T08:00:00", "date:2028-02-29T08:00:00"])

    def test_activated_rule_starts_from_now(self):
        self.rome._spoki_set_values({"APPOINTMENT_DATE": "2026-03-10"})
        rule = self._rule(
            "Old",
            "on_spoki_date",
            [self._send()],
            spoki_date_field_id=self.appointment_field.id,
            spoki_date_offset=0,
            spoki_date_offset_unit="days",
            active=False,
        )
        self.at(2026, 4, 1)
        rule.active = True
        self.cron()
        self.assertFalse(self.sent_to(self.rome))


@tagged("post_install", "-at_install")
class TestAutomationActions(AutomationCommon):
    def test_send_template_wizard_select_all(self):
        partners = self._create_partners(30, prefix="+39353")
        wizard = Form(
            self.env["spoki.template.send"]
            .with_user(self.agent)
            .with_context(
                active_model="res.partner",
                active_ids=partners[:5].ids,
                active_domain=[("mobile", "=like", "+39353%")],
            )
        )
        wizard.account_id = self.account
        wizard.template_id = self.template
        wizard.tag_ids.add(self.tag_promo)
        wizard.use_active_domain = True
        self.assertEqual(wizard.recipient_count, 30)
        wizard.save().action_send()
        sent = self.sent_to(partners)
        self.assertEqual(len(sent), 30)
        self.assertEqual(sent.tag_ids, self.tag_promo)
        self.assertIn(self.tag_promo, partners[7].category_id)

    def test_actions_menu_binding_and_access(self):
        """A WhatsApp action bound to the contacts' Actions menu runs on the
        selection, for WhatsApp users only."""
        action = self.env["ir.actions.server"].create(
            dict(
                self._send(),
                name="Promo",
                model_id=self.partner_model.id,
                binding_model_id=self.partner_model.id,
                groups_id=[(6, 0, self.env.ref("spoki_whatsapp.group_spoki_user").ids)],
            )
        )
        partners = self._create_partners(3, prefix="+39354")
        action.with_user(self.agent).with_context(active_model="res.partner", active_ids=partners.ids).run()
        self.assertEqual(len(self.sent_to(partners)), 3)
        sales = self._new_user("plain_user", "base.group_partner_manager")
        with self.assertRaises(AccessError):
            action.with_user(sales).with_context(active_model="res.partner", active_ids=partners.ids).run()

    def test_tags_remove_assign_and_list_remove(self):
        spoki_list = self.env["spoki.list"].create({"name": "L", "partner_ids": [(4, self.customer.id)]})
        self.customer.category_id = [(4, self.tag_no.id)]
        chat = self.env["spoki.chat"]._get_or_create(self.account, self.customer.wa_phone, self.customer)
        action_ids = [
            self._tag(self.tag_no, operation="remove"),
            self._tag(self.tag_yes, target="chat"),
            {"name": "list", "state": "spoki_list", "spoki_list_id": spoki_list.id, "spoki_operation": "remove"},
            {"name": "assign", "state": "spoki_assign", "spoki_user_id": self.agent.id},
        ]
        actions = self.env["ir.actions.server"].create(
            [dict(values, model_id=self.partner_model.id) for values in action_ids]
        )
        for action in actions:
            action.with_context(active_model="res.partner", active_ids=self.customer.ids).run()
        self.assertNotIn(self.tag_no, self.customer.category_id)
        self.assertIn(self.tag_yes, chat.tag_ids)
        self.assertIn(self.tag_yes, self.customer.category_id)
        self.assertNotIn(self.customer, spoki_list.partner_ids)
        self.assertEqual(chat.user_id, self.agent)

    def test_json_rpc_send_template(self):
        account = self.account.with_user(self.agent)
        message_id = account.spoki_send_template("+39 347 555 0101", self.promo.provider_name, values={})
        message = self.Message.browse(message_id)
        self.assertEqual(message.wa_phone, "+393475550101")
        self.assertEqual(message.template_id, self.promo)
        self.assertEqual(message.partner_id.wa_phone, "+393475550101")
        with self.assertRaises(AccessError):
            self.account.with_user(self.agent_b).spoki_send_template("+393475550101", self.promo.id)
        sales = self._new_user("plain_user2", "base.group_partner_manager")
        with self.assertRaises(AccessError):
            self.account.with_user(sales).spoki_send_template("+393475550101", self.promo.id)

    def test_runs_and_rules_company_scoped(self):
        spoki_list = self.env["spoki.list"].create({"name": "L"})
        rule = self._rule("A", "on_spoki_list_entry", [self._tag(self.tag_promo)], spoki_list_id=spoki_list.id)
        spoki_list._add_partners_by_domain([("id", "=", self.customer.id)])
        run = self.env["spoki.automation.run"].search([("automation_id", "=", rule.id)])
        self.assertEqual(run.company_id, self.company_a)
        manager_b = self._new_user("spoki_manager_b", "spoki_whatsapp.group_spoki_manager", self.company_b)
        self.assertFalse(self.env["base.automation"].with_user(manager_b).search([("id", "=", rule.id)]))
        self.assertFalse(self.env["spoki.automation.run"].with_user(manager_b).search([("id", "=", run.id)]))
        self.assertTrue(self.env["spoki.automation.run"].with_user(self.agent).search([("id", "=", run.id)]))
        with self.assertRaises(AccessError):
            run.with_user(self.manager).write({"state": "failed"})

    def test_manager_cannot_create_code_actions(self):
        with self.assertRaises(AccessError):
            self.env["ir.actions.server"].with_user(self.manager).create(
                {"name": "x", "state": "code", "code": "pass", "model_id": self.partner_model.id}
            )
        rule = self.Rule.with_user(self.manager).create(
            {
                "name": "Mine",
                "model_id": self.partner_model.id,
                "trigger": "on_spoki_list_entry",
                "spoki_list_id": self.env["spoki.list"].create({"name": "M"}).id,
                "action_server_ids": [(0, 0, dict(self._tag(self.tag_yes), model_id=self.partner_model.id))],
            }
        )
        self.assertTrue(rule.spoki_rule)
        self.assertIn("on_spoki_date", dict(self.Rule.fields_get(["trigger"])["trigger"]["selection"]))
        self.assertNotIn(
            "on_spoki_date", dict(self.env["base.automation"].fields_get(["trigger"])["trigger"]["selection"])
        )

    def test_technical_rule_list_names_whatsapp_triggers(self):
        """Settings › Technical › Automation Rules: the trigger column, read
        as the web client reads the list, names the WhatsApp trigger (its
        selection there doesn't list it, see fields_get)."""
        rule = self.Rule.create(
            {
                "name": "Tag entries",
                "model_id": self.partner_model.id,
                "trigger": "on_spoki_list_entry",
                "spoki_list_id": self.env["spoki.list"].create({"name": "L"}).id,
                "action_server_ids": [(0, 0, dict(self._tag(self.tag_yes), model_id=self.partner_model.id))],
            }
        )
        Rule = self.env["base.automation"]
        arch = Rule.get_views([(False, "list")], {"action_id": self.env.ref("base_automation.base_automation_act").id})
        arch = arch["views"]["list"]["arch"]
        self.assertIn('name="spoki_trigger_label"', arch)
        self.assertRegex(arch, r'name="trigger"[^>]*column_invisible')
        shown = Rule.browse(rule.id).web_read({"spoki_trigger_label": {}, "trigger": {}})[0]
        self.assertEqual(shown["spoki_trigger_label"], "WhatsApp: contact enters a list")
        self.env["res.lang"]._activate_lang("it_IT")
        self.env["ir.module.module"]._load_module_terms(["spoki_whatsapp"], ["it_IT"], overwrite=True)
        shown = Rule.with_context(lang="it_IT").browse(rule.id).web_read({"spoki_trigger_label": {}})[0]
        self.assertEqual(shown["spoki_trigger_label"], "WhatsApp: un contatto entra in una lista")


@tagged("post_install", "-at_install")
class TestAutomationWebhook(HttpCase):
    """The booking-tool example: a webhook creates the contact with its
    APPOINTMENT_DATE; a date rule reminds it at 09:00 the day before."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account = cls.env["spoki.account"].create({"name": "Hook sandbox", "phone": "+390200000077"})
        cls.template = cls.env["spoki.template"].create(
            {"name": "Appuntamento", "account_id": cls.account.id, "lang": "it_IT", "body": "Ciao %%NOME%%, a domani!"}
        )
        cls.template.write({"state": "approved", "provider_name": "appuntamento"})
        Field = cls.env["spoki.dynamic.field"]
        cls.appointment = Field.search([("name", "=", "APPOINTMENT_DATE")]) or Field.create(
            {"name": "APPOINTMENT_DATE", "field_type": "date"}
        )
        cls.booked = cls.env["res.partner.category"].create({"name": "Prenotato"})
        partner_model = cls.env["ir.model"]._get("res.partner")
        cls.rule = cls.env["base.automation"].create(
            {
                "name": "Booking tool",
                "model_id": partner_model.id,
                "trigger": "on_webhook",
                "spoki_webhook": True,
                "spoki_webhook_secret": "s3cret",
                "action_server_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "tag",
                            "state": "spoki_tags",
                            "model_id": partner_model.id,
                            "spoki_tag_ids": [(6, 0, cls.booked.ids)],
                        },
                    )
                ],
            }
        )

    def post(self, body, secret="s3cret", uuid=None):
        return self.url_open(
            f"/spoki/automation/{uuid or self.rule.webhook_uuid}",
            data=json.dumps(body),
            headers={"Content-Type": "application/json", "X-Spoki-Secret": secret},
        )

    def test_booking_tool(self):
        self.assertTrue(self.rule.url.endswith(f"/spoki/automation/{self.rule.webhook_uuid}"))
        body = {
            "number": "+39 347 888 1234",
            "name": "Giulia Verdi",
            "values": {"APPOINTMENT_DATE": "2026-07-15"},
            "id": "bk-1",
        }
        response = self.post(body)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["run"], "done")
        partner = self.env["res.partner"].search([("wa_phone", "=", "+393478881234")])
        self.assertEqual(partner.name, "Giulia Verdi")
        self.assertIn(self.booked, partner.category_id)
        self.assertEqual(str(partner._spoki_get_values()[partner]["APPOINTMENT_DATE"]), "2026-07-15")
        # retried: same id, one run
        self.assertEqual(self.post(body).json()["run"], "already_done")
        runs = self.env["spoki.automation.run"].search([("automation_id", "=", self.rule.id)])
        self.assertEqual(len(runs), 1)
        self.assertEqual(runs.occurrence, "webhook:bk-1")
        # the reminder the day before at 09:00 (Europe/Rome: 07:00 UTC in July)
        partner.tz = "Europe/Rome"
        reminder = self.env["base.automation"].create(
            {
                "name": "Appointment reminder",
                "model_id": self.env["ir.model"]._get("res.partner").id,
                "trigger": "on_spoki_date",
                "spoki_date_field_id": self.appointment.id,
                "spoki_date_offset": -1,
                "spoki_date_offset_unit": "days",
                "spoki_date_time": 9.0,
                "last_run": datetime(2026, 7, 14, 6, 0),
                "action_server_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "send",
                            "state": "spoki_template",
                            "model_id": self.env["ir.model"]._get("res.partner").id,
                            "spoki_account_id": self.account.id,
                            "spoki_template_id": self.template.id,
                        },
                    )
                ],
            }
        )
        reminder.with_context(spoki_clock=datetime(2026, 7, 14, 7, 5))._spoki_run_dates()
        sent = self.env["spoki.message"].search([("partner_id", "=", partner.id), ("direction", "=", "outgoing")])
        self.assertEqual(sent.body, "Ciao Giulia, a domani!")
        self.assertEqual(sent.automation_id, reminder)

    def test_refusals_change_nothing(self):
        before = self.env["res.partner"].search_count([])
        self.assertEqual(self.post({"number": "+393478881235"}, secret="wrong").status_code, 403)
        self.assertEqual(self.post({"number": "+393478881235"}, uuid="nope").status_code, 404)
        response = self.post({"number": "12"})
        self.assertEqual(response.status_code, 400)
        self.assertIn("not a valid WhatsApp number", response.json()["error"])
        response = self.post({"number": "+393478881236", "values": {"APPOINTMENT_DATE": "not a date"}})
        self.assertEqual(response.status_code, 400)
        response = self.post({"number": "+393478881237", "values": {"NO_SUCH_FIELD": "x"}})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self.env["res.partner"].search_count([]), before)
        self.assertFalse(self.env["spoki.automation.run"].search([("automation_id", "=", self.rule.id)]))
