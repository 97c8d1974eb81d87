"""Italian wording of terms the same English word used for two things
(issue 14): the settings section isn't "Invio in corso" (the message
state), WhatsApp's tags are "Tag" everywhere (not Odoo's "Etichette"),
the chatter says "Campagna WhatsApp creata", not "WhatsApp campaign creato"."""

from odoo.tests import TransactionCase, tagged

LANG = "it_IT"


@tagged("post_install", "-at_install")
class TestItalianWording(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang(LANG)
        cls.env["ir.module.module"]._load_module_terms(["spoki_whatsapp"], [LANG], overwrite=True)
        cls.env_it = cls.env(context=dict(cls.env.context, lang=LANG))

    def test_sending_section_is_not_the_message_state(self):
        env = self.env_it
        arch = env["res.config.settings"].get_view(env.ref("base.res_config_settings_view_form").id)["arch"]
        self.assertIn('title="Invio dei messaggi"', arch)
        self.assertNotIn('title="Invio in corso"', arch)
        states = dict(env["spoki.message"].fields_get(["state"])["state"]["selection"])
        self.assertEqual(states["sending"], "Invio in corso")

    def test_whatsapp_tags_read_tag(self):
        env = self.env_it
        for view, model in (
            ("spoki_whatsapp.res_partner_view_list_spoki", "res.partner"),
            ("spoki_whatsapp.spoki_list_view_form", "spoki.list"),
        ):
            arch = env[model].get_view(env.ref(view).id)["arch"]
            self.assertNotIn("Etichette", arch, view)
            self.assertIn('string="Tag"', arch, view)

    def test_creation_messages_agree(self):
        env = self.env_it
        spoki_list = env["spoki.list"].create({"name": "Clienti"})
        self.assertIn("Lista WhatsApp creata", spoki_list.message_ids[-1:].body)
        expected = {
            "spoki.account": "Account WhatsApp creato",
            "spoki.campaign": "Campagna WhatsApp creata",
            "spoki.list": "Lista WhatsApp creata",
            "spoki.template": "Template WhatsApp creato",
        }
        for model, text in expected.items():
            self.assertEqual(env[model]._creation_message(), text, model)
