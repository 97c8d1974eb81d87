"""Privileged actions check access before any sudo() or provider call; test
clocks only in tests; company isolation of dynamic values and portfolios;
https-only endpoints; neutralized staging copies (issue 11, Access and
Hygiene)."""

import threading
from datetime import datetime, timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, ValidationError
from odoo.modules import neutralize
from odoo.tests import tagged
from odoo.tools import config

from odoo.addons.mail.tests.common import mail_new_test_user

from ..models.spoki_message import spoki_now
from .common import SpokiCommon
from .messaging_common import FakeProviderAccounts

PAST = datetime(2001, 2, 3, 4, 5, 6)


@tagged("post_install", "-at_install")
class TestAccessAccounts(FakeProviderAccounts, SpokiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_fake_provider_accounts("+390200000066")
        cls.portal = mail_new_test_user(cls.env, login="spoki_portal", groups="base.group_portal")
        cls.manager_b = cls._new_user("spoki_manager_b", "spoki_whatsapp.group_spoki_manager", cls.company_b)
        cls.meta_template = cls.env["spoki.template"].create(
            {"name": "Access check", "account_id": cls.meta.id, "lang": "en_US", "body": "Hello there, welcome!"}
        )

    # ------------------------------------------------------------
    # account and template actions
    # ------------------------------------------------------------

    def test_account_actions_refused_before_the_provider(self):
        """Portal users, agents and managers of another company get
        AccessError and nothing reaches the provider; the verify token is
        unchanged."""
        token = self.meta.sudo().webhook_verify_token
        actions = ("action_regenerate_verify_token", "action_refresh_status", "action_tier_compute_now")
        for user in (self.portal, self.agent, self.agent_b, self.manager_b):
            for action in actions:
                with self.subTest(user=user.login, action=action), self.assertRaises(AccessError):
                    getattr(self.meta.with_user(user), action)()
        for user in (self.portal, self.agent_b, self.manager_b):
            with self.subTest(user=user.login, action="action_view_tier_history"), self.assertRaises(AccessError):
                self.meta.with_user(user).action_view_tier_history()
        self.assertEqual(self.fake.requests, [], "no call reached the provider")
        self.assertEqual(self.meta.sudo().webhook_verify_token, token)
        # the account's managers may
        as_manager = self.meta.with_user(self.manager)
        as_manager.action_refresh_status()
        as_manager.action_tier_compute_now()
        as_manager.action_regenerate_verify_token()
        self.assertTrue(self.fake.requests)
        self.assertNotEqual(self.meta.sudo().webhook_verify_token, token)
        self.assertEqual(self.meta.with_user(self.agent).action_view_tier_history()["res_model"], "spoki.tier.history")

    def test_template_actions_refused_before_the_provider(self):
        for user in (self.portal, self.agent, self.agent_b, self.manager_b):
            for action in ("action_request_approval", "action_sync_status"):
                with self.subTest(user=user.login, action=action), self.assertRaises(AccessError):
                    getattr(self.meta_template.with_user(user), action)()
        self.assertEqual(self.fake.requests, [])
        self.assertEqual(self.meta_template.state, "draft")
        self.meta_template.with_user(self.manager).action_request_approval()
        self.assertEqual(len(self.fake.requests_to("message_templates", "POST")), 1)
        self.meta_template.with_user(self.manager).action_sync_status()
        self.assertNotEqual(self.meta_template.state, "draft")

    # ------------------------------------------------------------
    # clock
    # ------------------------------------------------------------

    def test_context_clock_only_in_tests(self):
        env = self.env(context=dict(self.env.context, spoki_clock=PAST))
        Account = env["spoki.account"]
        self.assertEqual(spoki_now(env), PAST)
        self.assertEqual(Account._tier_now(), PAST)
        with (
            patch.dict(config.options, {"test_enable": False}),
            patch.object(threading.current_thread(), "testing", False),
        ):
            before = fields.Datetime.now() - timedelta(seconds=1)
            for clock in (PAST, lambda: PAST, fields.Datetime.to_string(PAST)):
                env = self.env(context=dict(self.env.context, spoki_clock=clock))
                self.assertGreaterEqual(spoki_now(env), before, "production ignores the context clock")
                self.assertGreaterEqual(env["spoki.account"]._tier_now(), before.replace(microsecond=0))
                self.assertGreaterEqual(env["spoki.message"]._now(), before)

    # ------------------------------------------------------------
    # company isolation
    # ------------------------------------------------------------

    def test_dynamic_values_follow_their_contact(self):
        field = self.env["spoki.dynamic.field"].create({"name": "ACCESS_CODE", "field_type": "text"})
        other = self.env["spoki.dynamic.field"].create({"name": "ACCESS_NOTE", "field_type": "text"})
        contact_a = self.env["res.partner"].create(
            {"name": "A only", "mobile": "+393470001111", "company_id": self.company_a.id}
        )
        shared = self.env["res.partner"].create({"name": "Shared", "mobile": "+393470002222"})
        contact_a._spoki_set_values({"ACCESS_CODE": "secret-a"})
        shared._spoki_set_values({"ACCESS_CODE": "shared"})
        Value = self.env["spoki.dynamic.value"]
        value_a = Value.search([("partner_id", "=", contact_a.id), ("field_id", "=", field.id)])
        value_shared = Value.search([("partner_id", "=", shared.id), ("field_id", "=", field.id)])
        self.assertTrue(value_a and value_shared)
        as_b = Value.with_user(self.agent_b)
        self.assertFalse(as_b.search([("id", "=", value_a.id)]))
        self.assertEqual(as_b.search([("id", "in", (value_a | value_shared).ids)]), value_shared)
        with self.assertRaises(AccessError):
            value_a.with_user(self.agent_b).read(["value_text"])
        with self.assertRaises(AccessError):
            value_a.with_user(self.agent_b).write({"value_text": "hijacked"})
        with self.assertRaises(AccessError):
            value_a.with_user(self.agent_b).unlink()
        with self.assertRaises(AccessError):
            Value.with_user(self.agent_b).create({"partner_id": contact_a.id, "field_id": other.id, "value_text": "x"})
        self.assertEqual(value_a.value_text, "secret-a")
        self.assertEqual(value_a.with_user(self.agent).value_text, "secret-a")

    def test_portfolio_limit_never_crosses_companies(self):
        level = self.env["spoki.tier.level"].search([("policy", "=", "meta")], order="sequence", limit=1)
        twin = self.env["spoki.account"].create({"name": "Twin A", "phone": "+390200000067"})
        (self.account | twin | self.account_b).write(
            {"tier_policy": "meta", "tier_level_id": level.id, "portfolio": "P1"}
        )
        self.assertEqual(self.account._limit_group(), self.account | twin)
        self.assertEqual(self.account_b._limit_group(), self.account_b)
        self.assertEqual(self.account._tier_scope_accounts(), self.account | twin)
        self.assertEqual(self.account_b._tier_scope_accounts(), self.account_b)
        self.assertNotEqual(self.account._tier_scope_key(), self.account_b._tier_scope_key())

    # ------------------------------------------------------------
    # hygiene
    # ------------------------------------------------------------

    def test_endpoint_must_be_https(self):
        for url in ("https://graph.facebook.com", "http://127.0.0.1:8069/api/1", "http://localhost:9000", False):
            self.meta.api_endpoint = url
        for url in ("http://graph.facebook.com", "ftp://spoki.example", "spoki.example/api/1"):
            with self.subTest(url=url), self.assertRaises(ValidationError):
                self.meta.api_endpoint = url
                self.meta.flush_recordset()

    def test_neutralize_clears_live_credentials(self):
        spoki = self.env["spoki.account"].create(
            {
                "name": "Live Spoki",
                "phone": "+390200000068",
                "provider": "spoki",
                "spoki_api_key": "live-key",
                "spoki_webhook_secret": "live-secret",
                "api_endpoint": "https://app.spoki.it/api/1",
            }
        )
        accounts = self.meta | spoki
        tokens = accounts.sudo().mapped("webhook_verify_token")
        self.env.flush_all()
        queries = list(neutralize.get_neutralization_queries(["spoki_whatsapp"]))
        self.assertEqual(len(queries), 1)
        self.env.cr.execute(queries[0])
        self.env.invalidate_all()
        for account in accounts.sudo():
            self.assertEqual(account.provider, "sandbox", account.name)
            for name in (
                "spoki_api_key",
                "spoki_webhook_secret",
                "meta_access_token",
                "meta_app_secret",
                "api_endpoint",
            ):
                self.assertFalse(account[name], f"{account.name}.{name}")
            self.assertTrue(account.webhook_verify_token)
        self.assertFalse(set(tokens) & set(accounts.sudo().mapped("webhook_verify_token")), "verify tokens rotated")
