"""Access matrix of the core addon (issue 11): every model, public method,
menu, action and route of ``spoki_whatsapp`` as public, portal, agent and
manager of company A, manager of company B. The tables below are the
expectations; ``access_matrix.py`` discovers what the addon ships and fails on
anything they don't list. The credentials of an account never reach a
non-manager, whatever the channel."""

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..models.spoki_account import CREDENTIAL_FIELDS
from ..tools.providers import InboundMessage
from .access_matrix import (
    AGENTS,
    EVERYBODY,
    MANAGERS,
    NAVIGATION,
    NOBODY,
    WA_MANAGERS,
    WA_USERS,
    AccessMatrixCase,
    Call,
    Route,
)

# model: (agent rights, manager rights, shared by all companies)
MODELS = {
    "spoki.account": ("r", "rwcd", False),
    "spoki.automation.run": ("r", "r", False),
    "spoki.campaign": ("r", "rwcd", False),
    "spoki.campaign.value": ("r", "rwcd", False),
    "spoki.campaign.preflight": ("", "rwcd", False),
    "spoki.campaign.preflight.line": ("", "rwcd", False),
    "spoki.chat": ("rw", "rwd", False),
    "spoki.chat.reassign": ("rwcd", "rwcd", False),
    "spoki.chat.play.customer": ("rwcd", "rwcd", False),
    "spoki.conversation": ("r", "r", False),
    "spoki.dynamic.field": ("r", "rwcd", False),
    "spoki.dynamic.value": ("rwcd", "rwcd", False),
    "spoki.list": ("rwcd", "rwcd", False),
    "spoki.list.add.contacts": ("rwcd", "rwcd", False),
    "spoki.list.tag.members": ("rwcd", "rwcd", False),
    "spoki.message": ("r", "r", False),
    "spoki.status.event": ("", "", True),
    "spoki.template": ("r", "rwcd", False),
    "spoki.template.button": ("r", "rwcd", False),
    "spoki.template.preview": ("rwc", "rwc", False),
    "spoki.template.send": ("rwcd", "rwcd", False),
    "spoki.template.translation": ("r", "rwcd", False),
    "spoki.template.translation.button": ("r", "rwcd", False),
    "spoki.template.approval": ("", "rwcd", False),
    "spoki.tier.history": ("r", "r", False),
    "spoki.tier.level": ("r", "r", True),
    "spoki.webhook.inbox": ("", "", True),
}

