from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import SpokiCommon
from .messaging_common import MessagingCommon


@tagged("post_install", "-at_install")
class TestSpokiSecurity(SpokiCommon):
    def test_agent_cannot_read_credentials(self):
        self.account.sudo().write({"spoki_api_key": "secret-key", "meta_app_secret": "app-secret"})
        account = self.account.with_user(self.agent)
        self.assertEqual(account.name, "Test sandbox")
        with self.assertRaises(AccessError):
            account.read(["spoki_api_key"])
        with self.assertRaises(AccessError):
            account.read(["meta_app_secret"])
        fields = self.env["spoki.account"].with_user(self.agent).fields_get()
        self.assertNotIn("spoki_api_key", fields)
        self.assertIn("spoki_api_key", self.env["spoki.account"].with_user(self.manager).fields_get())
        self.assertEqual(self.account.with_user(self.manager).spoki_api_key, "secret-key")
        # the provider client still gets them (sudo inside)
        self.account.provider = "spoki"
        self.assertEqual(account._provider_config()["api_key"], "secret-key")

    def test_agent_cannot_manage_accounts_or_fields(self):
        with self.assertRaises(AccessError):
            self.env["spoki.account"].with_user(self.agent).create({"name": "Nope"})
        with self.assertRaises(AccessError):
            self.account.with_user(self.agent).write({"quality": "low"})
        with self.assertRaises(AccessError):
            self.env["spoki.dynamic.field"].with_user(self.agent).create({"name": "NOPE"})
        # but agents manage lists and read dynamic fields
        spoki_list = self.env["spoki.list"].with_user(self.agent).create({"name": "Agent list"})
        spoki_list.partner_ids = self.partner_it
        self.assertTrue(self.env["spoki.dynamic.field"].with_user(self.agent).search([]))

    def test_multi_company_lists_and_accounts(self):
        list_a = self.env["spoki.list"].create({"name": "Company A list", "company_id": self.company_a.id})
        list_b = self.env["spoki.list"].create({"name": "Company B list", "company_id": self.company_b.id})
        visible_b = self.env["spoki.list"].with_user(self.agent_b).search([])
        self.assertIn(list_b, visible_b)
        self.assertNotIn(list_a, visible_b)
        with self.assertRaises(AccessError):
            list_a.with_user(self.agent_b).read(["name"])
        accounts_b = self.env["spoki.account"].with_user(self.agent_b).search([])
        self.assertEqual(accounts_b, self.account_b)
        with self.assertRaises(AccessError):
            self.account.with_user(self.agent_b).read(["name"])

    def test_non_whatsapp_user_has_no_access(self):
        from odoo.addons.mail.tests.common import mail_new_test_user

        plain = mail_new_test_user(self.env, login="plain_user", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.env["spoki.list"].with_user(plain).search([])
        with self.assertRaises(AccessError):
            self.env["spoki.account"].with_user(plain).search([])


@tagged("post_install", "-at_install")
class TestSpokiSecurityMessaging(MessagingCommon):
    def test_company_b_sees_nothing_of_company_a(self):
        template = self._approved_template(self.account)
        field = self.env["spoki.dynamic.field"].create({"name": "SEC_LINK", "on_contacts": False})
        campaign = self.env["spoki.campaign"].create(
            {
                "name": "A only",
                "account_id": self.account.id,
                "template_id": template.id,
                "value_ids": [(0, 0, {"field_id": field.id, "value": "https://example.com"})],
            }
        )
        self.receive("+393471234567", "Ciao")
        message = self.env["spoki.message"].search([("account_id", "=", self.account.id)], limit=1)
        self.assertTrue(message)
        records = {
            "spoki.template": template,
            "spoki.campaign": campaign,
            "spoki.campaign.value": campaign.value_ids,
            "spoki.message": message,
            "spoki.conversation": message.conversation_id,
            "spoki.chat": self.env["spoki.chat"].search([("account_id", "=", self.account.id)]),
        }
        for model, record in records.items():
            self.assertTrue(record, model)
            # agent of company A sees them
            self.assertEqual(self.env[model].with_user(self.agent).search([("id", "in", record.ids)]), record, model)
            # agent of company B sees nothing, even by id
            self.assertFalse(self.env[model].with_user(self.agent_b).search([("id", "in", record.ids)]), model)
            with self.assertRaises(AccessError, msg=model):
                record.with_user(self.agent_b).read(["display_name"])
