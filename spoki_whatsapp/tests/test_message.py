from datetime import timedelta
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.spoki_whatsapp.models.send_queue.spoki_message import SpokiMessage
from odoo.addons.spoki_whatsapp.tools.providers import StatusEvent
from odoo.addons.spoki_whatsapp.tools.providers.sandbox import SandboxProvider

from .messaging_common import MessagingCommon, SendCounter


@tagged("post_install", "-at_install")
class TestMessageRules(MessagingCommon):
    """Rules enforced before calling the provider, the window, opt-out."""

    def test_template_sent_and_counted(self):
        message = self.queue_template(self.customer)
        with SendCounter().patched() as counter:
            done, remaining = self.run_queue()
        self.assertEqual((done, remaining), (1, 0))
        self.assertEqual(message.state, "sent")
        self.assertTrue(message.provider_message_id.startswith("sbx."))
        self.assertTrue(message.counts_for_limit, "business-initiated: counts for the tier limit")
        self.assertEqual(message.attempt_count, 1)
        self.assertEqual(message.sent_at, self.start)
        self.assertTrue(message.conversation_id)
        self.assertEqual(message.conversation_id.opened_by, "business")
        self.assertEqual(len(counter.calls), 1)
        # logged on the contact's chatter
        self.assertIn("Order ready", self.customer.message_ids[0].body)

    def test_free_text_refused_outside_window(self):
        chat = self.env["spoki.chat"]._get_or_create(self.account, self.customer.wa_phone, self.customer)
        self.assertFalse(chat.window_open)
        chat.composer_body = "Hello!"
        with self.assertRaises(UserError):
            chat.action_send_text()
        # enforced by the queue too (e.g. a message queued inside the window
        # that waited until the window closed)
        message = self.Message.create(
            {
                "account_id": self.account.id,
                "partner_id": self.customer.id,
                "wa_phone": self.customer.wa_phone,
                "kind": "text",
                "body": "Hi",
            }
        )
        with SendCounter().patched() as counter:
            self.run_queue()
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.error_code, "outside_window")
        self.assertFalse(counter.calls, "never sent")

    def test_window_exemption_customer_initiated(self):
        """A customer writes: free text is allowed for 24 h and replies don't
        count for the limit; after 24 h the window closes."""
        incoming = self.receive(self.customer.wa_phone, "Hi, is my order ready?")
        self.assertEqual(incoming.partner_id, self.customer)
        self.assertEqual(incoming.conversation_id.opened_by, "customer")
        chat = self.env["spoki.chat"].search([("wa_phone", "=", self.customer.wa_phone)])
        self.assertTrue(chat.window_open)
        self.assertTrue(chat.needs_reply)
        self.advance(hours=2)
        chat.composer_body = "Yes, it is!"
        chat.action_send_text()
        template_reply = self.queue_template(self.customer)
        self.run_queue()
        chat.invalidate_recordset()
        reply = chat.message_ids.filtered(lambda m: m.direction == "outgoing" and m.kind == "text")
        self.assertEqual(reply.state, "sent")
        self.assertFalse(reply.counts_for_limit)
        self.assertFalse(template_reply.counts_for_limit, "templates inside the window don't count either")
        self.assertEqual(reply.conversation_id, incoming.conversation_id, "same 24 h conversation")
        self.assertEqual(self.account._limit_unique_numbers_24h(self.clock["now"]), 0)
        self.advance(hours=23)
        chat.invalidate_recordset()
        self.assertFalse(chat.window_open)
        chat.composer_body = "Anything else?"
        with self.assertRaises(UserError):
            chat.action_send_text()

    def test_opted_out_and_invalid_never_sent(self):
        self.customer_es.action_spoki_opt_out()
        invalid = self.Message.create(
            {"account_id": self.account.id, "wa_phone": "+39123", "kind": "template", "template_id": self.template.id}
        )
        opted = self.queue_template(self.customer_es)
        with SendCounter().patched() as counter:
            self.run_queue()
        self.assertEqual((invalid.state, invalid.error_code), ("failed", "invalid_number"))
        self.assertEqual((opted.state, opted.error_code), ("failed", "opted_out"))
        self.assertTrue(opted.error_message)
        self.assertFalse(counter.calls)

    def test_template_not_approved(self):
        draft = self.env["spoki.template"].create(
            {"name": "Draft", "account_id": self.account.id, "lang": "en_US", "body": "Hello there, welcome!"}
        )
        message = self.queue_template(self.customer, template=draft)
        self.run_queue()
        self.assertEqual((message.state, message.error_code), ("failed", "template_not_approved"))

    def test_stop_keyword_opt_out_not_lifted_by_text(self):
        other = self.env["res.partner"].create(
            {"name": "Same number", "mobile": self.customer.mobile, "country_id": self.env.ref("base.it").id}
        )
        self.receive(self.customer.wa_phone, "  Stop! ")
        self.assertTrue(self.customer.wa_opt_out)
        self.assertTrue(other.wa_opt_out, "every contact with the number")
        confirmation = self.Message.search([("optout_confirmation", "=", True)])
        self.assertEqual(len(confirmation), 1)
        self.run_queue()
        self.assertEqual(confirmation.state, "sent", "the confirmation is the one message an opted-out number gets")
        # later texts don't lift it; nothing else is sent
        self.advance(minutes=5)
        self.receive(self.customer.wa_phone, "Hello again, I changed my mind")
        self.assertTrue(self.customer.wa_opt_out)
        message = self.queue_template(self.customer)
        self.run_queue()
        self.assertEqual(message.error_code, "opted_out")
        # "don't stop" is not a keyword
        self.receive(self.customer_es.wa_phone, "please don't stop")
        self.assertFalse(self.customer_es.wa_opt_out)
        # only the explicit action lifts it
        self.customer.action_spoki_opt_in()
        self.assertFalse(self.customer.wa_opt_out)

    def test_inbound_creates_contact_and_picks_oldest(self):
        number = "+393401112233"
        message = self.receive(number, "Hello", name="New Customer")
        self.assertEqual(message.partner_id.name, "New Customer")
        self.assertEqual(message.partner_id.wa_phone, number)
        first = message.partner_id
        self.env["res.partner"].create({"name": "Duplicate", "mobile": number})
        again = self.receive(number, "Hello again")
        self.assertEqual(again.partner_id, first, "several contacts share the number: the oldest, predictably")
        # same provider id twice: stored once
        duplicate = self.receive(number, "Hello again", message_id=again.provider_message_id)
        self.assertFalse(duplicate)


