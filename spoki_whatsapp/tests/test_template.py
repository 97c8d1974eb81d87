import json
import time
from datetime import date, datetime, timedelta

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import HttpCase, tagged

from odoo.addons.mail.tests.common import mail_new_test_user

from .common import SpokiCommon

T0 = datetime(2026, 11, 26, 10, 0, 0)


class SpokiTemplateCommon(SpokiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Lang = cls.env["res.lang"]
        for code in ("it_IT", "es_ES"):
            Lang._activate_lang(code)
        Field = cls.env["spoki.dynamic.field"]
        cls.field_date = Field.create({"name": "TPL_DATE", "field_type": "date", "company_id": cls.company_a.id})
        cls.field_when = Field.create({"name": "TPL_WHEN", "field_type": "datetime", "company_id": cls.company_a.id})
        cls.field_code = Field.create(
            {"name": "TPL_CODE", "field_type": "text", "on_contacts": False, "company_id": cls.company_a.id}
        )
        cls.Template = cls.env["spoki.template"]
        # an approved multilingual template for the rendering tests, on its
        # own account so that it never counts as a duplicate
        cls.account_render = cls.env["spoki.account"].create(
            {"name": "Render", "phone": "+390200000009", "company_id": cls.company_a.id}
        )
        cls.template = cls._multilang(state="approved", account_id=cls.account_render.id)
        Partner = cls.env["res.partner"]
        cls.partner_uk = Partner.create({"name": "John Smith", "mobile": "+44 7911 123456", "lang": "en_US"})
        cls.partner_us = Partner.create({"name": "Emily Johnson", "mobile": "+1 650 253 0001", "lang": "en_US"})
        cls.partner_es.lang = "es_ES"
        cls.partner_none = Partner.create({"name": "Nobody", "mobile": "abc", "lang": "es_ES"})

    @classmethod
    def _template(cls, body="Ciao %%NOME%%, a presto!", **vals):
        return cls.env["spoki.template"].create(
            dict({"name": "Test template", "account_id": cls.account.id, "lang": "it_IT", "body": body}, **vals)
        )

    @classmethod
    def _multilang(cls, **vals):
        """Italian template with English and Spanish translations and three buttons."""
        return cls._template(
            body="Ciao %%NOME%%, il tuo appuntamento è il %%TPL_WHEN%% (%%TPL_DATE%%). A presto!",
            translation_ids=[
                Command.create(
                    {
                        "lang": "en_US",
                        "body": "Hi %%NOME%%, your appointment is on %%TPL_WHEN%% (%%TPL_DATE%%). See you!",
                    }
                ),
                Command.create(
                    {
                        "lang": "es_ES",
                        "body": "Hola %%NOME%%, tu cita es el %%TPL_DATE%% (%%TPL_WHEN%%). ¡Hasta pronto!",
                    }
                ),
            ],
            button_ids=[
                Command.create(
                    {"sequence": 1, "button_type": "url", "text": "Website", "value": "https://www.example.com"}
                ),
                Command.create({"sequence": 2, "button_type": "phone", "text": "Call us", "value": "+39 02 1234 5678"}),
                Command.create({"sequence": 3, "button_type": "quick_reply", "text": "Confirm"}),
            ],
            **vals,
        )

    def _clocked(self, seconds):
        return self.Template.with_context(spoki_clock=lambda: T0 + timedelta(seconds=seconds))

    def _request(self, template, seconds=0):
        template.with_context(spoki_clock=lambda: T0 + timedelta(seconds=seconds)).action_request_approval()

    def _sync(self, seconds):
        self._clocked(seconds)._cron_sync_template_status()


@tagged("post_install", "-at_install", "spoki_template")
class TestSpokiTemplate(SpokiTemplateCommon):
    # ------------------------------------------------------------
    # Validation rules, through the ORM
    # ------------------------------------------------------------

    def test_body_length_boundary(self):
        self._template(body="a" * 1000)
        with self.assertRaisesRegex(ValidationError, "Maximum length.*1001"):
            self._template(body="a" * 1001)
        # WhatsApp counts an emoji outside the BMP as 2 characters
        self._template(body="a" * 998 + "😀")
        with self.assertRaisesRegex(ValidationError, "Maximum length"):
            self._template(body="a" * 999 + "😀")

    def test_consecutive_spaces_boundary(self):
        self._template(body="Ciao    mondo")  # 4 spaces
        with self.assertRaisesRegex(ValidationError, "Consecutive spaces.*5"):
            self._template(body="Ciao     mondo")  # 5 spaces
        template = self._template(body="Ciao mondo")
        with self.assertRaisesRegex(ValidationError, "Consecutive spaces"):
            template.body = "Ciao     mondo"

    def test_emoji_body_ok_button_refused(self):
        template = self._template(
            body="Offerta 🎉 *solo* _oggi_ ~ieri~ ```CODICE``` 👍🏽!",
            button_ids=[Command.create({"button_type": "quick_reply", "text": "Interessato"})],
        )
        self.assertIn("<b>solo</b>", template.preview_html)
        self.assertIn("<i>oggi</i>", template.preview_html)
        self.assertIn("<s>ieri</s>", template.preview_html)
        self.assertIn("<code>CODICE</code>", template.preview_html)
        self.assertIn("o_spoki_wa_button", template.preview_html)
        with self.assertRaisesRegex(ValidationError, "No emoji in buttons"):
            self._template(button_ids=[Command.create({"button_type": "quick_reply", "text": "Sì 👍"})])
        with self.assertRaisesRegex(ValidationError, "No emoji in buttons"):
            template.button_ids.text = "Ok 😀"

    def test_images_refused(self):
        with self.assertRaisesRegex(ValidationError, "Text only"):
            self._template(body="Guarda ![foto](https://example.com/a.png)")

    def test_button_limits(self):
        self._template(button_ids=[Command.create({"button_type": "quick_reply", "text": "x" * 25})])
        with self.assertRaisesRegex(ValidationError, "Button text length"):
            self._template(button_ids=[Command.create({"button_type": "quick_reply", "text": "x" * 26})])
        url = {"button_type": "url", "text": "Site", "value": "https://www.example.com"}
        self._template(button_ids=[Command.create(url), Command.create(url)])
        with self.assertRaisesRegex(ValidationError, "Number of buttons"):
            self._template(button_ids=[Command.create(url)] * 3)
        phone = {"button_type": "phone", "text": "Call", "value": "+390212345678"}
        with self.assertRaisesRegex(ValidationError, "Number of buttons"):
            self._template(button_ids=[Command.create(phone)] * 2)
        reply = {"button_type": "quick_reply", "text": "Ok"}
        self._template(button_ids=[Command.create(reply)] * 10)
        with self.assertRaisesRegex(ValidationError, "Number of buttons"):
            self._template(button_ids=[Command.create(reply)] * 11)
        with self.assertRaisesRegex(ValidationError, "Button order"):
            self._template(button_ids=[Command.create(reply), Command.create(url), Command.create(reply)])
        with self.assertRaisesRegex(ValidationError, "Link button"):
            self._template(button_ids=[Command.create(dict(url, value="www.example.com"))])
        with self.assertRaisesRegex(ValidationError, "Call button"):
            self._template(button_ids=[Command.create(dict(phone, value="12"))])

    def test_phone_button_normalised(self):
        template = self._template(
            button_ids=[Command.create({"button_type": "phone", "text": "Call", "value": "02 1234 5678"})]
        )
        self.assertEqual(template.button_ids.value, "+390212345678")
        template.button_ids.write({"button_type": "quick_reply"})
        self.assertFalse(template.button_ids.value)

    def test_placeholders(self):
        self._template(body="Ciao %%NOME%% %%COGNOME%%, %%TELEFONO%% %%EMAIL%% %%TPL_DATE%%")
        with self.assertRaises(ValidationError) as caught:
            self._template(body="Ciao %%NOME%%, codice %%SCONTO%% entro %%SCADENZA%%")
        message = str(caught.exception)
        self.assertIn("Unknown dynamic fields", message)
        self.assertIn("%%SCADENZA%%, %%SCONTO%%", message)
        self.assertNotIn("%%NOME%%,", message.split(".")[0])
        with self.assertRaisesRegex(ValidationError, "Dynamic field names"):
            self._template(body="Ciao %%nome%%")
        # translations are checked too, naming their language
        with self.assertRaisesRegex(ValidationError, "Unknown dynamic fields.*%%NOPE%%"):
            self._template(translation_ids=[Command.create({"lang": "en_US", "body": "Hi %%NOPE%%"})])
        with self.assertRaisesRegex(ValidationError, "Translation.*Maximum length"):
            self._template(translation_ids=[Command.create({"lang": "en_US", "body": "a" * 1001})])
        with self.assertRaisesRegex(ValidationError, "main language"):
            self._template(translation_ids=[Command.create({"lang": "it_IT", "body": "Ciao"})])

    def test_messages_translated(self):
        self.env["res.lang"]._activate_lang("it_IT")
        template = self._template()
        messages = template.with_context(lang="it_IT")._rule_messages()
        self.assertEqual(
            set(messages),
            {
                "body_empty",
                "body_too_long",
                "too_many_spaces",
                "media_not_allowed",
                "button_type",
                "button_text_empty",
                "button_text_too_long",
                "button_emoji",
                "button_count",
                "button_order",
                "url_invalid",
                "url_too_long",
                "phone_invalid",
                "bad_placeholder",
                "unknown_placeholders",
                "missing_values",
                "translation_button_count",
                "translation_button_type",
            },
        )

    def test_duplicate_refused_until_deleted(self):
        first = self._template(name="First")
        self._request(first)
        same = self._template(name="Same text")
        with self.assertRaisesRegex(UserError, "Duplicate template.*First"):
            self._request(same)
        self.assertEqual(same.state, "draft")
        # a draft is no duplicate, nor a template on another account
        other_account = self.env["spoki.account"].create(
            {"name": "Other", "phone": "+390200000002", "company_id": self.company_a.id}
        )
        elsewhere = self._template(name="Elsewhere", account_id=other_account.id)
        self._request(elsewhere)
        self.assertEqual(elsewhere.state, "queued")
        # same body as a translation, same buttons: still a duplicate
        as_translation = self._template(
            name="As translation",
            body="Hello %%NOME%%",
            translation_ids=[Command.create({"lang": "es_ES", "body": "Ciao %%NOME%%, a presto!"})],
        )
        with self.assertRaisesRegex(UserError, "Duplicate template"):
            self._request(as_translation)
        # different buttons: not a duplicate
        with_button = self._template(
            name="With button", button_ids=[Command.create({"button_type": "quick_reply", "text": "Ok"})]
        )
        self._request(with_button)
        # archived ("deleted") → allowed again
        first.action_archive()
        self._request(same)
        self.assertEqual(same.state, "queued")
        # unlinked → allowed again
        again = self._template(name="Again")
        with self.assertRaisesRegex(UserError, "Duplicate template"):
            self._request(again)
        same.unlink()
        self._request(again)
        self.assertEqual(again.state, "queued")

    # ------------------------------------------------------------
    # Workflow, provider sync, protection, access
    # ------------------------------------------------------------
    def test_full_workflow_approved(self):
        template = self._multilang()
        self.assertEqual(template.state, "draft")
        self._request(template)
        self.assertEqual(template.state, "queued")
        self.assertTrue(template.external_id)
        self.assertEqual(template.provider_name, f"test_template_{template.id}")
        self.assertEqual(template.request_date, T0)
        mapping = json.loads(template.placeholder_mapping)
        self.assertEqual(mapping, {"NOME": 1, "TPL_WHEN": 2, "TPL_DATE": 3})
        # sandbox: queued for 30 s, in review until 120 s, then approved
        self._sync(10)
        self.assertEqual(template.state, "queued")
        self._sync(60)
        self.assertEqual(template.state, "in_review")
        self._sync(119)
        self.assertEqual(template.state, "in_review")
        self._sync(121)
        self.assertEqual(template.state, "approved")
        self.assertFalse(template.rejected_reason)
        self.assertEqual(template.status_date, T0 + timedelta(seconds=121))
        template._check_sendable()
        # nothing left to poll; the cron record calls the method
        self._sync(500)
        self.assertEqual(template.state, "approved")
        cron = self.env.ref("spoki_whatsapp.ir_cron_spoki_template_sync")
        self.assertEqual(cron.code.strip(), "model._cron_sync_template_status()")
        self.assertEqual(cron.model_id.model, "spoki.template")

    def test_sync_with_real_delays(self):
        """Zero/one second sandbox delays and the real clock."""
        self.account.write({"sandbox_review_delay": 0, "sandbox_approve_delay": 1})
        template = self._template()
        template.action_request_approval()
        self.assertEqual(template.state, "queued")
        time.sleep(1.1)
        self.Template._cron_sync_template_status()
        self.assertEqual(template.state, "approved")

    def test_rejected_with_reason_and_duplicate(self):
        # the sandbox (like Meta) rejects a body starting with a placeholder
        template = self._template(
            body="%%NOME%%, il codice %%TPL_CODE%% vale fino a %%TPL_DATE%%",
            button_ids=[Command.create({"button_type": "quick_reply", "text": "Ok"})],
            translation_ids=[Command.create({"lang": "en_US", "body": "%%NOME%%, code %%TPL_CODE%% is valid"})],
        )
        self._request(template)
        template.action_sync_status()  # manager button, real clock: way past the delays
        self.assertEqual(template.state, "rejected")
        self.assertIn("start or end", template.rejected_reason)
        with self.assertRaises(UserError):
            template._check_sendable()
        # duplicated into a new draft with its lines and positional mapping
        action = template.action_duplicate()
        copy = self.Template.browse(action["res_id"])
        self.assertEqual(copy.state, "draft")
        self.assertEqual(copy.name, "Test template (copy)")
        self.assertFalse(copy.external_id)
        self.assertFalse(copy.rejected_reason)
        self.assertEqual(copy.translation_ids.mapped("lang"), ["en_US"])
        self.assertEqual(copy.button_ids.mapped("text"), ["Ok"])
        self.assertEqual(copy.placeholder_mapping, template.placeholder_mapping)
        # identical text: refused until changed
        with self.assertRaisesRegex(UserError, "Duplicate template"):
            self._request(copy)
        copy.write({"body": "Ciao %%NOME%%: %%TPL_DATE%% è l'ultimo giorno per il codice %%TPL_CODE%%."})
        copy.translation_ids.body = "Hi %%NOME%%, code %%TPL_CODE%% is valid until %%TPL_DATE%%."
        self._request(copy)
        # the positional indexes keep their meaning although the order changed
        self.assertEqual(json.loads(copy.placeholder_mapping), json.loads(template.placeholder_mapping))
        self.assertEqual(json.loads(copy.placeholder_mapping), {"NOME": 1, "TPL_CODE": 2, "TPL_DATE": 3})
        self.assertNotEqual(copy.external_id, template.external_id)
        self._sync(200)
        self.assertEqual(copy.state, "approved")

    def test_write_protection_after_request(self):
        template = self._multilang()
        self._request(template)
        translation = template.translation_ids[0]
        button = template.button_ids[0]
        for vals in (
            {"body": "Altro testo"},
            {"name": "Renamed"},
            {"category": "utility"},
            {"lang": "es_ES"},
            {"account_id": self.account.id},
            {"button_ids": [Command.clear()]},
            {"translation_ids": [Command.create({"lang": "fr_FR", "body": "Salut"})]},
        ):
            with self.assertRaisesRegex(UserError, "already been requested"):
                template.write(vals)
        with self.assertRaisesRegex(UserError, "already been requested"):
            translation.body = "Changed"
        with self.assertRaisesRegex(UserError, "already been requested"):
            translation.unlink()
        with self.assertRaisesRegex(UserError, "already been requested"):
            self.env["spoki.template.translation"].create(
                {"template_id": template.id, "lang": "fr_FR", "body": "Salut %%NOME%%"}
            )
        with self.assertRaisesRegex(UserError, "already been requested"):
            button.text = "Changed"
        with self.assertRaisesRegex(UserError, "already been requested"):
            button.unlink()
        with self.assertRaisesRegex(UserError, "already been requested"):
            self.env["spoki.template.button"].create(
                {"template_id": template.id, "button_type": "quick_reply", "text": "More"}
            )
        # a line can't be moved onto a requested template either
        draft = self._template(name="Draft", button_ids=[Command.create({"button_type": "quick_reply", "text": "A"})])
        with self.assertRaisesRegex(UserError, "already been requested"):
            draft.button_ids.template_id = template
        with self.assertRaisesRegex(UserError, "already been requested"):
            template.action_request_approval()
        # status fields are still written by the sync / webhook, archiving works
        template.write({"state": "in_review"})
        template.action_archive()
        self.assertFalse(template.active)

    def test_provider_status_webhook(self):
        template = self._template()
        self._request(template)
        Template = self.Template
        self.assertFalse(Template._apply_provider_status("unknown", "approved"))
        self.assertFalse(Template._apply_provider_status(template.external_id, "bogus"))
        self.assertEqual(Template._apply_provider_status(template.external_id, "in_review"), template)
        self.assertEqual(template.state, "in_review")
        # never backwards
        self.assertFalse(Template._apply_provider_status(template.external_id, "queued"))
        self.assertEqual(template.state, "in_review")
        Template._apply_provider_status(template.external_id, "rejected", "INVALID_FORMAT")
        self.assertEqual((template.state, template.rejected_reason), ("rejected", "INVALID_FORMAT"))
        # multi-language Meta template: one id per language
        meta = self._template(name="Meta", body="Buongiorno %%NOME%%, grazie!")
        meta.write({"state": "queued", "external_id": "111,222"})
        Template._apply_provider_status("222", "approved")
        self.assertEqual(meta.state, "in_review")  # only one language: the poll aggregates
        Template._apply_provider_status("111", "rejected", "TAG_CONTENT_MISMATCH")
        self.assertEqual((meta.state, meta.rejected_reason), ("rejected", "TAG_CONTENT_MISMATCH"))
        # drafts are never moved by the provider
        draft = self._template(name="Draft", body="Salve %%NOME%%")
        draft.external_id = "333"
        self.assertFalse(Template._apply_provider_status("333", "approved"))

    def test_sendable_only(self):
        draft = self._template(name="Draft one")
        approved = self._template(name="Approved one", body="Buonasera %%NOME%%", state="approved")
        self.assertEqual(approved.state, "approved")
        with self.assertRaisesRegex(UserError, "Only approved templates"):
            draft._check_sendable()
        approved._check_sendable()
        domain = self.Template._sendable_domain(self.account)
        found = self.Template.search(domain)
        self.assertIn(approved, found)
        self.assertNotIn(draft, found)
        names = dict(self.Template.with_context(spoki_sendable_only=True).name_search("one"))
        self.assertIn(approved.id, names)
        self.assertNotIn(draft.id, names)
        approved.action_archive()
        with self.assertRaises(UserError):
            approved._check_sendable()

    def test_views_load(self):
        views = self.Template.get_views([(False, "form"), (False, "list"), (False, "search")])
        # issue 14: the form's "Request approval" checks first, then confirms
        self.assertIn("action_prepare_approval", views["views"]["form"]["arch"])
        self.assertIn("statusbar", views["views"]["form"]["arch"])
        self.assertIn("%%NOME%% %%COGNOME%%", views["views"]["form"]["arch"])
        self.env["spoki.template.preview"].get_views([(False, "form")])
        agent_views = self.Template.with_user(self.agent).get_views([(False, "form")])
        self.assertNotIn("action_prepare_approval", agent_views["views"]["form"]["arch"])
        self.assertNotIn("action_request_approval", agent_views["views"]["form"]["arch"])
        self.assertIn("action_preview_partner", agent_views["views"]["form"]["arch"])

    def test_agent_access(self):
        template = self._multilang(state="approved")
        as_agent = template.with_user(self.agent)
        self.assertEqual(as_agent.name, "Test template")
        self.assertTrue(as_agent.preview_html)
        self.assertEqual(len(as_agent.translation_ids), 2)
        with self.assertRaises(AccessError):
            self.Template.with_user(self.agent).create(
                {"name": "Nope", "account_id": self.account.id, "lang": "it_IT", "body": "Ciao"}
            )
        with self.assertRaises(AccessError):
            as_agent.write({"active": False})
        draft = self._template(name="Agent draft")
        with self.assertRaises(AccessError):
            self.env["spoki.template.button"].with_user(self.agent).create(
                {"template_id": draft.id, "button_type": "quick_reply", "text": "x"}
            )
        with self.assertRaises(AccessError):
            draft.with_user(self.agent).action_request_approval()
        # preview for a chosen contact
        self.partner_it._spoki_set_values({"TPL_DATE": "2026-12-25", "TPL_WHEN": "2026-12-25 13:30:00"})
        self.partner_it.tz = "Europe/Rome"
        preview = (
            self.env["spoki.template.preview"]
            .with_user(self.agent)
            .create({"template_id": template.id, "preview_partner_id": self.partner_it.id})
        )
        self.assertEqual(preview.lang, "it_IT")
        self.assertEqual(preview.body, "Ciao Mario, il tuo appuntamento è il 25/12/2026, 14:30 (25/12/2026). A presto!")
        self.assertIn("o_spoki_wa_bubble", preview.preview_html)
        self.assertFalse(preview.missing_names)
        action = as_agent.action_preview_partner()
        self.assertEqual(action["res_model"], "spoki.template.preview")
        # other company: not visible
        with self.assertRaises(AccessError):
            template.with_user(self.agent_b).read(["name"])
        self.assertFalse(self.Template.with_user(self.agent_b).search([("id", "=", template.id)]))

    # ------------------------------------------------------------
    # Rendering
    # ------------------------------------------------------------

    def test_translation_choice(self):
        render = self.template._render_for_partner
        self.partner_it.lang = "en_US"  # the number wins over the contact's language
        self.assertEqual(render(self.partner_it)["lang"], "it_IT")
        self.assertEqual(render(self.partner_uk)["lang"], "en_US")
        self.assertEqual(render(self.partner_es)["lang"], "es_ES")
        self.assertEqual(render(self.partner_us)["lang"], "en_US")
        # unparsable number: the contact's language, then the template's
        self.assertFalse(self.partner_none.wa_phone)
        self.assertEqual(render(self.partner_none)["lang"], "es_ES")
        self.env["res.lang"]._activate_lang("fr_FR")
        self.partner_none.lang = "fr_FR"
        self.assertEqual(render(self.partner_none)["lang"], "it_IT")
        self.env["res.lang"]._activate_lang("en_GB")
        self.partner_none.lang = "en_GB"
        self.assertEqual(render(self.partner_none)["lang"], "en_US")
        # +34 with only an Italian template: the default
        only_it = self._template(name="Only it", body="Solo %%NOME%%")
        self.assertEqual(only_it._render_for_partner(self.partner_es)["lang"], "it_IT")
        self.assertEqual(render(self.partner_it)["provider_lang"], "it")

    def test_dates_in_contact_language(self):
        partners = self.partner_it | self.partner_us | self.partner_es
        partners._spoki_set_values({"TPL_DATE": "2026-12-25", "TPL_WHEN": "2026-12-25 13:30:00"})
        self.partner_it.tz = "Europe/Rome"
        self.partner_us.tz = "America/Los_Angeles"
        self.partner_es.tz = False
        result = self.template.with_user(self.manager)._render_for_partners(partners)
        self.assertEqual(
            result[self.partner_it.id]["body"],
            "Ciao Mario, il tuo appuntamento è il 25/12/2026, 14:30 (25/12/2026). A presto!",
        )
        self.assertEqual(
            result[self.partner_us.id]["body"].replace("\u202f", " "),
            "Hi Emily, your appointment is on 12/25/2026, 5:30 AM (12/25/2026). See you!",
        )
        # no tz on the contact: the user's (the manager has none → UTC)
        self.manager.tz = False
        result = self.template.with_user(self.manager)._render_for_partners(self.partner_es)
        self.assertEqual(
            result[self.partner_es.id]["body"],
            "Hola Lucía, tu cita es el 25/12/2026 (25/12/2026, 13:30). ¡Hasta pronto!",
        )
        self.manager.tz = "Europe/Madrid"
        result = self.template.with_user(self.manager)._render_for_partners(self.partner_es)
        self.assertIn("(25/12/2026, 14:30)", result[self.partner_es.id]["body"])

    def test_params_order_and_missing(self):
        self.partner_es._spoki_set_values({"TPL_WHEN": datetime(2026, 12, 25, 13, 30)})
        self.partner_es.tz = "UTC"
        result = self.template._render_for_partner(self.partner_es)
        # the Spanish body uses TPL_DATE before TPL_WHEN: params follow {{n}}
        self.assertEqual(result["params"], ["Lucía", "25/12/2026, 13:30", ""])
        self.assertEqual(result["missing"], ["TPL_DATE"])
        self.assertIn("%%TPL_DATE%%", result["body"])
        # the payload (OFF fields, or overrides) fills the gap; strings of
        # date fields are parsed and formatted (CLDR short Spanish date: d/M/yyyy)
        result = self.template._render_for_partner(self.partner_es, {"TPL_DATE": "2027-01-06"})
        self.assertEqual(result["missing"], [])
        self.assertEqual(result["params"], ["Lucía", "25/12/2026, 13:30", "6/1/2027"])
        self.assertEqual(result["body"], "Hola Lucía, tu cita es el 6/1/2027 (25/12/2026, 13:30). ¡Hasta pronto!")
        off = self._template(name="Off", body="Ciao %%NOME%%, codice %%TPL_CODE%% fino al %%TPL_DATE%%.")
        result = off._render_for_partner(self.partner_it, {"tpl_code": "SUMMER", "TPL_DATE": date(2027, 1, 6)})
        self.assertEqual(result["body"], "Ciao Mario, codice SUMMER fino al 06/01/2027.")
        self.assertEqual(result["params"], ["Mario", "SUMMER", "06/01/2027"])
        result = off._render_for_partner(self.partner_it)
        self.assertEqual(result["missing"], ["TPL_CODE", "TPL_DATE"])

    def test_batch_render_queries(self):
        partners = self._create_partners(300, prefix="+39347")
        partners[:100]._spoki_set_values({"TPL_DATE": "2026-12-25"})
        partners.invalidate_recordset()
        self.env["spoki.dynamic.value"].invalidate_model()
        self.template.invalidate_recordset()
        start = self.env.cr.sql_log_count
        started = time.perf_counter()
        result = self.template._render_for_partners(partners, {"TPL_WHEN": "2026-12-25 13:30"})
        elapsed = time.perf_counter() - started
        queries = self.env.cr.sql_log_count - start
        self.assertEqual(len(result), 300)
        self.assertLess(queries, 20, "rendering must read in batch, not per contact")
        self.assertEqual(result[partners[0].id]["missing"], [])
        self.assertEqual(result[partners[200].id]["missing"], ["TPL_DATE"])
        self.assertLess(elapsed, 5)


@tagged("post_install", "-at_install", "spoki_template")
class TestSpokiTemplateUi(HttpCase):
    """The template form renders the WhatsApp-like preview in a real web client."""

    def _check_form(self, record, selector, login):
        action = self.env.ref("spoki_whatsapp.spoki_template_action")
        code = """
            const selector = %s;
            const deadline = Date.now() + 20000;
            const check = () => {
                if (document.querySelector(selector)) { console.log('test successful'); return; }
                const error = document.querySelector('.o_error_dialog');
                if (error) { console.error('error dialog: ' + error.innerText); return; }
                if (Date.now() > deadline) { console.error(selector + ' not rendered'); return; }
                setTimeout(check, 100);
            };
            check();
        """ % json.dumps(selector)
        self.browser_js(f"/odoo/action-{action.id}/{record.id}", code, login=login, timeout=40)

    def test_template_form_preview(self):
        approved = self.env.ref("spoki_whatsapp.demo_template_appointment")
        self._check_form(approved, ".o_spoki_wa_preview .o_spoki_wa_bubble .o_spoki_wa_button", "admin")
        draft = self.env.ref("spoki_whatsapp.demo_template_promo_june")
        self._check_form(draft, "button[name='action_prepare_approval']", "admin")

    def test_agent_sees_preview(self):
        mail_new_test_user(self.env, login="spoki_tpl_agent", groups="base.group_user,spoki_whatsapp.group_spoki_user")
        approved = self.env.ref("spoki_whatsapp.demo_template_appointment")
        self._check_form(approved, "button[name='action_preview_partner']", "spoki_tpl_agent")
