import threading

from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase, tagged

from odoo.addons.spoki_whatsapp.tools.providers.sandbox import SandboxProvider

from .messaging_common import SendCounter


@tagged("post_install", "-at_install")
class TestSendQueueConcurrency(TransactionCase):
    """Two send workers racing on real PostgreSQL, each with its own cursor
    and transactions (like two cron workers or two Odoo servers). The data is
    committed by a separate cursor and removed afterwards."""

    ACCOUNT_NAME = "Race (concurrency test)"

    def _setup_data(self, count, unlimited):
        with self.registry.cursor() as cr:
            # leftovers of an interrupted run
            cr.execute(
                "SELECT id FROM spoki_account WHERE name = %s OR phone LIKE %s", [self.ACCOUNT_NAME, "+3902999%"]
            )
            for (stale_id,) in cr.fetchall():
                cr.execute("SELECT id FROM spoki_template WHERE account_id = %s", [stale_id])
                for (template_id,) in cr.fetchall():
                    self._cleanup(stale_id, template_id)
                self._cleanup(stale_id, 0)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True, "mail_notrack": True})
            level = env["spoki.tier.level"].search(
                [("policy", "=", "guide"), ("max_users", "=", 0 if unlimited else 1000)], limit=1
            )
            account = env["spoki.account"].create(
                {
                    "name": self.ACCOUNT_NAME,
                    "phone": f"+3902999{count:05d}",
                    "provider": "sandbox",
                    "tier_level_id": level.id,
                }
            )
            template = env["spoki.template"].create(
                {"name": "Race", "account_id": account.id, "lang": "en_US", "body": "Hello %%NOME%%, welcome back!"}
            )
            template.write({"state": "approved", "provider_name": "race"})
            cr.execute(
                """INSERT INTO spoki_message (account_id, company_id, wa_phone, direction, kind, template_id, lang,
                                              body, state, message_date, priority, attempt_count, active,
                                              counts_for_limit, create_date, write_date)
                   SELECT %(account)s, %(company)s, '+39347' || lpad(i::text, 7, '0'), 'outgoing', 'template',
                          %(template)s, 'en_US', 'Hello', 'queued', now() AT TIME ZONE 'UTC', 0, 0, TRUE, TRUE,
                          now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
                     FROM generate_series(1, %(count)s) AS i""",
                {"account": account.id, "company": account.company_id.id, "template": template.id, "count": count},
            )
            cr.commit()
            ids = (account.id, template.id)
        self.addCleanup(self._cleanup, *ids)
        return ids

    def _cleanup(self, account_id, template_id):
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM spoki_message WHERE account_id = %s", [account_id])
            cr.execute("DELETE FROM spoki_conversation WHERE account_id = %s", [account_id])
            cr.execute("DELETE FROM spoki_chat WHERE account_id = %s", [account_id])
            cr.execute("DELETE FROM spoki_template WHERE id = %s", [template_id])
            cr.execute(
                """DELETE FROM mail_message WHERE (model = 'spoki.template' AND res_id = %s)
                                              OR (model = 'spoki.account' AND res_id = %s)""",
                [template_id, account_id],
            )
            cr.execute(
                """DELETE FROM mail_followers WHERE (res_model = 'spoki.template' AND res_id = %s)
                                                 OR (res_model = 'spoki.account' AND res_id = %s)""",
                [template_id, account_id],
            )
            cr.execute("DELETE FROM spoki_account WHERE id = %s", [account_id])
            cr.commit()

    def _race(self, workers=2, batch_size=250):
        barrier = threading.Barrier(workers)
        results, errors = {}, []

        def work(index):
            try:
                with self.registry.cursor() as cr:
                    # The test runner holds the registry lock: give the cursor
                    # its transaction so Environment doesn't look it up.
                    cr.transaction = api.Transaction(self.registry)
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    barrier.wait(timeout=30)
                    results[index] = env["spoki.message"]._process_queue(
                        batch_size=batch_size, time_budget=0, auto_commit=True
                    )[0]
            except Exception as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        self.assertFalse(errors, errors)
        return results

    def _states(self, account_id):
        with self.registry.cursor() as cr:
            cr.execute(
                """SELECT state, COUNT(*), COUNT(DISTINCT wa_phone), COUNT(DISTINCT provider_message_id)
                     FROM spoki_message WHERE account_id = %s GROUP BY state""",
                [account_id],
            )
            return {state: counts for state, *counts in cr.fetchall()}

    def test_two_workers_5000_each_sent_once(self):
        SandboxProvider._sent.clear()
        account_id, _template = self._setup_data(5000, unlimited=True)
        with SendCounter().patched() as counter:
            results = self._race()
        self.assertEqual(sum(results.values()), 5000, results)
        self.assertEqual(self._states(account_id), {"sent": [5000, 5000, 5000]})
        self.assertEqual(len(counter.calls), 5000, "each message sent exactly once")
        self.assertEqual(len({key for _number, key in counter.calls}), 5000)

    def test_two_workers_never_exceed_the_limit(self):
        SandboxProvider._sent.clear()
        account_id, _template = self._setup_data(1500, unlimited=False)
        with SendCounter().patched() as counter:
            self._race(batch_size=100)
        states = self._states(account_id)
        self.assertEqual(states["sent"][:2], [1000, 1000], "exactly the limit of unique numbers")
        self.assertEqual(states["queued"][0], 500)
        self.assertEqual(len(counter.calls), 1000)

    def test_reconcile_after_an_old_snapshot_leaves_a_recorded_chunk(self):
        """Issue 15 (2 send workers): a worker whose transaction began while
        another worker's chunk was ``sending`` must not reconcile that chunk
        once the other worker recorded it and ended its run (its lock free):
        it failed on a serialization error and the worker died."""
        account_id, _template = self._setup_data(20, unlimited=True)
        worker = 1234567
        with self.registry.cursor() as other:
            other.execute(
                "UPDATE spoki_message SET state = 'sending', sending_worker = %s, idempotency_key = 'k-' || id"
                " WHERE account_id = %s",
                [worker, account_id],
            )
            other.commit()
        with self.registry.cursor() as cr:
            cr.transaction = api.Transaction(self.registry)
            env = api.Environment(cr, SUPERUSER_ID, {})
            # this worker's snapshot: the other one's chunk in flight
            cr.execute("SELECT COUNT(*) FROM spoki_message WHERE account_id = %s AND state = 'sending'", [account_id])
            self.assertEqual(cr.fetchone()[0], 20)
            with self.registry.cursor() as other:
                # the other worker records its chunk and ends its run (no lock held any more)
                other.execute(
                    "UPDATE spoki_message SET state = 'sent', sending_worker = NULL, provider_message_id = 'p-' || id"
                    " WHERE account_id = %s",
                    [account_id],
                )
                other.commit()
            env["spoki.message"]._reconcile_sending(auto_commit=True)
            cr.commit()
        self.assertEqual(self._states(account_id), {"sent": [20, 20, 20]})
