"""24-hour sessions (``spoki.conversation``) start at the first message
actually exchanged: a template the provider accepted and later reported
failed (undeliverable) opens none."""

from odoo.tests import tagged

from odoo.addons.spoki_whatsapp.tools.providers import StatusEvent

from .messaging_common import MessagingCommon


@tagged("post_install", "-at_install")
class TestConversationFailures(MessagingCommon):
    def _send(self, partner):
        message = self.queue_template(partner)
        self.run_queue()
        self.assertEqual(message.state, "sent")
        self.assertTrue(message.conversation_id, "accepted: linked to a session")
        return message

    def _fail(self, message):
        self.Message._apply_status_events(
            self.account,
            [StatusEvent(message.provider_message_id, "failed", self.clock["now"], "131026", "Message undeliverable")],
        )
        message.invalidate_recordset()
        self.assertEqual(message.state, "failed")

    def _sessions(self, number):
        return self.env["spoki.conversation"].search(
            [("account_id", "=", self.account.id), ("wa_phone", "=", number)], order="start_at"
        )

    def test_undeliverable_template_opens_no_session(self):
        message = self._send(self.customer)
        self.advance(minutes=1)
        self._fail(message)
        self.assertFalse(message.conversation_id)
        self.assertFalse(self._sessions(self.customer.wa_phone), "nothing was exchanged with this number")

    def test_session_moves_to_next_message_exchanged(self):
        """The session opened by the failed template starts at the next
        message that went through, and the sessions after it follow."""
        first = self._send(self.customer)
        self.advance(hours=2)
        second = self._send(self.customer)
        self.assertEqual(second.conversation_id, first.conversation_id)
        self.advance(hours=23)  # 25 h after the first: a session of its own while the first counts
        reply = self.receive(self.customer.wa_phone, "Thanks!")
        self.assertEqual(len(self._sessions(self.customer.wa_phone)), 2)
        self._fail(first)
        sessions = self._sessions(self.customer.wa_phone)
        self.assertEqual(len(sessions), 1, "24 h from the second template include the reply")
        self.assertEqual(sessions.start_at, second.message_date)
        self.assertEqual(sessions.opened_by, "business")
        second.invalidate_recordset()
        reply.invalidate_recordset()
        self.assertEqual((second | reply).conversation_id, sessions)
        self.assertFalse(first.conversation_id)

    def test_failure_keeps_sessions_of_other_numbers(self):
        other = self._send(self.customer_es)
        failed = self._send(self.customer)
        self._fail(failed)
        other.invalidate_recordset()
        self.assertEqual(other.conversation_id, self._sessions(self.customer_es.wa_phone))
        self.assertEqual(len(other.conversation_id), 1)
