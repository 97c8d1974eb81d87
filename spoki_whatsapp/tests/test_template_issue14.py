"""Issue 14, templates: buttons per language, WhatsApp's own languages,
checks before the irreversible confirmation, rejection reasons explained."""

from odoo import Command
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .automation_common import AutomationCommon
from .test_template import SpokiTemplateCommon


@tagged("post_install", "-at_install", "spoki_template")
class TestSpokiTemplateIssue14(SpokiTemplateCommon):
    def _english_buttons(self, template):
        english = template.translation_ids.filtered(lambda t: t.lang == "en_US")
        texts = {"Website": "Our site", "Call us": "Phone us", "Confirm": "Yes, confirm"}
        for line in english.button_text_ids:
            line.text = texts[line.original_text]
        return english

    # -- buttons per language ------------------------------------------------
    def test_translation_has_its_own_button_texts(self):
        template = self._multilang()
        english = template.translation_ids.filtered(lambda t: t.lang == "en_US")
        # created with the template's buttons, texts copied as a start
        self.assertEqual(english.button_text_ids.mapped("text"), ["Website", "Call us", "Confirm"])
        self._english_buttons(template)
        self.assertEqual([b["text"] for b in template._buttons_data("en_US")], ["Our site", "Phone us", "Yes, confirm"])
        self.assertEqual([b["text"] for b in template._buttons_data("it_IT")], ["Website", "Call us", "Confirm"])
        self.assertEqual(
            [b["value"] for b in template._buttons_data("en_US")], ["https://www.example.com", "+390212345678", ""]
        )
        # the translation's preview shows its own buttons
        self.assertIn("Yes, confirm", english.preview_html)
        self.assertNotIn(">Confirm<", english.preview_html)
        # a button added later gets a text in every translation
        template.write({"button_ids": [Command.create({"sequence": 4, "button_type": "quick_reply", "text": "Stop"})]})
        self.assertEqual(english.button_text_ids.sorted("sequence").mapped("text")[-1], "Stop")

    def test_button_texts_validated_per_language(self):
        template = self._multilang()
        english = template.translation_ids.filtered(lambda t: t.lang == "en_US")
        line = english.button_text_ids.filtered(lambda b: b.button_type == "quick_reply")
        with self.assertRaisesRegex(ValidationError, "English.*Button text length"):
            line.text = "Yes please confirm my appointment"
            self.env.flush_all()
        with self.assertRaisesRegex(ValidationError, "emoji"):
            line.text = "Yes 👍"
            self.env.flush_all()

    def test_send_uses_the_language_buttons(self):
        template = self._multilang(name="Sent in English", account_id=self.account_render.id)
        self._english_buttons(template)
        template.state = "approved"
        self.partner_uk._spoki_set_values({"TPL_DATE": "2026-12-25", "TPL_WHEN": "2026-12-25 13:30:00"})
        message = self.env["spoki.message"]._enqueue_template(template.account_id, template, self.partner_uk)
        self.assertEqual(message.lang, "en_US")
        body = str(message._spoki_channel_body())
        self.assertIn("Yes, confirm", body)
        self.assertNotIn(">Confirm<", body)
        preview = self.env["spoki.template.preview"].create(
            {"template_id": template.id, "preview_partner_id": self.partner_uk.id}
        )
        self.assertIn("Our site", preview.preview_html)

    def test_request_submits_each_language_with_its_buttons(self):
        template = self._multilang()
        self._english_buttons(template)
        submitted = []
        provider_class = type(self.account._get_provider())
        original = provider_class.submit_template

        def spy(provider, spec):
            submitted.append(spec)
            return original(provider, spec)

        provider_class.submit_template = spy
        try:
            self._request(template)
        finally:
            provider_class.submit_template = original
        (spec,) = submitted
        self.assertEqual([b["text"] for b in spec.buttons_for("en_US")], ["Our site", "Phone us", "Yes, confirm"])
        self.assertEqual([b["text"] for b in spec.buttons_for("it")], ["Website", "Call us", "Confirm"])
        # frozen with the template
        with self.assertRaises(UserError):
            template.translation_ids.button_text_ids[:1].text = "Changed"

    def test_copy_keeps_button_texts(self):
        template = self._multilang()
        self._english_buttons(template)
        copy = template.copy()
        english = copy.translation_ids.filtered(lambda t: t.lang == "en_US")
        self.assertEqual(english.button_text_ids.button_id, copy.button_ids)
        self.assertEqual([b["text"] for b in copy._buttons_data("en_US")], ["Our site", "Phone us", "Yes, confirm"])

    def test_quick_reply_rule_accepts_translated_text(self):
        template = self._multilang()
        self._english_buttons(template)
        template.state = "approved"
        rule = self.env["base.automation"].new(
            {"trigger": "on_spoki_incoming", "spoki_incoming_mode": "equals", "spoki_incoming_text": "Yes, confirm"}
        )
        rule.spoki_incoming_template_id = template
        rule._check_spoki_incoming()  # no error: the English text of the quick reply

    # -- languages -------------------------------------------------------------
    def test_whatsapp_languages_without_odoo_languages(self):
        Template = self.Template.with_context(lang="it_IT")
        selection = dict(Template._lang_selection())
        self.assertEqual(selection["en"], "Inglese (en)")
        self.assertEqual(selection["en_US"], "Inglese (Stati Uniti) (en_US)")
        self.assertIn("pt_BR", selection)  # Portuguese is not installed in Odoo
        self.assertNotIn("pt_BR", dict(self.env["res.lang"].get_installed()))
        self.assertIn("it_IT", selection)  # codes stored before stay valid
        english = dict(self.Template.with_context(lang="en_US")._lang_selection())
        self.assertEqual(english["it"], "Italian (it)")
        self.assertEqual(english["en_US"], "English (US) (en_US)")
        # Italian template with a Brazilian translation, sent as 'pt_BR'
        template = self._template(lang="it", translation_ids=[Command.create({"lang": "pt_BR", "body": "Olá!"})])
        self.assertEqual(template.lang_codes, "Italian (it), Portuguese (BR) (pt_BR)")
        # 'it' and 'it_IT' are the same WhatsApp language
        with self.assertRaisesRegex(ValidationError, "main language"):
            self._template(lang="it", translation_ids=[Command.create({"lang": "it_IT", "body": "Ciao"})])

    def test_italian_only_database_can_add_english(self):
        self.env["res.lang"]._activate_lang("it_IT")
        template = self._template(name="Italian only", body="Ciao, ci vediamo!")
        template.write({"translation_ids": [Command.create({"lang": "en", "body": "Hi, see you!"})]})
        self.assertEqual(template.translation_ids.lang, "en")
        self.assertIn("en", template._bodies())

    # -- checks first, confirmation after ----------------------------------------
    def test_prepare_approval_checks_before_confirming(self):
        first = self._template(name="First")
        self._request(first)
        same = self._template(name="Same text")
        with self.assertRaisesRegex(UserError, "Duplicate template"):
            same.action_prepare_approval()
        self.assertEqual(same.state, "draft")
        other = self._template(name="Other", body="Buongiorno %%NOME%%, benvenuto!")
        action = other.action_prepare_approval()
        self.assertEqual(action["res_model"], "spoki.template.approval")
        self.assertEqual(other.state, "draft")  # nothing irreversible yet
        wizard = self.env["spoki.template.approval"].with_context(action["context"]).create({})
        wizard.action_confirm()
        self.assertEqual(other.state, "queued")
        with self.assertRaisesRegex(UserError, "already been requested"):
            other.action_prepare_approval()
        form = self.Template.get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn("action_prepare_approval", form)
        self.assertNotIn("can't be changed any more", form)  # no confirm= before the checks
        agent_form = self.Template.with_user(self.agent).get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertNotIn("action_prepare_approval", agent_form)

    # -- rejection reasons ---------------------------------------------------------
    def test_rejection_reason_explained_in_italian(self):
        template = self._template()
        self._request(template)
        self.Template._apply_provider_status(template.external_id, "rejected", "TAG_CONTENT_MISMATCH")
        self.assertEqual(template.rejected_reason, "TAG_CONTENT_MISMATCH")  # raw kept
        self.assertIn("category", template.rejected_reason_explained)
        italian = template.with_context(lang="it_IT")
        self.assertIn("categoria", italian.rejected_reason_explained)
        self.assertEqual(italian.rejected_reason, "TAG_CONTENT_MISMATCH")
        template.rejected_reason = "PAUSED: SCAM"
        self.assertEqual(len(template.rejected_reason_explained.splitlines()), 2)
        template.rejected_reason = "Something unknown"
        self.assertFalse(template.rejected_reason_explained)
        form = self.Template.get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn("rejected_reason_explained", form)
        self.assertIn("https://www.whatsapp.com/legal/commerce-policy", form)


