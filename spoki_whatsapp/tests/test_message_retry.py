import time
from datetime import timedelta
from unittest.mock import patch

import werkzeug.urls

from odoo.tests import tagged
from odoo.tests.common import _super_send

from ..models.send_queue.spoki_message import SpokiMessage
from .fake_provider import FakeProvider
from .messaging_common import MessagingCommon


@tagged("post_install", "-at_install")
class TestMessageRetries(MessagingCommon):
    """Provider errors against the local fake Meta / Spoki HTTP server:
    temporary errors are retried with backoff, permanent ones fail with a
    readable reason."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fake = FakeProvider(timeout_delay=1.5).start()
        cls.addClassCleanup(cls.fake.stop)
        ICP = cls.env["ir.config_parameter"].sudo()
        ICP.set_param("spoki_whatsapp.provider_timeout", "0.5")
        ICP.set_param("spoki_whatsapp.max_attempts", "3")
        ICP.set_param("spoki_whatsapp.retry_base_delay", "30")
        cls.meta = cls.env["spoki.account"].create(
            {
                "name": "Fake Meta",
                "phone": "+390200000077",
                "provider": "meta",
                "company_id": cls.company_a.id,
                "api_endpoint": cls.fake.url,
                "meta_access_token": FakeProvider.META_TOKEN,
                "meta_phone_number_id": FakeProvider.PHONE_NUMBER_ID,
                "meta_waba_id": FakeProvider.WABA_ID,
                "meta_app_secret": FakeProvider.APP_SECRET,
            }
        )
        cls.spoki = cls.env["spoki.account"].create(
            {
                "name": "Fake Spoki",
                "phone": "+390200000078",
                "provider": "spoki",
                "company_id": cls.company_a.id,
                "api_endpoint": f"{cls.fake.url}/api/1",
                "spoki_api_key": FakeProvider.SPOKI_API_KEY,
            }
        )
        cls.meta_template = cls._approved_template(cls.meta)

    def setUp(self):
        super().setUp()
        self.fake.reset()

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        # Odoo raises test HTTP timeouts to 10 s; keep ours against the local fake.
        if werkzeug.urls.url_parse(r.url).host in ("127.0.0.1", "localhost"):
            return _super_send(s, r, **kw)
        return super()._request_handler(s, r, **kw)

    def test_http_500_retried_with_backoff(self):
        message = self.queue_template(self.customer, account=self.meta, template=self.meta_template)
        self.fake.fail_next(2, status=500, path="/messages")
        self.run_queue()
        self.assertEqual(message.state, "queued")
        self.assertEqual((message.attempt_count, message.error_code), (1, "http_5xx"))
        self.assertEqual(message.next_attempt_at, self.start + timedelta(seconds=30))
        self.run_queue()
        self.assertEqual(message.attempt_count, 1, "not before next_attempt_at")
        self.advance(seconds=31)
        self.run_queue()
        self.assertEqual((message.state, message.attempt_count), ("queued", 2))
        self.assertEqual(message.next_attempt_at, self.clock["now"] + timedelta(seconds=60), "exponential")
        self.advance(seconds=61)
        self.run_queue()
        self.assertEqual(message.state, "sent")
        self.assertTrue(message.provider_message_id.startswith("wamid."))
        self.assertFalse(message.error_code)
        self.assertEqual(self.fake.counters["meta_sends"], 1)
        sent = self.fake.requests_to("/messages", "POST")[-1].json
        self.assertEqual(sent["template"]["name"], self.meta_template.provider_name)
        self.assertEqual(sent["to"], self.customer.wa_phone.lstrip("+"))

    def test_gives_up_after_max_attempts(self):
        message = self.queue_template(self.customer, account=self.meta, template=self.meta_template)
        self.fake.fail_next(5, status=503, path="/messages")
        for _i in range(3):
            self.run_queue()
            self.advance(hours=1)
        self.assertEqual((message.state, message.error_code, message.attempt_count), ("failed", "max_attempts", 3))
        self.assertIn("503", message.error_message)

    def test_timeout_retried_without_duplicate_on_spoki(self):
        """A timeout is retried with the same idempotency key: the Spoki API
        deduplicates it (the fake did the work of the first request)."""
        self.receive(self.customer.wa_phone, "Hi", account=self.spoki)
        message = self.Message._enqueue_text(
            self.spoki, self.customer.wa_phone, "Your order is ready", partner=self.customer
        )
        self.fake.fail_next(1, status="timeout", path="/messages/send")
        self.run_queue()
        self.assertEqual((message.state, message.error_code), ("queued", "timeout"))
        self.advance(minutes=1)
        self.run_queue()
        self.assertEqual(message.state, "sent")
        deadline = time.monotonic() + 5
        while self.fake.counters["spoki_duplicates"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)  # the timed-out request is still being processed by the fake
        counters = self.fake.counters
        self.assertEqual(counters["spoki_sends"], 1)
        self.assertEqual(counters["spoki_duplicates"], 1)
        self.assertEqual(self.fake.sent[message.idempotency_key]["id"], message.provider_message_id)

    def test_invalid_number_fails_permanently(self):
        message = self.queue_template(self.customer, account=self.meta, template=self.meta_template)
        self.fake.fail_next(1, status=131026, path="/messages")
        self.run_queue()
        self.assertEqual((message.state, message.error_code), ("failed", "invalid_number"))
        self.assertIn("undeliverable", message.error_message.lower())
        self.assertEqual(message.attempt_count, 1)

    def test_auth_error_keeps_message_queued(self):
        message = self.queue_template(self.customer, account=self.meta, template=self.meta_template)
        self.fake.fail_next(1, status=190, path="/messages")
        self.run_queue()
        self.assertEqual((message.state, message.error_code, message.attempt_count), ("queued", "auth", 0))

    def test_crash_on_meta_is_never_resent(self):
        """Meta has no idempotency lookup: an interrupted send is failed as
        unknown, never sent twice."""
        message = self.queue_template(self.customer, account=self.meta, template=self.meta_template)
        with patch.object(SpokiMessage, "_write_outcomes", side_effect=RuntimeError("crash")):
            self.run_crashing()
        self.run_queue()
        # unknown until Meta's status webhook (or the grace period) settles it
        self.assertEqual((message.state, message.sending_worker), ("sending", 0))
        self.assertEqual(message.outcome_unknown_since, self.start)
        self.advance(hours=24, seconds=1)
        self.run_queue()
        self.assertEqual((message.state, message.error_code), ("failed", "unknown_outcome"))
        self.assertEqual(self.fake.counters["meta_sends"], 1)
