import time
from datetime import timedelta
from unittest.mock import patch

from odoo.tests import tagged
from odoo.tools import mute_logger

from ..models.send_queue.spoki_message import SpokiMessage
from ..tools.providers.meta import MetaCloudProvider
from ..tools.providers.sandbox import SandboxProvider
from .fake_provider import FakeProvider, meta_messages_change, meta_status, meta_webhook
from .messaging_common import FakeProviderAccounts, MessagingCommon

QUEUE_LOGGER = "odoo.addons.spoki_whatsapp.models.send_queue.spoki_message"


class FakeProviderCommon(FakeProviderAccounts, MessagingCommon):
    """MessagingCommon + a Meta account on the loopback fake server."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_fake_provider_accounts("+390200000087", timeout_delay=1.2, provider_timeout=0.4)
        cls.meta_template = cls._approved_template(cls.meta)

    def queue_meta(self, partners):
        return self.queue_template(partners, account=self.meta, template=self.meta_template)

    def wait_meta_sends(self, count, timeout=5.0):
        """The fake finishes a timed-out request after the client gave up."""
        deadline = time.monotonic() + timeout
        while self.fake.counters["meta_sends"] < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.fake.counters["meta_sends"]

    def assert_unknown(self, messages, since):
        messages.invalidate_recordset()
        for message in messages:
            self.assertEqual(
                (message.state, message.sending_worker, message.outcome_unknown_since, message.error_code),
                ("sending", 0, since, False),
            )
            self.assertTrue(message.counts_for_limit, "it may have been sent: it counts for the tier limit")


@tagged("post_install", "-at_install")
class TestSendQueueMetaCrash(FakeProviderCommon):
    """Meta has no lookup by idempotency key: a worker that dies must fail
    nothing that never left, and never send anything twice."""

    def test_crash_mid_batch_leaves_the_rest_queued(self):
        self.env["ir.config_parameter"].sudo().set_param("spoki_whatsapp.send_commit_every", "100")
        messages = self.queue_meta(self._create_partners(250, prefix="+39353"))
        original = SpokiMessage._write_outcomes
        state = {"crashed": False}

        def crashing(model, worker, outcomes):
            if not state["crashed"]:
                state["crashed"] = True
                raise RuntimeError("worker killed after its first chunk's calls")
            return original(model, worker, outcomes)

        with patch.object(SpokiMessage, "_write_outcomes", crashing):
            self.run_crashing(no_chatter=True)
        messages.invalidate_recordset()
        self.assertEqual(self.fake.counters["meta_sends"], 100, "only the first chunk was sent")
        in_flight = messages.filtered(lambda m: m.state == "sending")
        self.assertEqual(len(in_flight), 100, "only the chunk being sent is in flight")
        self.assertEqual(len(messages.filtered(lambda m: m.state == "queued")), 150)
        self.assertFalse(messages.filtered(lambda m: m.state == "failed"))
        # the next run: the in-flight chunk's outcome is unknown, the rest goes
        self.advance(seconds=5)
        self.run_queue(no_chatter=True)
        self.assert_unknown(in_flight, self.clock["now"])
        self.assertEqual(set((messages - in_flight).mapped("state")), {"sent"})
        self.assertEqual(self.fake.counters["meta_sends"], 250)
        by_key = self.fake.meta_sends_by_key
        self.assertEqual(set(by_key), set(messages.mapped("idempotency_key")))
        self.assertEqual(set(by_key.values()), {1}, "each message sent exactly once")
        self.assertEqual(self.meta._limit_unique_numbers_24h(self.clock["now"]), 250)
        # no status webhook within the grace period: failed, never sent again
        self.advance(hours=23)
        self.run_queue(no_chatter=True)
        self.assertEqual(set(in_flight.mapped("state")), {"sending"})
        self.advance(hours=1)
        self.run_queue(no_chatter=True)
        in_flight.invalidate_recordset()
        self.assertEqual(set(in_flight.mapped("state")), {"failed"})
        self.assertEqual(set(in_flight.mapped("error_code")), {"unknown_outcome"})
        self.assertFalse(in_flight.filtered("counts_for_limit"))
        self.assertEqual(self.fake.counters["meta_sends"], 250)

    def test_lost_answers_are_unknown_never_sent_twice(self):
        """Read timeout, connection reset, unreadable 2xx: Meta may have the
        message; it waits for the webhook instead of being sent again."""
        messages = self.queue_meta(self.customer | self.customer_es | self.partner_it)
        for failure in ("timeout", "reset", "malformed"):
            self.fake.fail_next(1, status=failure, path="/messages")
        self.run_queue()
        self.assert_unknown(messages, self.start)
        self.assertEqual(self.wait_meta_sends(3), 3)
        self.assertEqual(set(messages.mapped("attempt_count")), {1})
        self.assertEqual(self.meta._limit_unique_numbers_24h(self.clock["now"]), 3)
        for _i in range(3):
            self.advance(hours=2)
            self.run_queue()
        self.assert_unknown(messages, self.start)
        self.assertEqual(set(self.fake.meta_sends_by_key.values()), {1})
        self.assertEqual(len(self.fake.requests_to("/messages", "POST")), 3, "never called again")
        self.advance(hours=19)
        self.run_queue()
        self.assertEqual(set(messages.mapped("error_code")), {"unknown_outcome"})
        self.assertIn("not sent again", messages[0].error_message)

    def test_unknown_outcome_settled_by_the_webhook_with_its_key(self):
        """Meta's status webhooks echo the key we sent (biz_opaque_callback_data):
        they settle a send of unknown outcome, failed ones included."""
        delivered, failed = self.queue_meta(self.customer | self.customer_es)
        self.fake.fail_next(2, status="reset", path="/messages")
        self.run_queue()
        self.assert_unknown(delivered | failed, self.start)
        wamid = {record["callback_data"]: pid for pid, record in self.fake.messages.items()}
        stamp = self.start.timestamp() + 2
        payload = meta_webhook(
            [
                meta_messages_change(
                    statuses=[
                        meta_status(
                            wamid[delivered.idempotency_key], "sent", stamp, callback_data=delivered.idempotency_key
                        ),
                        meta_status(
                            wamid[delivered.idempotency_key],
                            "delivered",
                            stamp + 1,
                            callback_data=delivered.idempotency_key,
                        ),
                        meta_status(
                            wamid[failed.idempotency_key],
                            "failed",
                            stamp,
                            error_code=131026,
                            callback_data=failed.idempotency_key,
                        ),
                    ]
                )
            ]
        )
        self.Message._process_webhook(self.meta, payload)
        (delivered | failed).invalidate_recordset()
        self.assertEqual(
            (delivered.state, delivered.provider_message_id), ("delivered", wamid[delivered.idempotency_key])
        )
        self.assertEqual((failed.state, failed.error_code), ("failed", "invalid_number"))
        self.advance(hours=25)
        self.run_queue()
        self.assertEqual((delivered.state, failed.error_code), ("delivered", "invalid_number"), "settled for good")
        self.assertEqual(set(self.fake.meta_sends_by_key.values()), {1})

    def test_status_arriving_before_the_outcome_is_recorded(self):
        """Meta answers the send and its 'delivered' webhook comes in before
        the worker records the outcome: the event waits, and recording the
        provider id applies it."""
        message = self.queue_meta(self.customer)
        original = MetaCloudProvider._send
        Message = self.Message

        def send_then_webhook(provider, payload, idempotency_key):
            result = original(provider, payload, idempotency_key)
            stamp = self.start.timestamp() + 1
            status = meta_status(result.message_id, "delivered", stamp, callback_data=idempotency_key)
            Message._process_webhook(self.meta, meta_webhook([meta_messages_change(statuses=[status])]))
            return result

        with patch.object(MetaCloudProvider, "_send", send_then_webhook):
            self.run_queue()
        self.assertEqual((message.state, message.sending_worker), ("delivered", 0))
        self.assertTrue(message.provider_message_id.startswith("wamid."))

    def test_connection_never_opened_is_retried(self):
        with FakeProvider() as gone:
            closed = gone.url  # nothing listens there any more
        self.meta.api_endpoint = closed
        message = self.queue_meta(self.customer)
        self.run_queue()
        self.assertEqual((message.state, message.error_code, message.attempt_count), ("queued", "connection", 1))
        self.assertEqual(message.next_attempt_at, self.start + timedelta(seconds=30))
        self.meta.api_endpoint = self.fake.url
        self.advance(seconds=31)
        self.run_queue()
        self.assertEqual(message.state, "sent")
        self.assertEqual(self.fake.meta_sends_by_key, {message.idempotency_key: 1})


@tagged("post_install", "-at_install")
class TestSendQueuePause(FakeProviderCommon):
    """HTTP 429 / Retry-After / Meta throughput codes pause the account's
    sending without using attempts; other accounts keep sending."""

    def test_retry_after_pauses_the_account(self):
        messages = self.queue_meta(self._create_partners(5, prefix="+39354"))
        other = self.queue_template(self.customer)  # the sandbox account
        self.fake.fail_next(1, status=429, retry_after=120, path="/messages")
        self.run_queue()
        pause_end = self.start + timedelta(seconds=120)
        self.assertEqual(self.meta.send_paused_until, pause_end)
        self.assertEqual(len(self.fake.requests_to("/messages", "POST")), 1, "the batch stopped at the 429")
        self.assertEqual(set(messages.mapped("state")), {"queued"})
        self.assertEqual(set(messages.mapped("attempt_count")), {0}, "a pause uses no attempt")
        self.assertEqual(set(messages.mapped("next_attempt_at")), {pause_end})
        self.assertEqual(other.state, "sent", "other accounts keep sending")
        cron = self.env.ref("spoki_whatsapp.ir_cron_spoki_message_send")
        triggers = self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)])
        self.assertIn(pause_end, triggers.mapped("call_at"))
        # still paused a minute later
        self.advance(seconds=60)
        self.run_queue()
        self.assertEqual(len(self.fake.requests_to("/messages", "POST")), 1)
        self.advance(seconds=61)
        self.run_queue()
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        self.assertEqual(set(messages.mapped("attempt_count")), {1})
        self.assertEqual(set(self.fake.meta_sends_by_key.values()), {1})

    def test_meta_throughput_code_pauses_with_the_default_delay(self):
        self.env["ir.config_parameter"].sudo().set_param("spoki_whatsapp.rate_limit_pause", "45")
        messages = self.queue_meta(self.customer | self.customer_es)
        self.fake.fail_next(1, status=130429, path="/messages")
        self.run_queue()
        self.assertEqual(self.meta.send_paused_until, self.start + timedelta(seconds=45))
        self.assertEqual(set(messages.mapped("state")), {"queued"})
        self.assertEqual(set(messages.mapped("error_code")), {"rate_limited"})
        self.advance(seconds=46)
        self.run_queue()
        self.assertEqual(set(messages.mapped("state")), {"sent"})

    def test_pair_rate_limit_delays_only_its_message(self):
        first, second = self.queue_meta(self.customer | self.customer_es)
        self.fake.fail_next(1, status=131056, path="/messages")
        self.run_queue()
        self.assertFalse(self.meta.send_paused_until)
        self.assertEqual((first.state, first.attempt_count, first.error_code), ("queued", 0, "pair_rate_limited"))
        self.assertEqual(first.next_attempt_at, self.start + timedelta(seconds=60))
        self.assertEqual(second.state, "sent")


@tagged("post_install", "-at_install")
class TestSendQueueCrashCount(MessagingCommon):
    """An unexpected exception on one message can't loop forever: its crashes
    are counted and it fails as 'internal' after ``max_crashes`` (3); the
    other messages go. (The queue logs each crash as an error: muted here.)"""

    def _run_until_settled(self, message, runs=5):
        for _i in range(runs):
            self.run_queue()
            if message.state != "queued":
                break
            self.advance(minutes=5)

    @mute_logger(QUEUE_LOGGER)
    def test_poison_message_in_the_reservation(self):
        messages = self.queue_template(self.customer | self.customer_es | self.partner_it)
        poison = messages[1]
        original = SpokiMessage._check_rules

        def check_rules(model, account, rows, now):
            if any(row["id"] == poison.id for row in rows):
                raise ValueError("this message breaks the rules check")
            return original(model, account, rows, now)

        with patch.object(SpokiMessage, "_check_rules", check_rules):
            self.run_queue()
            self.assertEqual((messages - poison).mapped("state"), ["sent", "sent"], "the others are not blocked")
            self.assertEqual((poison.state, poison.send_crash_count, poison.error_code), ("queued", 1, "internal"))
            self._run_until_settled(poison)
        self.assertEqual((poison.state, poison.error_code, poison.send_crash_count), ("failed", "internal", 3))
        self.assertIn("internal error", poison.error_message)
        self.assertEqual(poison.attempt_count, 0, "never reached the provider")

    @mute_logger(QUEUE_LOGGER)
    def test_crash_inside_the_provider_call(self):
        """The sandbox deduplicates by key: retried with the same key, then
        'internal'."""
        message = self.queue_template(self.customer)

        def exploding(provider, to, idempotency_key):
            raise KeyError("unexpected provider bug")

        with patch.object(SandboxProvider, "_send", exploding):
            self._run_until_settled(message)
        self.assertEqual((message.state, message.error_code, message.send_crash_count), ("failed", "internal", 3))
        self.assertEqual(message.attempt_count, 0)

    @mute_logger(QUEUE_LOGGER)
    def test_worker_killed_by_a_message_every_time(self):
        """The chunk's worker dies while the message is in flight, run after
        run (and the sandbox never got it): 'internal' after 3 crashes."""
        message = self.queue_template(self.customer)
        with patch.object(SpokiMessage, "_write_outcomes", side_effect=RuntimeError("killed")):
            for _i in range(3):
                SandboxProvider._sent.clear()
                self.run_crashing()
                self.assertEqual(message.state, "sending")
                SandboxProvider._sent.clear()  # the provider never got it
                self.Message._reconcile_sending(auto_commit=False)  # seen dead: its request may be in progress
                self.advance(seconds=16)
                self.Message._reconcile_sending(auto_commit=False)  # looked up: not found
                message.invalidate_recordset()
        self.assertEqual((message.state, message.error_code, message.send_crash_count), ("failed", "internal", 3))