# (model, method): who passes the access checks (the others get AccessError)
METHODS = {
    # a WhatsApp channel whose members are the agent, the manager and the manager of company B:
    # members of company A post (queued as WhatsApp messages), company B is refused even as a member
    ("discuss.channel", "message_post"): Call(
        AGENTS, kwargs=lambda case: {"body": "Matrix answer", "message_type": "comment"}
    ),
    ("base.automation", "action_rotate_spoki_secret"): Call(MANAGERS),
    ("base.automation", "action_view_spoki_runs"): Call(NAVIGATION),
    # the views of WhatsApp › Automations (every trigger): whoever may read the rules
    ("base.automation", "get_views"): Call(
        WA_MANAGERS,
        on="model",
        kwargs=lambda case: {
            "views": [[False, "list"], [False, "form"]],
            "options": {"action_id": case.env.ref("spoki_whatsapp.spoki_automation_action").id},
        },
    ),
    ("res.partner", "action_spoki_add_to_list"): Call(NAVIGATION),
    ("res.partner", "action_spoki_open_chat"): Call(AGENTS),
    ("res.partner", "action_spoki_opt_in"): Call(AGENTS),
    ("res.partner", "action_spoki_opt_out"): Call(AGENTS),
    ("res.partner", "action_spoki_view_messages"): Call(NAVIGATION),
    ("spoki.account", "action_refresh_status"): Call(MANAGERS),
    ("spoki.account", "action_sync_now"): Call(MANAGERS),
    ("spoki.account", "action_test_connection"): Call(MANAGERS),
    ("spoki.account", "action_regenerate_verify_token"): Call(MANAGERS),
    ("spoki.account", "action_tier_compute_now"): Call(MANAGERS),
    ("spoki.account", "action_view_tier_history"): Call(AGENTS),
    ("spoki.account", "spoki_send_template"): Call(
        AGENTS, kwargs=lambda case: {"number": "+39 347 000 1002", "template": case.matrix_approved.id}
    ),
    ("spoki.campaign", "action_cancel"): Call(MANAGERS),
    ("spoki.campaign", "action_draft"): Call(MANAGERS),
    ("spoki.campaign", "action_pause"): Call(MANAGERS),
    ("spoki.campaign", "action_preflight"): Call(MANAGERS),
    ("spoki.campaign", "action_resume"): Call(MANAGERS),
    ("spoki.campaign", "action_start"): Call(MANAGERS),
    ("spoki.campaign", "action_view_messages"): Call(NAVIGATION),
    ("spoki.campaign.preflight", "action_send_test"): Call(MANAGERS),
    ("spoki.campaign.preflight", "action_start"): Call(MANAGERS),
    ("spoki.chat", "action_add_tags"): Call(AGENTS, kwargs=lambda case: {"tag_ids": case.matrix_tag.ids}),
    ("spoki.chat", "action_assign_to_me"): Call(AGENTS),
    ("spoki.chat", "action_open_channel"): Call(AGENTS),
    ("spoki.chat", "action_open_partner"): Call(AGENTS),
    ("spoki.chat", "action_reassign"): Call(NAVIGATION),
    ("spoki.chat", "action_reassign_to"): Call(AGENTS, kwargs=lambda case: {"user_id": False}),
    ("spoki.chat", "action_refresh"): Call(NAVIGATION),
    ("spoki.chat", "action_remove_tags"): Call(AGENTS, kwargs=lambda case: {"tag_ids": case.matrix_tag.ids}),
    ("spoki.chat", "action_sandbox_play_customer"): Call(AGENTS),
    ("spoki.chat", "action_sandbox_simulate_photo"): Call(MANAGERS),
    ("spoki.chat", "action_sandbox_simulate_reaction"): Call(MANAGERS),
    ("spoki.chat", "action_send_template"): Call(AGENTS),
    ("spoki.chat", "action_send_text"): Call(AGENTS),
    ("spoki.chat", "action_template_dialog"): Call(AGENTS),
    ("spoki.chat", "spoki_panel_choices"): Call(AGENTS),
    ("spoki.chat.reassign", "action_apply"): Call(AGENTS),
    ("spoki.chat.play.customer", "action_apply"): Call(AGENTS),
    ("spoki.conversation", "action_open_chat"): Call(AGENTS),
    ("spoki.list", "action_add_contacts"): Call(AGENTS),
    ("spoki.list", "action_view_contacts"): Call(AGENTS),
    ("spoki.list", "action_tag_members"): Call(AGENTS),
    ("spoki.list.add.contacts", "action_apply"): Call(AGENTS),
    ("spoki.list.tag.members", "action_apply"): Call(AGENTS),
    ("spoki.message", "action_add_tags"): Call(AGENTS, kwargs=lambda case: {"tag_ids": case.matrix_tag.ids}),
    ("spoki.message", "action_open_chat"): Call(AGENTS),
    ("spoki.message", "action_retry"): Call(MANAGERS),
    ("spoki.template", "action_duplicate"): Call(MANAGERS),
    ("spoki.template", "action_preview_partner"): Call(NAVIGATION),
    ("spoki.template", "action_request_approval"): Call(MANAGERS),
    ("spoki.template", "action_prepare_approval"): Call(MANAGERS),
    ("spoki.template.approval", "action_confirm"): Call(MANAGERS),
    ("spoki.template", "action_save_draft"): Call(MANAGERS),
    ("spoki.template", "action_sync_status"): Call(MANAGERS),
    ("spoki.template.send", "action_send"): Call(AGENTS),
}

MENUS = {
    "spoki_menu_root": WA_USERS,
    "spoki_menu_contacts": WA_USERS,
    "spoki_menu_contacts_contacts": WA_USERS,
    "spoki_menu_contacts_lists": WA_USERS,
    "spoki_menu_contacts_tags": WA_USERS,
    "spoki_menu_contacts_dynamic_fields": WA_USERS,
    "spoki_menu_messaging": WA_USERS,
    "spoki_menu_messaging_chats": WA_USERS,
    "spoki_menu_messaging_campaigns": WA_USERS,
    "spoki_menu_messaging_messages": WA_USERS,
    "spoki_menu_messaging_conversations": WA_USERS,
    "spoki_menu_messaging_templates": WA_USERS,
    "spoki_menu_automations": WA_MANAGERS,
    "spoki_menu_automations_rules": WA_MANAGERS,
    "spoki_menu_automations_runs": WA_MANAGERS,
    "spoki_menu_reporting": WA_USERS,
    "spoki_menu_reporting_tier_history": WA_USERS,
    "spoki_menu_config": WA_MANAGERS,
    "spoki_menu_config_settings": NOBODY,  # settings: Odoo administrators only
    "spoki_menu_config_accounts": WA_MANAGERS,
    "spoki_menu_config_tiers": WA_MANAGERS,
}

