import threading
from contextlib import contextmanager
from datetime import timedelta
from unittest.mock import patch

import werkzeug.urls

from odoo import fields
from odoo.tests.common import _super_send

from odoo.addons.spoki_whatsapp.tools.providers import InboundMessage
from odoo.addons.spoki_whatsapp.tools.providers.sandbox import SandboxProvider

from .common import SpokiCommon
from .fake_provider import FakeProvider


class SendCounter:
    """Counts the sends that reach the sandbox provider (thread-safe)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls = []  # (number, idempotency key)

    @contextmanager
    def patched(self):
        original = SandboxProvider._send
        counter = self

        def _send(provider, to, idempotency_key):
            result = original(provider, to, idempotency_key)
            with counter.lock:
                counter.calls.append((to, idempotency_key))
            return result

        with patch.object(SandboxProvider, "_send", _send):
            yield self


class FakeProviderAccounts:
    """Mixin of a SpokiCommon case (first among the bases): accounts of
    company A on the loopback fake Meta / Spoki server (``fake_provider.py``),
    whose counters are the truth about what reached the provider. The fake is
    reset before each test; requests to it keep their own short timeouts."""

    @classmethod
    def _setup_fake_provider_accounts(cls, meta_phone, spoki_phone=None, timeout_delay=2.0, provider_timeout=None):
        """Start ``cls.fake`` for the class and create ``cls.meta`` on it (and
        ``cls.spoki`` when ``spoki_phone`` is given). With ``provider_timeout``
        (seconds) also the send parameters the queue's fault tests assume:
        3 attempts, retries 30 s apart at first."""
        cls.fake = FakeProvider(timeout_delay=timeout_delay).start()
        cls.addClassCleanup(cls.fake.stop)
        if provider_timeout is not None:
            ICP = cls.env["ir.config_parameter"].sudo()
            ICP.set_param("spoki_whatsapp.provider_timeout", str(provider_timeout))
            ICP.set_param("spoki_whatsapp.max_attempts", "3")
            ICP.set_param("spoki_whatsapp.retry_base_delay", "30")
        Account = cls.env["spoki.account"]
        cls.meta = Account.create(
            {
                "name": "Fake Meta",
                "phone": meta_phone,
                "provider": "meta",
                "company_id": cls.company_a.id,
                "api_endpoint": cls.fake.url,
                "meta_access_token": FakeProvider.META_TOKEN,
                "meta_phone_number_id": FakeProvider.PHONE_NUMBER_ID,
                "meta_waba_id": FakeProvider.WABA_ID,
                "meta_app_secret": FakeProvider.APP_SECRET,
            }
        )
        if spoki_phone:
            cls.spoki = Account.create(
                {
                    "name": "Fake Spoki",
                    "phone": spoki_phone,
                    "provider": "spoki",
                    "company_id": cls.company_a.id,
                    "api_endpoint": f"{cls.fake.url}/api/1",
                    "spoki_api_key": FakeProvider.SPOKI_API_KEY,
                }
            )

    def setUp(self):
        super().setUp()
        self.fake.reset()

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        # Odoo raises test HTTP timeouts to 10 s; keep ours against the local fake.
        if werkzeug.urls.url_parse(r.url).host in ("127.0.0.1", "localhost"):
            return _super_send(s, r, **kw)
        return super()._request_handler(s, r, **kw)


class MessagingCommon(SpokiCommon):
    """SpokiCommon + an injectable clock, an approved template and helpers to
    queue, receive and send messages on the sandbox account."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start = fields.Datetime.now().replace(microsecond=0)
        cls.clock = {"now": cls.start}
        cls.env = cls.env(context=dict(cls.env.context, spoki_clock=lambda: cls.clock["now"]))
        cls.Message = cls.env["spoki.message"]
        cls.template = cls._approved_template(cls.account)
        cls.env["ir.config_parameter"].sudo().set_param("spoki_whatsapp.send_concurrency", "1")
        # numbers nobody else (demo data) uses
        Partner = cls.env["res.partner"]
        cls.customer = Partner.create(
            {"name": "Carla Neri", "mobile": "339 876 0001", "country_id": cls.env.ref("base.it").id}
        )
        cls.customer_es = Partner.create({"name": "Pablo Ruiz", "mobile": "+34 622 000 111"})

    @classmethod
    def _approved_template(cls, account, body="Hello %%NOME%%, your order is ready. See you soon!", name="Order ready"):
        template = cls.env["spoki.template"].create(
            {"name": name, "account_id": account.id, "lang": "en_US", "body": body}
        )
        template.write({"state": "approved", "provider_name": f"order_ready_{template.id}"})
        return template

    def setUp(self):
        super().setUp()
        self.clock["now"] = self.start
        SandboxProvider._sent.clear()

    def advance(self, **delta):
        self.clock["now"] += timedelta(**delta)
        return self.clock["now"]

    def receive(self, number, text, account=None, message_id=None, name=""):
        account = account or self.account
        message_id = message_id or f"in.{number}.{self.clock['now'].timestamp()}.{text[:8]}"
        return self.Message._receive_inbound(
            account, [InboundMessage(message_id, number, text, self.clock["now"], name)]
        )

    def queue_template(self, partners, account=None, template=None, **extra):
        account = account or self.account
        template = template or self.template
        return self.Message.create(
            [
                dict(
                    {
                        "account_id": account.id,
                        "partner_id": partner.id,
                        "wa_phone": partner.wa_phone,
                        "kind": "template",
                        "template_id": template.id,
                        "body": f"Hello {partner.name}",
                        "lang": "en_US",
                        "template_params": [partner.name],
                        "message_date": self.clock["now"],
                    },
                    **extra,
                )
                for partner in partners
            ]
        )

    def run_crashing(self, **kwargs):
        """Run the queue expecting the simulated crash; unlike assertRaises
        (which rolls back to a savepoint) the work done before the crash
        stays, as it would have been committed."""
        try:
            self.run_queue(**kwargs)
        except RuntimeError:
            return
        self.fail("the simulated crash did not happen")

    def run_queue(self, **kwargs):
        kwargs.setdefault("auto_commit", False)
        kwargs.setdefault("time_budget", 0)
        return self.Message.with_context(spoki_no_chatter=kwargs.pop("no_chatter", False))._process_queue(**kwargs)
