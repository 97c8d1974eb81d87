import time
from datetime import timedelta
from unittest.mock import patch

from odoo.tests import tagged

from ..models.send_queue.spoki_message import SpokiMessage
from .messaging_common import FakeProviderAccounts, MessagingCommon


@tagged("post_install", "-at_install")
class TestMessageRetries(FakeProviderAccounts, MessagingCommon):
    """Provider errors against the local fake Meta / Spoki HTTP server:
    temporary errors are retried with backoff, permanent ones fail with a
    readable reason."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_fake_provider_accounts("+390200000077", "+390200000078", timeout_delay=1.5, provider_timeout=0.5)
        cls.meta_template = cls._approved_template(cls.meta)

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