@tagged("post_install", "-at_install")
class TestMessageTierLimit(MessagingCommon):
    """The tier limit is never exceeded; the queue resumes when the window
    moves."""

    def test_limit_1000_of_1500(self):
        self.assertEqual(self.account.tier_limit, 1000)
        partners = self._create_partners(1500, prefix="+39348")
        messages = self.queue_template(partners)
        self.run_queue(no_chatter=True)
        sent = messages.filtered(lambda m: m.state == "sent")
        self.assertEqual(len(sent), 1000)
        self.assertEqual(len(set(sent.mapped("wa_phone"))), 1000)
        self.assertEqual(set(messages.mapped("state")), {"sent", "queued"})
        self.assertEqual(self.account._limit_unique_numbers_24h(self.clock["now"]), 1000)
        # numbers already contacted cost nothing: a second message to them goes
        again = self.queue_template(sent[:10].partner_id)
        self.advance(hours=1)
        self.run_queue(no_chatter=True)
        self.assertEqual(set(again.mapped("state")), {"sent"})
        self.assertEqual(len(messages.filtered(lambda m: m.state == "queued")), 500)
        # the window moves: the remaining 500 go
        self.assertEqual(
            self.account._limit_next_free_at(self.clock["now"]), self.start + timedelta(hours=24, seconds=1)
        )
        self.advance(hours=22)
        self.run_queue(no_chatter=True)
        self.assertEqual(len(messages.filtered(lambda m: m.state == "queued")), 500, "still inside the window")
        self.advance(hours=1, seconds=2)
        self.run_queue(no_chatter=True)
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        self.assertEqual(self.account._limit_unique_numbers_24h(self.clock["now"]), 500 + 10)

    def test_meta_policy_portfolio_shared(self):
        level = self.env["spoki.tier.level"].search([("policy", "=", "meta")], order="sequence", limit=1)
        self.assertEqual(level.max_users, 250)
        twin = self.env["spoki.account"].create(
            {"name": "Twin", "phone": "+390200000009", "company_id": self.company_a.id}
        )
        (self.account | twin).write({"tier_policy": "meta", "tier_level_id": level.id, "portfolio": "P1"})
        twin_template = self._approved_template(twin)
        partners = self._create_partners(300, prefix="+39349")
        first = self.queue_template(partners[:200])
        second = self.queue_template(partners[100:], account=twin, template=twin_template)
        self.run_queue(no_chatter=True)
        sent_numbers = set((first | second).filtered(lambda m: m.state == "sent").mapped("wa_phone"))
        self.assertEqual(len(sent_numbers), 250, "250 unique users shared by the two numbers of the portfolio")
        self.assertEqual(twin._limit_unique_numbers_24h(self.clock["now"]), 250)

    def test_unlimited(self):
        unlimited = self.env["spoki.tier.level"].search([("policy", "=", "guide"), ("max_users", "=", 0)], limit=1)
        self.account.tier_level_id = unlimited
        self.assertEqual(self.account.tier_limit, 0)
        messages = self.queue_template(self._create_partners(1200, prefix="+39350"))
        self.run_queue(no_chatter=True)
        self.assertEqual(set(messages.mapped("state")), {"sent"})


