"""Status events that arrive before their message's provider id, sends of
unknown outcome settled by Meta's callback data, and the status polling
(back-off, no row lock during the provider calls, time budget per call)."""

import json
import time
from datetime import datetime, timedelta
from unittest.mock import patch

import psycopg2
import psycopg2.errors

from odoo import SUPERUSER_ID, api
from odoo.tests import HttpCase, TransactionCase, tagged
from odoo.tools import SQL

from odoo.addons.spoki_whatsapp.tools.providers import StatusEvent
from odoo.addons.spoki_whatsapp.tools.providers.sandbox import SandboxProvider

from . import fake_provider as fp
from .common import SpokiCommon, apply_webhooks
from .messaging_common import MessagingCommon

SECRET = "status-app-secret"
T0 = 1767261600  # 2026-01-01 10:00:00 UTC
AT = datetime(2026, 1, 1, 10, 0, 0)


@tagged("post_install", "-at_install")
class TestWebhookEarlyStatuses(HttpCase, SpokiCommon):
    """Meta sends ``sent`` within 1–3 s, sometimes before the send queue has
    stored the message's provider id: such events are kept and applied when
    the id is written, never dropped."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account.write({"meta_app_secret": SECRET})
        cls.url = f"/spoki/webhook/{cls.account.id}"
        cls.customer = cls.env["res.partner"].create({"name": "Early Customer", "mobile": "+393391117788"})
        cls.Message = cls.env["spoki.message"]
        cls.Pending = cls.env["spoki.status.event"]

    def _message(self, key, account=None, **vals):
        """An outgoing message being sent (``sending``, no provider id yet)."""
        return self.Message.create(
            dict(
                {
                    "account_id": (account or self.account).id,
                    "partner_id": self.customer.id,
                    "wa_phone": "+393391117788",
                    "kind": "text",
                    "body": "Hello",
                    "state": "sending",
                    "idempotency_key": key,
                },
                **vals,
            )
        )

    def _hold(self, message, worker):
        """A live send worker holds the message (its call is in flight)."""
        self.env.flush_all()
        self.env.cr.execute(SQL("UPDATE spoki_message SET sending_worker = %s WHERE id = %s", worker, message.id))
        message.invalidate_recordset()

    def _worker_writes(self, message, pid, sent_at):
        """What the send queue does once the provider answered: the outcome
        with the provider id, then the pending events of those messages."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """UPDATE spoki_message SET state = 'sent', provider_message_id = %s, sent_at = %s,
                          sending_worker = NULL WHERE id = %s""",
                pid,
                sent_at,
                message.id,
            )
        )
        self.Message.invalidate_model()
        self.Message._apply_pending_status_events(message.ids)
        message.invalidate_recordset()

    def _post(self, *statuses):
        raw = json.dumps(fp.meta_webhook([fp.meta_messages_change(statuses=list(statuses))])).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": fp.meta_signature(SECRET, raw)}
        response = self.opener.post(self.base_url() + self.url, data=raw, headers=headers, timeout=20)
        self.assertEqual(response.status_code, 200)
        apply_webhooks(self.env)  # statuses are applied in bulk after the answer
        self.Message.invalidate_model()

    def _pending(self, pid):
        return self.Pending.sudo().search([("provider_message_id", "=", pid)])

    def test_events_before_the_provider_id_are_kept(self):
        message = self._message("spk-early-1")
        self._hold(message, 4242)
        self._post(
            fp.meta_status("wamid.EARLY", "sent", T0 + 1, callback_data="spk-early-1"),
            fp.meta_status("wamid.EARLY", "delivered", T0 + 3),
        )
        self.assertEqual(message.state, "sending", "the worker still holds it: its outcome comes first")
        self.assertEqual(sorted(self._pending("wamid.EARLY").mapped("status")), ["delivered", "sent"])
        self._worker_writes(message, "wamid.EARLY", AT + timedelta(seconds=2))
        self.assertEqual((message.state, message.provider_message_id), ("delivered", "wamid.EARLY"))
        self.assertEqual(message.delivered_at, AT + timedelta(seconds=3))
        self.assertEqual(message.sent_at, AT + timedelta(seconds=2), "the first value is kept")
        self.assertFalse(self._pending("wamid.EARLY"), "applied events are removed")

    def test_failed_event_before_the_id_ends_on_the_message(self):
        message = self._message("spk-early-2")
        self._hold(message, 4343)
        self._post(fp.meta_status("wamid.UNDELIVERABLE", "failed", T0 + 2, error_code=131026))
        self._worker_writes(message, "wamid.UNDELIVERABLE", AT + timedelta(seconds=1))
        self.assertEqual((message.state, message.error_code), ("failed", "invalid_number"))
        self.assertIn("#131026", message.error_message)
        self.assertFalse(self._pending("wamid.UNDELIVERABLE"))

    def test_unknown_outcome_settled_by_callback_data(self):
        """A send whose outcome is unknown (the worker lost the answer: no
        provider id, no worker) is settled by the event carrying its
        idempotency key: ``sent``/``delivered`` as such, ``failed`` as failed
        with the mapped reason; the provider id is written."""
        lost = self._message("spk-lost-1")
        refused = self._message("spk-lost-2")
        same_key_elsewhere = self._message("spk-lost-1", account=self.account_b)
        self._post(
            fp.meta_status("wamid.LOST1", "sent", T0 + 1, callback_data="spk-lost-1"),
            fp.meta_status("wamid.LOST1", "delivered", T0 + 4, callback_data="spk-lost-1"),
            fp.meta_status("wamid.LOST2", "failed", T0 + 2, error_code=131026, callback_data="spk-lost-2"),
        )
        self.assertEqual((lost.state, lost.provider_message_id, lost.sending_worker), ("delivered", "wamid.LOST1", 0))
        self.assertEqual((lost.sent_at, lost.delivered_at), (AT + timedelta(seconds=1), AT + timedelta(seconds=4)))
        self.assertTrue(lost.conversation_id, "sent: linked to its conversation like any sent message")
        self.assertEqual(
            (refused.state, refused.error_code, refused.provider_message_id),
            ("failed", "invalid_number", "wamid.LOST2"),
        )
        self.assertEqual(same_key_elsewhere.state, "sending", "another account's message is not touched")
        self.assertFalse(self._pending("wamid.LOST1") | self._pending("wamid.LOST2"))

    def test_status_sync_cron_catches_up(self):
        """Events the send queue didn't claim (the id written by another path,
        a worker that died with the call in flight) are applied by the status
        sync cron."""
        written = self._message("spk-late-1")
        orphan = self._message("spk-late-2")
        self._hold(orphan, 4444)
        self._post(
            fp.meta_status("wamid.LATE1", "read", T0 + 9),
            fp.meta_status("wamid.LATE2", "sent", T0 + 1, callback_data="spk-late-2"),
        )
        self.env.cr.execute(
            SQL(
                "UPDATE spoki_message SET state = 'sent', provider_message_id = 'wamid.LATE1' WHERE id = %s", written.id
            )
        )
        self.env.cr.execute(SQL("UPDATE spoki_message SET sending_worker = NULL WHERE id = %s", orphan.id))
        self.Message.invalidate_model()
        self.Message._cron_sync_statuses()
        self.Message.invalidate_model()
        self.assertEqual(written.state, "read")
        self.assertEqual((orphan.state, orphan.provider_message_id), ("sent", "wamid.LATE2"))
        self.assertFalse(self._pending("wamid.LATE1") | self._pending("wamid.LATE2"))


@tagged("post_install", "-at_install")
class TestStatusPolling(MessagingCommon):
    """Status polling backs off per message and stops polling ``delivered``
    messages after ~24 h; the time budget is checked before each call."""

    def _sent(self, count=1, last_digit="1"):
        """Messages sent at ``self.start`` with sandbox ids (the sandbox
        derives their statuses from the id)."""
        stamp = int(self.start.timestamp())
        partner = self.customer
        return self.Message.create(
            [
                {
                    "account_id": self.account.id,
                    "partner_id": partner.id,
                    "wa_phone": partner.wa_phone,
                    "kind": "text",
                    "body": "Hello",
                    "state": "sent",
                    "provider_message_id": f"sbx.{i:016x}.{stamp}.{last_digit}",
                    "sent_at": self.start,
                    "message_date": self.start,
                }
                for i in range(count)
            ]
        )

    def _sync(self, **kwargs):
        return self.Message._sync_statuses(auto_commit=False, accounts=self.account, **kwargs)

    def test_backoff_and_delivered_stop_after_a_day(self):
        message = self._sent(last_digit="0")  # read receipts off: stays delivered
        self.advance(seconds=3)
        self.assertEqual(self._sync()[0], 1)
        self.assertEqual(message.state, "delivered")
        self.assertEqual(message.status_next_check_at, self.start + timedelta(seconds=13), "3 s old: again in 10 s")
        self.advance(seconds=1)
        self.assertEqual(self._sync()[0], 0, "not due yet")
        self.advance(hours=12)
        self.assertEqual(self._sync()[0], 1)
        self.assertEqual(message.status_next_check_at, self.clock["now"] + timedelta(hours=6), "at most 6 h apart")
        self.advance(hours=13)  # delivered, sent more than 24 h ago
        self.assertEqual(self._sync()[0], 0, "no longer polled")

    def test_time_budget_checked_before_each_call(self):
        messages = self._sent(count=5)
        self.advance(seconds=3)
        calls = []
        original = SandboxProvider.get_statuses

        def slow(provider, message_ids):
            calls.append(list(message_ids))
            time.sleep(0.3)
            return original(provider, message_ids)

        with patch.object(SandboxProvider, "get_statuses", slow):
            done, remaining = self._sync(time_budget=0.5)
        self.assertEqual((done, remaining), (2, 3))
        self.assertEqual([len(ids) for ids in calls], [1, 1])
        self.assertEqual(messages.mapped("state").count("delivered"), 2)
        # the messages not polled are due as before: the next run takes them
        self.assertEqual(self._sync(time_budget=0), (3, 0))
        self.assertEqual(set(messages.mapped("state")), {"delivered"})

    def test_pending_events_expire_after_a_week(self):
        Pending = self.env["spoki.status.event"].sudo()
        self.Message._apply_status_events(self.account, [StatusEvent("wamid.NOBODY", "read", self.start)])
        self.assertEqual(Pending.search_count([("provider_message_id", "=", "wamid.NOBODY")]), 1)
        self.advance(days=6)
        self.Message._cron_sync_statuses()
        self.assertEqual(Pending.search_count([("provider_message_id", "=", "wamid.NOBODY")]), 1)
        self.advance(days=2)
        self.Message._cron_sync_statuses()
        self.assertEqual(Pending.search_count([("provider_message_id", "=", "wamid.NOBODY")]), 0)


@tagged("post_install", "-at_install")
class TestStatusPollingLocks(TransactionCase):
    """The status sync holds no row lock while it calls the provider: a send
    worker or a webhook can update those messages meanwhile. Real commits on
    separate cursors; the data is removed afterwards."""

    ACCOUNT_NAME = "Status polling locks (test)"

    def _cleanup(self):
        with self.registry.cursor() as cr:
            cr.execute("SELECT id FROM spoki_account WHERE name = %s", [self.ACCOUNT_NAME])
            for (account_id,) in cr.fetchall():
                cr.execute("DELETE FROM spoki_message WHERE account_id = %s", [account_id])
                cr.execute("DELETE FROM spoki_conversation WHERE account_id = %s", [account_id])
                cr.execute(
                    "DELETE FROM mail_message WHERE model = 'spoki.account' AND res_id = %s",
                    [account_id],
                )
                cr.execute("DELETE FROM mail_followers WHERE res_model = 'spoki.account' AND res_id = %s", [account_id])
                cr.execute("DELETE FROM spoki_account WHERE id = %s", [account_id])
            cr.commit()

    def test_no_row_lock_during_provider_calls(self):
        self._cleanup()
        self.addCleanup(self._cleanup)
        sent_at = datetime.utcnow().replace(microsecond=0) - timedelta(seconds=30)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True, "mail_notrack": True})
            account = env["spoki.account"].create(
                {"name": self.ACCOUNT_NAME, "phone": "+390299900777", "provider": "sandbox"}
            )
            stamp = int(sent_at.timestamp())
            env["spoki.message"].create(
                [
                    {
                        "account_id": account.id,
                        "wa_phone": f"+3933300077{i:02d}",
                        "kind": "text",
                        "body": "Hello",
                        "state": "sent",
                        "provider_message_id": f"sbx.{i:016x}.{stamp}.1",
                        "sent_at": sent_at,
                        "message_date": sent_at,
                    }
                    for i in range(3)
                ]
            )
            cr.commit()
            account_id = account.id
        attempts = []
        original = SandboxProvider.get_statuses
        registry = self.registry

        def locking(provider, message_ids):
            with registry.cursor() as other:
                try:
                    other.execute(
                        "SELECT id FROM spoki_message WHERE provider_message_id = ANY(%s) FOR UPDATE NOWAIT",
                        [list(message_ids)],
                    )
                    attempts.append("free")
                except psycopg2.errors.LockNotAvailable:
                    attempts.append("locked")
                other.rollback()
            return original(provider, message_ids)

        with patch.object(SandboxProvider, "get_statuses", locking), self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True, "mail_notrack": True})
            done, _remaining = env["spoki.message"]._sync_statuses(
                auto_commit=True, time_budget=0, accounts=env["spoki.account"].browse(account_id)
            )
            cr.commit()
        self.assertEqual(done, 3)
        self.assertEqual(attempts, ["free"] * 3)