@tagged("post_install", "-at_install", "spoki_template")
class TestSpokiTemplateIssue14Replies(AutomationCommon):
    def test_quick_reply_in_another_language_fires_the_rule(self):
        """The rule names the Italian quick reply; a customer who received the
        English translation taps its English text: the rule runs."""
        template = self.env["spoki.template"].create(
            {
                "name": "Promo EN",
                "account_id": self.account.id,
                "lang": "it_IT",
                "body": "Ciao %%NOME%%, sconti per te!",
                "button_ids": [Command.create({"button_type": "quick_reply", "text": "Mi interessa"})],
                "translation_ids": [Command.create({"lang": "en_US", "body": "Hi %%NOME%%, deals for you!"})],
            }
        )
        template.translation_ids.button_text_ids.text = "I'm interested"
        template.write({"state": "approved", "provider_name": f"promo_en_{template.id}"})
        self._rule(
            "Interested",
            "on_spoki_incoming",
            [self._tag(self.tag_yes, target="message")],
            model=self.message_model,
            spoki_incoming_template_id=template.id,
            spoki_incoming_text="Mi interessa",
        )
        self.assertTrue(self.receive(self.customer.wa_phone, "i'm interested").tag_ids)
        self.assertTrue(self.receive(self.customer.wa_phone, "Mi interessa").tag_ids)
        self.assertFalse(self.receive(self.customer.wa_phone, "Not interested").tag_ids)
