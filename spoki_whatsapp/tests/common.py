from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase

from odoo.addons.mail.tests.common import mail_new_test_user
from odoo.addons.spoki_whatsapp.models.live.refresh import reset_throttle


def apply_stored_webhooks(registry):
    """The apply cron's step through a cursor of the registry in test mode
    (an HttpCase), from any thread of the test (e.g. while a browser waits
    for the change): its bus notifications go out as the cron's would."""
    with registry.cursor() as cr:
        return api.Environment(cr, SUPERUSER_ID, {})["spoki.webhook.inbox"]._apply_inbox()


def apply_webhooks(env):
    """What the cron "WhatsApp: apply webhooks" does after a webhook was
    answered (tests don't run crons): the stored bodies applied. In an
    HttpCase (the registry in test mode) through a cursor of the server's
    kind, so that its bus notifications go out as the cron's would. Returns
    the number of bodies applied."""
    if env.registry.in_test_mode():
        applied = apply_stored_webhooks(env.registry)
    else:
        applied = env["spoki.webhook.inbox"].sudo()._apply_inbox()
    env.invalidate_all()
    return applied


class SpokiCommon(TransactionCase):
    """Two companies, a WhatsApp manager and an agent per company, a sandbox
    account per company, a few contacts."""

    def setUp(self):
        super().setUp()
        reset_throttle()  # the live refresh of a record is sent once a second per process

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True, mail_notrack=True))
        cls.company_a = cls.env.company
        cls.company_a.country_id = cls.env.ref("base.it")
        cls.company_b = cls.env["res.company"].create({"name": "Company B", "country_id": cls.env.ref("base.es").id})
        cls.manager = cls._new_user("spoki_manager", "spoki_whatsapp.group_spoki_manager", name="WhatsApp Manager")
        cls.agent = cls._new_user("spoki_agent", "spoki_whatsapp.group_spoki_user", name="WhatsApp Agent")
        cls.agent_b = cls._new_user(
            "spoki_agent_b", "spoki_whatsapp.group_spoki_user", cls.company_b, name="WhatsApp Agent B"
        )
        cls.account = cls.env["spoki.account"].create(
            {
                "name": "Test sandbox",
                "phone": "+390200000001",
                "provider": "sandbox",
                "company_id": cls.company_a.id,
                "sandbox_delivery_delay": 2,
                "sandbox_read_delay": 10,
                "sandbox_review_delay": 30,
                "sandbox_approve_delay": 120,
            }
        )
        cls.account_b = cls.env["spoki.account"].create(
            {"name": "Sandbox B", "phone": "+34910000001", "provider": "sandbox", "company_id": cls.company_b.id}
        )
        Partner = cls.env["res.partner"]
        cls.partner_it = Partner.create(
            {"name": "Mario Rossi", "mobile": "347 123 4567", "country_id": cls.env.ref("base.it").id}
        )
        cls.partner_es = Partner.create({"name": "Lucía García", "mobile": "+34 612 345 678"})
        cls.partner_bad = Partner.create({"name": "Bad Number", "mobile": "12"})

    @classmethod
    def _new_user(cls, login, groups, company=None, **values):
        """An internal user (base.group_user plus ``groups``) of ``company``
        only, company A by default."""
        company = company or cls.company_a
        return mail_new_test_user(
            cls.env,
            login=login,
            groups=f"base.group_user,{groups}",
            company_id=company.id,
            company_ids=[(6, 0, company.ids)],
            **values,
        )

    @classmethod
    def _create_partners(cls, count, prefix="+39347", start=0, **extra):
        """``count`` contacts with distinct valid numbers, created in one batch."""
        return cls.env["res.partner"].create(
            [dict({"name": f"Contact {i}", "mobile": f"{prefix}{i:07d}"}, **extra) for i in range(start, start + count)]
        )