@tagged("post_install", "-at_install")
class TestMessageStatuses(MessagingCommon):
    def _sent_message(self):
        message = self.queue_template(self.customer)
        self.run_queue()
        self.assertEqual(message.state, "sent")
        return message

    def test_duplicate_and_out_of_order_events(self):
        message = self._sent_message()
        pid = message.provider_message_id
        t_read = self.start + timedelta(seconds=30)
        t_delivered = self.start + timedelta(seconds=5)
        Message = self.Message
        Message._apply_status_events(self.account, [StatusEvent(pid, "read", t_read)])
        self.assertEqual(message.state, "read")
        self.assertEqual(message.read_at, t_read)
        self.assertEqual(message.delivered_at, t_read, "read implies delivered")
        # delivered arrives late: state stays read, delivered_at keeps the first value
        Message._apply_status_events(self.account, [StatusEvent(pid, "delivered", t_delivered)])
        self.assertEqual(message.state, "read")
        # the same event twice, a late 'sent', a 'failed' after read, an unknown id: harmless
        Message._apply_status_events(
            self.account,
            [
                StatusEvent(pid, "read", t_read + timedelta(minutes=1)),
                StatusEvent(pid, "sent", t_delivered),
                StatusEvent(pid, "failed", t_read, "131026", "x"),
                StatusEvent("unknown.id", "read", t_read),
            ],
        )
        self.assertEqual(message.state, "read")
        self.assertEqual(message.read_at, t_read)
        self.assertFalse(message.error_code)
        # another account's events don't touch it
        self.assertEqual(Message._apply_status_events(self.account_b, [StatusEvent(pid, "failed", t_read)]), 0)

    def test_failed_event(self):
        message = self._sent_message()
        self.Message._apply_status_events(
            self.account, [StatusEvent(message.provider_message_id, "failed", self.start, "131026", "Undeliverable")]
        )
        self.assertEqual((message.state, message.error_code), ("failed", "invalid_number"))
        self.assertIn("Undeliverable (#131026)", message.error_message)

    def test_status_sync_cron_sandbox(self):
        message = self._sent_message()
        self.advance(seconds=3)
        done, _remaining = self.Message._sync_statuses(auto_commit=False, accounts=self.account)
        self.assertEqual(done, 1)
        self.assertEqual(message.state, "delivered")
        self.advance(seconds=20)
        self.Message._sync_statuses(auto_commit=False, accounts=self.account)
        self.assertEqual(message.state, "read")
        self.assertEqual(message.read_at, self.start + timedelta(seconds=10))
        self.advance(seconds=20)
        done, _remaining = self.Message._sync_statuses(auto_commit=False, accounts=self.account)
        self.assertEqual(done, 0, "final: no longer polled")


@tagged("post_install", "-at_install")
class TestMessageCrash(MessagingCommon):
    """A crash between the provider call and the commit never produces a
    second send."""

    def _crash_once(self):
        original = SpokiMessage._write_outcomes
        state = {"crashed": False}

        def crashing(model, worker, outcomes):
            if not state["crashed"] and any(outcome.state == "sent" for _id, outcome in outcomes):
                state["crashed"] = True
                raise RuntimeError("simulated crash after the provider call")
            return original(model, worker, outcomes)

        return patch.object(SpokiMessage, "_write_outcomes", crashing)

    def test_crash_reconciled_by_idempotency_key(self):
        messages = self.queue_template(self.customer | self.customer_es)
        with SendCounter().patched() as counter:
            with self._crash_once():
                self.run_crashing()
            messages.invalidate_recordset()
            self.assertEqual(set(messages.mapped("state")), {"sending"})
            self.assertEqual(len(counter.calls), 2)
            self.run_queue()  # the worker's last requests may still be on their way: not looked up yet
            self.assertEqual(set(messages.mapped("state")), {"sending"})
            self.advance(seconds=16)
            self.run_queue()  # reconciles first, then finds nothing to send
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        self.assertEqual(len(counter.calls), 2, "no second send")
        self.assertEqual(
            set(messages.mapped("provider_message_id")),
            {SandboxProvider._sent[key] for key in messages.mapped("idempotency_key")},
        )

    def test_not_found_goes_back_to_queue(self):
        message = self.queue_template(self.customer)
        with self._crash_once():
            self.run_crashing()
        SandboxProvider._sent.clear()  # the provider never got it
        self.Message._reconcile_sending(auto_commit=False)
        # first seen dead: its request may still reach the provider, a "not
        # found" now could send it twice
        self.assertEqual(message.state, "sending")
        self.assertEqual(message.outcome_unknown_since, self.clock["now"])
        trigger = self.env["ir.cron.trigger"].search(
            [("cron_id", "=", self.env.ref("spoki_whatsapp.ir_cron_spoki_message_send").id)], order="id desc", limit=1
        )
        self.assertEqual(trigger.call_at, self.clock["now"] + timedelta(seconds=15))
        self.advance(seconds=14)
        self.Message._reconcile_sending(auto_commit=False)
        self.assertEqual(message.state, "sending")
        self.advance(seconds=1)
        self.Message._reconcile_sending(auto_commit=False)
        self.assertEqual(message.state, "queued")
        self.assertFalse(message.outcome_unknown_since)
        self.assertEqual(message.attempt_count, 0)
        self.run_queue()
        self.assertEqual(message.state, "sent")