# window actions: who can open them; server actions (the crons'): who can run them
ACTIONS = {
    "res_partner_action_spoki": EVERYBODY,  # Odoo's own contact rights: portal and public users read contacts
    "res_partner_action_spoki_add_to_list": WA_USERS,
    "res_partner_category_action_spoki": WA_USERS,
    "spoki_account_action": WA_USERS,
    "spoki_campaign_action": WA_USERS,
    "spoki_chat_action": WA_USERS,
    "spoki_chat_reassign_action": WA_USERS,
    "spoki_config_settings_action": NOBODY,  # settings: Odoo administrators only
    "spoki_conversation_action": WA_USERS,
    "spoki_dynamic_field_action": WA_USERS,
    "spoki_list_action": WA_USERS,
    "spoki_message_action": WA_USERS,
    "spoki_template_action": WA_USERS,
    "spoki_tier_history_action": WA_USERS,
    "spoki_tier_level_action": WA_USERS,
    "spoki_automation_action": WA_MANAGERS,
    "spoki_automation_run_action": WA_USERS,
    "res_partner_action_spoki_send_template": WA_USERS,
    "ir_cron_spoki_automation_dates_ir_actions_server": WA_MANAGERS,
    "ir_cron_spoki_account_track_tiers_ir_actions_server": WA_MANAGERS,
    "ir_cron_spoki_campaign_enqueue_ir_actions_server": WA_MANAGERS,
    "ir_cron_spoki_message_fetch_media_ir_actions_server": NOBODY,
    "ir_cron_spoki_message_send_ir_actions_server": NOBODY,
    "ir_cron_spoki_message_status_sync_ir_actions_server": NOBODY,
    "ir_cron_spoki_template_sync_ir_actions_server": WA_MANAGERS,
    "ir_cron_spoki_webhook_inbox_apply_ir_actions_server": NOBODY,
}


def _verify_url(case, token="wrong"):
    return f"/spoki/webhook/{case.account.id}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=4242"


# the webhook is public: anybody reaches it, nobody gets in without the
# account's verify token (GET) or signature (POST)
ROUTES = {
    "/spoki/webhook/<int:account_id>": [
        Route(_verify_url),
        Route(lambda case: f"/spoki/webhook/{case.account.id}", data=lambda case: b"{}"),
        Route(lambda case: _verify_url(case, case.account.sudo().webhook_verify_token), ok=EVERYBODY),
    ],
    "/spoki/webhook/<string:kind>": [
        Route(lambda case: "/spoki/webhook/meta?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1"),
        Route(lambda case: "/spoki/webhook/meta", data=lambda case: b'{"entry": []}'),
    ],
    # an automation's webhook: public, nobody gets in without the rule's secret
    "/spoki/automation/<string:rule_uuid>": [
        Route(lambda case: "/spoki/automation/unknown", data=lambda case: b'{"number": "+393470001003"}'),
        Route(
            lambda case: f"/spoki/automation/{case.matrix_rule.webhook_uuid}",
            data=lambda case: b'{"number": "+393470001003"}',
            headers={"X-Spoki-Secret": "wrong", "Content-Type": "application/json"},
        ),
        Route(
            lambda case: f"/spoki/automation/{case.matrix_rule.webhook_uuid}",
            data=lambda case: b'{"number": "+393470001003", "id": "matrix-1"}',
            headers={"X-Spoki-Secret": "matrix-secret", "Content-Type": "application/json"},
            ok=EVERYBODY,
        ),
    ],
}


