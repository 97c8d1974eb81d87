"""Webhook store-and-ack (issue 15): the route verifies, stores the body in
``spoki.webhook.inbox``, commits and answers; the cron "WhatsApp: apply
webhooks" applies the stored bodies in bulk, crash-safe and idempotent, each
row once even with two servers applying at once."""

import json
import time
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.tests import HttpCase, TransactionCase, tagged

from odoo.addons.spoki_whatsapp.controllers.main import MAX_BODY
from odoo.addons.spoki_whatsapp.models.inbound.spoki_message import SpokiMessage as InboundMessage
from odoo.addons.spoki_whatsapp.models.spoki_webhook_inbox import _TRIGGERS, CRON_XMLID
from odoo.addons.spoki_whatsapp.tools.providers.cloud_api import CloudApiWebhook

from . import fake_provider as fp
from .common import SpokiCommon, apply_webhooks

SECRET = "inbox-app-secret"
T0 = 1767261600  # 2026-01-01 10:00:00 UTC


def _statuses(*items):
    return fp.meta_webhook([fp.meta_messages_change(statuses=list(items))])


@tagged("post_install", "-at_install")
class TestWebhookStoreAndAck(HttpCase, SpokiCommon):
    """The route stores and answers; statuses wait for the bulk apply,
    incoming messages are applied at once; refused requests store nothing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account.write({"meta_app_secret": SECRET})
        cls.url = f"/spoki/webhook/{cls.account.id}"
        cls.customer = cls.env["res.partner"].create({"name": "Inbox Customer", "mobile": "+393391119900"})
        cls.sent = cls.env["spoki.message"].create(
            {
                "account_id": cls.account.id,
                "partner_id": cls.customer.id,
                "wa_phone": "+393391119900",
                "kind": "text",
                "body": "Hello",
                "state": "sent",
                "provider_message_id": "wamid.INBOX1",
                "sent_at": "2026-01-01 10:00:00",
            }
        )
        cls.Inbox = cls.env["spoki.webhook.inbox"].sudo()

    def _post_raw(self, raw, secret=SECRET, url=None, headers=None):
        headers = headers or {"Content-Type": "application/json", "X-Hub-Signature-256": fp.meta_signature(secret, raw)}
        return self.opener.post(self.base_url() + (url or self.url), data=raw, headers=headers, timeout=20)

    def test_post_stores_and_answers_without_applying(self):
        raw = json.dumps(_statuses(fp.meta_status("wamid.INBOX1", "read", T0 + 60))).encode()
        response = self._post_raw(raw)
        self.assertEqual((response.status_code, response.text), (200, "OK"))
        self.sent.invalidate_recordset()
        self.assertEqual(self.sent.state, "sent", "not applied in the request")
        stored = self.Inbox.search([])
        self.assertEqual(
            (len(stored), stored.account_id, stored.body, stored.error), (1, self.account, raw.decode(), False)
        )
        self.assertTrue(stored.received_at)
        self.assertEqual(apply_webhooks(self.env), 1)
        self.assertEqual((self.sent.state, str(self.sent.read_at)), ("read", "2026-01-01 10:01:00"))
        self.assertFalse(self.Inbox.search([]), "deleted once applied")

    def test_bodies_stored_within_a_second_are_triggered_within_it(self):
        """A status stored less than a second after another one gets a
        trigger at the end of that second (without it, none: it waited for
        the cron's minute when the run had already read the inbox)."""
        cron = self.env.ref(CRON_XMLID)
        Trigger = self.env["ir.cron.trigger"].sudo()
        before = Trigger.search([("cron_id", "=", cron.id)])
        _TRIGGERS.clear()
        with patch.object(_TRIGGERS, "clock", lambda: 1000.0):  # the three bodies in the same instant
            for status in ("delivered", "read", "read"):
                raw = json.dumps(_statuses(fp.meta_status("wamid.INBOX1", status, T0 + 60))).encode()
                self.assertEqual(self._post_raw(raw).status_code, 200)
        _TRIGGERS.clear()
        triggers = (Trigger.search([("cron_id", "=", cron.id)]) - before).sorted("call_at")
        self.assertEqual(len(triggers), 2, "now, and at the end of the second for the bodies stored meanwhile")
        self.assertAlmostEqual((triggers[1].call_at - triggers[0].call_at).total_seconds(), 1.0, delta=0.9)

    def test_refused_requests_store_nothing(self):
        raw = json.dumps(_statuses(fp.meta_status("wamid.INBOX1", "read", T0 + 60))).encode()
        big = raw + b" " * (MAX_BODY + 1 - len(raw))
        self.assertEqual(self._post_raw(raw, secret="another-secret").status_code, 403)
        self.assertEqual(self._post_raw(raw, headers={"Content-Type": "application/json"}).status_code, 403)
        self.assertEqual(self._post_raw(raw, url="/spoki/webhook/999999").status_code, 403)
        self.assertEqual(self._post_raw(big).status_code, 413)
        self.assertEqual(self._post_raw(b"not json").status_code, 400)
        self.assertFalse(self.Inbox.search([]), "nothing stored")
        self.assertEqual(apply_webhooks(self.env), 0)
        self.sent.invalidate_recordset()
        self.assertEqual(self.sent.state, "sent")

    def test_incoming_messages_applied_at_once(self):
        """People wait on incoming messages: applied right after the body is
        stored, within the request; the row is gone."""
        now = int(time.time())
        payload = fp.meta_webhook(
            [
                fp.meta_messages_change(
                    messages=[fp.meta_text_message("wamid.INBOXIN", "393391119900", "Ciao", now)],
                    statuses=[fp.meta_status("wamid.INBOX1", "delivered", now)],
                )
            ]
        )
        self.assertEqual(self._post_raw(json.dumps(payload).encode()).status_code, 200)
        incoming = self.env["spoki.message"].search([("provider_message_id", "=", "wamid.INBOXIN")])
        self.assertEqual((incoming.partner_id, incoming.body), (self.customer, "Ciao"))
        self.sent.invalidate_recordset()
        self.assertEqual(self.sent.state, "delivered", "the statuses of the same body too")
        self.assertFalse(self.Inbox.search([]))


@tagged("post_install", "-at_install")
class TestWebhookInboxApply(SpokiCommon):
    """The bulk apply: many bodies at once, idempotent and out-of-order safe;
    a body that can't be applied is set aside without blocking the others."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls.env["res.partner"].create({"name": "Bulk Customer", "mobile": "+393391119911"})
        cls.Inbox = cls.env["spoki.webhook.inbox"].sudo()
        cls.messages = cls.env["spoki.message"].create(
            [
                {
                    "account_id": cls.account.id,
                    "partner_id": cls.customer.id,
                    "wa_phone": "+393391119911",
                    "kind": "text",
                    "body": "Hello",
                    "state": "sent",
                    "provider_message_id": f"wamid.BULK{i}",
                    "sent_at": "2026-01-01 10:00:00",
                }
                for i in range(3)
            ]
        )

    def _store(self, *payloads, account=None):
        rows = [((account or self.account).id, json.dumps(payload)) for payload in payloads]
        return self.Inbox._store(self.env.cr, rows)

    def test_batch_applied_idempotent_out_of_order(self):
        read = _statuses(*(fp.meta_status(f"wamid.BULK{i}", "read", T0 + 60) for i in range(2)))
        delivered = _statuses(*(fp.meta_status(f"wamid.BULK{i}", "delivered", T0 + 5) for i in range(3)))
        failed = _statuses(fp.meta_status("wamid.BULK0", "failed", T0 + 90, error_code=131026))
        self._store(read, delivered, read, failed, _statuses(fp.meta_status("wamid.NOTOURS", "read", T0)))
        self.assertEqual(self.Inbox._apply_inbox(), 5)
        self.messages.invalidate_recordset()
        self.assertEqual(self.messages.mapped("state"), ["read", "read", "delivered"])
        self.assertEqual([str(m.delivered_at) for m in self.messages[:2]], ["2026-01-01 10:00:05"] * 2)
        self.assertEqual(str(self.messages[0].read_at), "2026-01-01 10:01:00")
        self.assertFalse(self.Inbox.search([]))
        self.assertTrue(
            self.env["spoki.status.event"].sudo().search([("provider_message_id", "=", "wamid.NOTOURS")]),
            "an id not stored yet waits, as before",
        )
        # the same bodies again (the provider retries), in another order: nothing moves
        self._store(delivered, read)
        self.assertEqual(self.Inbox._apply_inbox(), 2)
        self.messages.invalidate_recordset()
        self.assertEqual(self.messages.mapped("state"), ["read", "read", "delivered"])
        self.assertEqual(str(self.messages[0].read_at), "2026-01-01 10:01:00")
        self.assertEqual(self.Inbox._apply_inbox(), 0)

    def test_batches_of_the_cron(self):
        self._store(*(_statuses(fp.meta_status(f"wamid.BULK{i}", "delivered", T0 + i)) for i in range(3)))
        self.assertEqual(self.Inbox._apply_inbox(limit=2), 2)
        self.assertEqual(len(self.Inbox.search([])), 1)
        self.assertEqual(self.Inbox._cron_apply(batch_size=2), 1)
        self.messages.invalidate_recordset()
        self.assertEqual(set(self.messages.mapped("state")), {"delivered"})

    def test_body_that_fails_is_set_aside(self):
        original = CloudApiWebhook.parse_webhook

        def parse(provider, payload):
            if payload.get("poison"):
                raise ValueError("poisoned body")
            return original(provider, payload)

        poison = dict(_statuses(fp.meta_status("wamid.BULK1", "read", T0 + 60)), poison=True)
        good = _statuses(fp.meta_status("wamid.BULK0", "read", T0 + 60))
        with patch.object(CloudApiWebhook, "parse_webhook", parse), self.assertLogs(level="ERROR"):
            ids = self._store(good, poison)
            self.assertEqual(self.Inbox._apply_inbox(), 2)
        self.messages.invalidate_recordset()
        self.assertEqual(self.messages.mapped("state"), ["read", "sent", "sent"], "the good body applied")
        left = self.Inbox.search([])
        self.assertEqual((left.id, left.error), (ids[1], "poisoned body"))
        self.assertEqual(self.Inbox._apply_inbox(), 0, "left aside: never blocks the others")


@tagged("post_install", "-at_install")
class TestWebhookInboxCommitted(TransactionCase):
    """Real commits on separate cursors (the data is removed afterwards): a
    stored body survives a crash after the answer, and two applies at once
    apply each body once."""

    ACCOUNT_NAME = "Webhook inbox (test)"

    def _cleanup(self):
        with self.registry.cursor() as cr:
            cr.execute("SELECT id FROM spoki_account WHERE name = %s", [self.ACCOUNT_NAME])
            for (account_id,) in cr.fetchall():
                cr.execute("DELETE FROM spoki_webhook_inbox WHERE account_id = %s", [account_id])
                cr.execute("DELETE FROM spoki_status_event WHERE account_id = %s", [account_id])
                cr.execute("DELETE FROM spoki_message WHERE account_id = %s", [account_id])
                cr.execute("DELETE FROM spoki_conversation WHERE account_id = %s", [account_id])
                cr.execute("DELETE FROM mail_message WHERE model = 'spoki.account' AND res_id = %s", [account_id])
                cr.execute("DELETE FROM mail_followers WHERE res_model = 'spoki.account' AND res_id = %s", [account_id])
                cr.execute("DELETE FROM spoki_account WHERE id = %s", [account_id])
            cr.commit()

    def _env(self, cr):
        return api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True, "mail_notrack": True})

    def setUp(self):
        super().setUp()
        self._cleanup()
        self.addCleanup(self._cleanup)
        with self.registry.cursor() as cr:
            env = self._env(cr)
            account = env["spoki.account"].create(
                {"name": self.ACCOUNT_NAME, "phone": "+390299900888", "provider": "meta", "meta_app_secret": SECRET}
            )
            env["spoki.message"].create(
                [
                    {
                        "account_id": account.id,
                        "wa_phone": f"+3933300088{i:02d}",
                        "kind": "text",
                        "body": "Hello",
                        "state": "sent",
                        "provider_message_id": f"wamid.COMMIT{i}",
                        "sent_at": "2026-01-01 10:00:00",
                    }
                    for i in range(4)
                ]
            )
            cr.commit()
            self.account_id = account.id

    def _states(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT provider_message_id, state FROM spoki_message WHERE account_id = %s ORDER BY id",
                [self.account_id],
            )
            return dict(cr.fetchall())

    def _pending_rows(self):
        with self.registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM spoki_webhook_inbox WHERE account_id = %s", [self.account_id])
            return cr.fetchone()[0]

    def _store_committed(self, count):
        """What the route does: INSERT, commit (then it answers 200)."""
        with self.registry.cursor() as cr:
            env = self._env(cr)
            rows = [
                (self.account_id, json.dumps(_statuses(fp.meta_status(f"wamid.COMMIT{i}", "read", T0 + 60))))
                for i in range(count)
            ]
            env["spoki.webhook.inbox"]._store(cr, rows)
            cr.commit()

    def test_row_survives_a_crash_after_the_answer(self):
        self._store_committed(4)
        self.assertEqual(self._pending_rows(), 4, "committed: visible from another cursor")
        # the apply job starts, then the server dies before its commit
        crashed = self.registry.cursor()
        try:
            self.assertEqual(self._env(crashed)["spoki.webhook.inbox"]._apply_inbox(), 4)
        finally:
            crashed.rollback()
            crashed.close()
        self.assertEqual(set(self._states().values()), {"sent"})
        self.assertEqual(self._pending_rows(), 4, "nothing lost")
        with self.registry.cursor() as cr:
            self.assertEqual(self._env(cr)["spoki.webhook.inbox"]._cron_apply(), 4)
            cr.commit()
        self.assertEqual(set(self._states().values()), {"read"})
        self.assertEqual(self._pending_rows(), 0)

    def test_two_applies_at_once_apply_each_row_once(self):
        self._store_committed(4)
        applied = []
        original = InboundMessage._apply_status_events

        def recording(model, account, events):
            applied.extend(event.message_id for event in events)
            return original(model, account, events)

        with patch.object(InboundMessage, "_apply_status_events", recording):
            first, second = self.registry.cursor(), self.registry.cursor()
            try:
                second.execute("SET lock_timeout = '10s'")  # a wait on the first would fail, not hang
                # the first server holds its batch (not committed yet) while the second applies
                self.assertEqual(self._env(first)["spoki.webhook.inbox"]._apply_inbox(limit=3), 3)
                self.assertEqual(self._env(second)["spoki.webhook.inbox"]._apply_inbox(), 1, "skips the locked rows")
                second.commit()
                first.commit()
                self.assertEqual(self._env(second)["spoki.webhook.inbox"]._apply_inbox(), 0)
            finally:
                first.close()
                second.close()
        self.assertEqual(sorted(applied), [f"wamid.COMMIT{i}" for i in range(4)], "each body applied once")
        self.assertEqual(set(self._states().values()), {"read"})
        self.assertEqual(self._pending_rows(), 0)
