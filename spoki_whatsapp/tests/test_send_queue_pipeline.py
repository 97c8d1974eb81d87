import time
from unittest.mock import patch

from odoo.tests import tagged

from ..models.send_queue.spoki_message import SpokiMessage
from .test_send_queue_faults import FakeProviderCommon


@tagged("post_install", "-at_install")
class TestSendQueuePipeline(FakeProviderCommon):
    """Issue 15 (dispatch throughput): the bookkeeping of a chunk whose
    outcomes are recorded (conversations, chatter, chats, live refresh) is
    done while the next chunk's calls run; one chunk at a time is in flight."""

    def setUp(self):
        super().setUp()
        ICP = self.env["ir.config_parameter"].sudo()
        ICP.set_param("spoki_whatsapp.send_concurrency", "4")
        ICP.set_param("spoki_whatsapp.send_commit_every", "100")

    def test_next_chunk_calls_run_during_the_bookkeeping(self):
        messages = self.queue_meta(self._create_partners(150, prefix="+39354"))
        original = SpokiMessage._after_outcome
        seen = []

        def bookkeeping(model, message_ids, auto_commit, *args):
            if message_ids and not seen:
                # the first chunk is recorded: it is sent, the second is in flight
                first = model.browse(message_ids)
                seen.append(
                    {
                        "states": set(first.mapped("state")),
                        "in_flight": model.search_count([("id", "in", messages.ids), ("state", "=", "sending")]),
                    }
                )
                deadline = time.monotonic() + 5
                while self.fake.counters["meta_sends"] <= 100 and time.monotonic() < deadline:
                    time.sleep(0.01)
                seen[0]["sends"] = self.fake.counters["meta_sends"]
            return original(model, message_ids, auto_commit, *args)

        with patch.object(SpokiMessage, "_after_outcome", bookkeeping):
            self.run_queue()
        self.assertEqual(len(seen), 1)
        self.assertEqual(seen[0]["states"], {"sent"}, "the outcomes are recorded before the bookkeeping")
        self.assertEqual(seen[0]["in_flight"], 50, "the next chunk, and only it, is in flight")
        self.assertGreater(seen[0]["sends"], 100, "the next chunk's calls ran during the first one's bookkeeping")
        messages.invalidate_recordset()
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        self.assertEqual(set(self.fake.meta_sends_by_key.values()), {1}, "each message sent once")
        self.assertEqual(len(self.fake.meta_sends_by_key), 150)
        self.assertTrue(all(messages.mapped("conversation_id")), "every chunk's bookkeeping is done")

    def test_provider_class_and_template_read_once_per_run(self):
        """Each commit empties the ORM cache: the account's provider class
        and the templates' references are kept for the run, not read again
        for every chunk."""
        self.queue_meta(self._create_partners(250, prefix="+39355"))
        calls = {"class": 0}
        original = type(self.meta)._provider_class

        def counting(account):
            calls["class"] += 1
            return original(account)

        with patch.object(type(self.meta), "_provider_class", counting):
            self.run_queue()
        self.assertEqual(self.fake.counters["meta_sends"], 250)
        self.assertLessEqual(calls["class"], 2, "3 chunks: read for the client and the run, not per chunk")

    def _notes(self):
        self.env.cr.execute("SELECT worker, message_ids FROM spoki_send_bookkeeping")
        return self.env.cr.fetchall()

    def test_bookkeeping_left_by_a_stopped_worker_is_done_once(self):
        """A worker killed while the next chunk's calls run leaves a chunk
        whose outcomes are committed and whose bookkeeping is not: the
        reconciliation does it once its worker is gone, and only once."""
        partners = self._create_partners(150, prefix="+39356")
        messages = self.queue_meta(partners)
        with patch.object(SpokiMessage, "_bookkeeping", lambda model, dispatcher: None):  # "killed" before it
            self.run_queue()
        messages.invalidate_recordset()
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        self.assertFalse(any(messages.mapped("conversation_id")), "the bookkeeping was not done")
        self.assertEqual(sorted(mid for _w, ids in self._notes() for mid in ids), sorted(messages.ids))
        self.Message._reconcile_sending(auto_commit=False)
        messages.invalidate_recordset()
        self.assertTrue(
            all(messages.mapped("conversation_id")), "the reconciliation did the stopped worker's bookkeeping"
        )
        self.assertEqual(self._notes(), [])
        notes = self.env["mail.message"].search_count([("model", "=", "res.partner"), ("res_id", "in", partners.ids)])
        self.assertTrue(notes, "the chatter notes were written")
        self.Message._reconcile_sending(auto_commit=False)
        self.assertEqual(
            self.env["mail.message"].search_count([("model", "=", "res.partner"), ("res_id", "in", partners.ids)]),
            notes,
            "done once",
        )

    def test_bookkeeping_of_a_live_worker_is_left_to_it(self):
        messages = self.queue_meta(self._create_partners(20, prefix="+39357"))
        with self.Message._worker_lock() as worker:
            self.env.cr.execute(
                "INSERT INTO spoki_send_bookkeeping (worker, message_ids) VALUES (%s, %s)", (worker, messages.ids)
            )
            self.Message._reconcile_sending(auto_commit=False)
            self.assertEqual(self._notes(), [(worker, messages.ids)], "its worker is alive: not touched")
        self.Message._reconcile_sending(auto_commit=False)
        self.assertEqual(self._notes(), [])

    def test_normal_run_leaves_no_bookkeeping_note(self):
        messages = self.queue_meta(self._create_partners(150, prefix="+39358"))
        self.run_queue()
        messages.invalidate_recordset()
        self.assertTrue(all(messages.mapped("conversation_id")))
        self.assertEqual(self._notes(), [])