@tagged("post_install", "-at_install")
class TestAccessMatrix(AccessMatrixCase):
    addon = "spoki_whatsapp"
    matrix_models = MODELS
    matrix_methods = METHODS
    matrix_menus = MENUS
    matrix_actions = ACTIONS
    matrix_routes = ROUTES

    @classmethod
    def _build_samples(cls):
        env = cls.env
        account = cls.account
        partner = env["res.partner"].create(
            {"name": "Matrix Contact", "mobile": "+39 347 000 1001", "company_id": cls.company_a.id}
        )
        template = env["spoki.template"].create(
            {"name": "Matrix", "account_id": account.id, "lang": "en_US", "body": "Hello %%NOME%%, welcome!"}
        )
        approved = env["spoki.template"].create(
            {"name": "Matrix ok", "account_id": account.id, "lang": "en_US", "body": "Hello %%NOME%%, it is ready!"}
        )
        approved.write({"state": "approved", "provider_name": f"matrix_ok_{approved.id}"})
        spoki_list = env["spoki.list"].create({"name": "Matrix list", "company_id": cls.company_a.id})
        spoki_list.partner_ids = partner
        field = env["spoki.dynamic.field"].create({"name": "MATRIX_CODE", "company_id": cls.company_a.id})
        link = env["spoki.dynamic.field"].create(
            {"name": "MATRIX_LINK", "on_contacts": False, "company_id": cls.company_a.id}
        )
        partner._spoki_set_values({"MATRIX_CODE": "A-1"})
        campaign = env["spoki.campaign"].create(
            {
                "name": "Matrix campaign",
                "account_id": account.id,
                "template_id": approved.id,
                "list_ids": [(6, 0, spoki_list.ids)],
                "value_ids": [(0, 0, {"field_id": link.id, "value": "https://example.com"})],
            }
        )
        incoming = env["spoki.message"]._receive_inbound(
            account, [InboundMessage("in.matrix.1", partner.wa_phone, "Hello", env["spoki.message"]._now(), "")]
        )
        failed = env["spoki.message"].create(
            {
                "account_id": account.id,
                "partner_id": partner.id,
                "wa_phone": partner.wa_phone,
                "kind": "template",
                "template_id": approved.id,
                "state": "failed",
                "error_code": "timeout",
            }
        )
        chat = env["spoki.chat"]._get_or_create(account, partner.wa_phone, partner).sudo()
        chat.write({"composer_body": "Matrix reply", "composer_template_id": approved.id})
        channel = chat._get_channel().sudo()
        members = env["res.partner"].browse(
            [cls.users[role].partner_id.id for role in ("agent", "manager", "manager_b")]
        )
        channel._add_members(partners=members - channel.channel_member_ids.partner_id, post_joined_message=False)
        env["spoki.account"].browse(account.ids)._tier_record_history()
        cls.matrix_tag = env["res.partner.category"].create({"name": "Matrix tag"})
        cls.matrix_approved = approved
        cls.matrix_rule = env["base.automation"].create(
            {
                "name": "Matrix webhook",
                "model_id": env["ir.model"]._get("res.partner").id,
                "trigger": "on_webhook",
                "spoki_webhook": True,
                "spoki_webhook_secret": "matrix-secret",
                "company_id": cls.company_a.id,
                "action_server_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "tag",
                            "state": "spoki_tags",
                            "model_id": env["ir.model"]._get("res.partner").id,
                            "spoki_tag_ids": [(6, 0, cls.matrix_tag.ids)],
                        },
                    )
                ],
            }
        )
        spoki_list.invalidate_recordset()
        run = (
            env["spoki.automation.run"]
            .sudo()
            ._claim(cls.matrix_rule, [(partner.id, "res.partner", partner.id, "matrix")])
        )
        return {
            "discuss.channel": channel,
            "base.automation": cls.matrix_rule,
            "spoki.automation.run": env["spoki.automation.run"].browse(list(run.values())),
            "res.partner": partner,
            "spoki.account": account,
            "spoki.campaign": campaign,
            "spoki.campaign.value": campaign.value_ids,
            "spoki.campaign.preflight": env["spoki.campaign.preflight"]
            .with_context(default_campaign_id=campaign.id)
            .create({"test_number": "+39 347 000 1003"}),
            "spoki.chat": chat,
            "spoki.chat.reassign": env["spoki.chat.reassign"].create({"chat_ids": [(6, 0, chat.ids)]}),
            "spoki.chat.play.customer": env["spoki.chat.play.customer"].create(
                {"chat_id": chat.id, "choice": "text", "text": "Matrix customer"}
            ),
            "spoki.conversation": incoming.conversation_id,
            "spoki.dynamic.field": field,
            "spoki.dynamic.value": env["spoki.dynamic.value"].search([("partner_id", "=", partner.id)]),
            "spoki.list": spoki_list,
            "spoki.list.add.contacts": env["spoki.list.add.contacts"].create(
                {"list_id": spoki_list.id, "mode": "selection", "partner_ids": [(6, 0, partner.ids)]}
            ),
            "spoki.list.tag.members": env["spoki.list.tag.members"].create(
                {"list_id": spoki_list.id, "tag_ids": [(6, 0, cls.matrix_tag.ids)]}
            ),
            "spoki.message": failed,
            "spoki.template": template,
            "spoki.template.button": env["spoki.template.button"].create(
                {"template_id": template.id, "button_type": "quick_reply", "text": "Yes"}
            ),
            "spoki.template.preview": env["spoki.template.preview"].create({"template_id": approved.id}),
            "spoki.template.send": env["spoki.template.send"].create(
                {"account_id": account.id, "template_id": approved.id, "partner_ids": [(6, 0, partner.ids)]}
            ),
            "spoki.template.translation": env["spoki.template.translation"].create(
                {"template_id": template.id, "lang": "it_IT", "body": "Ciao %%NOME%%, benvenuto!"}
            ),
            "spoki.template.translation.button": env["spoki.template.translation"]
            .search([("template_id", "=", template.id)], limit=1)
            .button_text_ids[:1],
            "spoki.template.approval": env["spoki.template.approval"].create({"template_id": template.id}),
            "spoki.tier.history": env["spoki.tier.history"].search([("account_id", "=", account.id)], limit=1),
            "spoki.tier.level": account.tier_level_id,
        }

    def test_credentials_only_for_managers(self):
        """Credentials never reach a non-manager: not in fields_get, views,
        web_read, onchange, search domains or groupings; a manager of
        another company can't read them either."""
        self.account.sudo().write({"spoki_api_key": "live-key", "meta_app_secret": "live-secret"})
        self.users["agent"].groups_id += self.env.ref("base.group_allow_export")
        secrets = set(CREDENTIAL_FIELDS)
        for role in ("public", "portal", "agent"):
            Account = self.env["spoki.account"].with_user(self.users[role])
            with self.subTest(role=role, channel="fields_get"):
                try:
                    self.assertFalse(secrets & set(Account.fields_get()))
                except AccessError:
                    pass
            for channel, call in (
                ("read", lambda A: A.browse(self.account.id).read(["spoki_api_key"])),
                ("web_read", lambda A: A.browse(self.account.id).web_read({"meta_app_secret": {}})),
                ("onchange", lambda A: A.onchange({}, [], {"name": {}, "spoki_api_key": {}})),
                ("search", lambda A: A.search_count([("spoki_api_key", "=like", "l%")])),
                ("order", lambda A: A.search([], order="spoki_api_key")),
                ("group", lambda A: A.read_group([], ["name"], ["meta_app_secret"])),
                (
                    "export",
                    lambda A: A.browse(self.account.id).export_data(["spoki_api_key"]),
                ),  # even with the export right
            ):
                # without the export right, exporting is refused before the fields are looked at
                error = UserError if channel == "export" and role != "agent" else AccessError
                with self.subTest(role=role, channel=channel), self.assertRaises(error):
                    call(Account)
        agent = self.env["spoki.account"].with_user(self.users["agent"])
        form = agent.get_views([(False, "form"), (False, "list")])
        for view in form["views"].values():
            for name in secrets:
                self.assertNotIn(f'name="{name}"', view["arch"])
        values = agent.browse(self.account.id).web_read({name: {} for name in agent.fields_get()})[0]
        self.assertEqual(values["name"], "Matrix A")
        self.assertFalse(secrets & set(values))
        manager = self.env["spoki.account"].with_user(self.users["manager"])
        self.assertTrue(secrets <= set(manager.fields_get()))
        self.assertEqual(manager.browse(self.account.id).spoki_api_key, "live-key")
        with self.assertRaises(AccessError):
            self.account.with_user(self.users["manager_b"]).read(["spoki_api_key"])
