import threading
import time
from datetime import timedelta

from odoo import SUPERUSER_ID, api, fields
from odoo.tests import TransactionCase, tagged

from odoo.addons.spoki_whatsapp.models.send_queue.spoki_account import LOCK_NS_LIMIT
from odoo.addons.spoki_whatsapp.tools.providers.sandbox import SandboxProvider


@tagged("post_install", "-at_install")
class TestSendQueueLimitRace(TransactionCase):
    """The tier limit under two workers whose reservations cross a second
    boundary (issue 11: 2,200 and 2,100 sent where 2,000 were allowed).

    Worker A starts a run and reaches the limit group's lock while worker B
    holds it; the clock moves one second; B reserves a chunk and commits; then
    A gets the lock. A must count B's reservation although B dated it after
    A's run began. Each worker has its own cursor and transactions (two cron
    workers, or two Odoo servers on one database); the data is committed by
    separate cursors and removed afterwards."""

    ACCOUNT_NAME = "Limit race (concurrency test)"
    PHONE = "+390299988877"
    LIMIT = 1000
    PREFILLED = 700  # numbers already counted in the window
    QUEUED = 600
    CHUNK = 100

    def setUp(self):
        super().setUp()
        SandboxProvider._sent.clear()
        self._cleanup()
        self.addCleanup(self._cleanup)
        self.clock = {"now": fields.Datetime.now().replace(microsecond=0)}
        with self._cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True, "mail_notrack": True})
            level = env["spoki.tier.level"].search(
                [("policy", "=", "guide"), ("max_users", "=", self.LIMIT)], order="sequence", limit=1
            )
            account = env["spoki.account"].create(
                {"name": self.ACCOUNT_NAME, "phone": self.PHONE, "provider": "sandbox", "tier_level_id": level.id}
            )
            self.assertEqual(account.tier_limit, self.LIMIT)
            template = env["spoki.template"].create(
                {"name": "Race", "account_id": account.id, "lang": "en_US", "body": "Hello %%NOME%%, welcome back!"}
            )
            template.write({"state": "approved", "provider_name": "race"})
            common = {"account": account.id, "company": account.company_id.id, "template": template.id}
            # already counted an hour ago: 700 of the 1,000 unique numbers
            cr.execute(
                """INSERT INTO spoki_message (account_id, company_id, wa_phone, direction, kind, template_id, lang,
                                              body, state, message_date, sent_at, priority, attempt_count, active,
                                              counts_for_limit, create_date, write_date)
                   SELECT %(account)s, %(company)s, '+39346' || lpad(i::text, 7, '0'), 'outgoing', 'template',
                          %(template)s, 'en_US', 'Hello', 'sent', %(then)s, %(then)s, 0, 1, TRUE, TRUE,
                          %(then)s, %(then)s
                     FROM generate_series(1, %(count)s) AS i""",
                dict(common, count=self.PREFILLED, then=self.clock["now"] - timedelta(hours=1)),
            )
            cr.execute(
                """INSERT INTO spoki_message (account_id, company_id, wa_phone, direction, kind, template_id, lang,
                                              body, state, message_date, priority, attempt_count, active,
                                              counts_for_limit, create_date, write_date)
                   SELECT %(account)s, %(company)s, '+39345' || lpad(i::text, 7, '0'), 'outgoing', 'template',
                          %(template)s, 'en_US', 'Hello', 'queued', %(now)s, 0, 0, TRUE, FALSE, %(now)s, %(now)s
                     FROM generate_series(1, %(count)s) AS i""",
                dict(common, count=self.QUEUED, now=self.clock["now"]),
            )
            cr.commit()
            self.account_id, self.template_id = account.id, template.id

    def _cursor(self):
        cr = self.registry.cursor()
        # The test runner holds the registry lock: give the cursor its
        # transaction so Environment doesn't look it up.
        cr.transaction = api.Transaction(self.registry)
        return cr

    def _env(self, cr):
        return api.Environment(cr, SUPERUSER_ID, {"spoki_clock": lambda: self.clock["now"], "spoki_no_chatter": True})

    def _cleanup(self):
        with self._cursor() as cr:
            cr.execute("SELECT id FROM spoki_account WHERE name = %s OR phone = %s", [self.ACCOUNT_NAME, self.PHONE])
            for (account_id,) in cr.fetchall():
                for table in ("spoki_message", "spoki_conversation", "spoki_chat", "spoki_template"):
                    cr.execute(f"DELETE FROM {table} WHERE account_id = %s", [account_id])  # noqa: S608 - constant names
                cr.execute(
                    "DELETE FROM mail_message WHERE model IN ('spoki.template', 'spoki.account') AND res_id = %s",
                    [account_id],
                )
                cr.execute("DELETE FROM spoki_account WHERE id = %s", [account_id])
            cr.commit()

    def _run(self, env):
        return env["spoki.message"]._process_queue(
            batch_size=self.CHUNK, time_budget=0, auto_commit=True, max_batches=1
        )[0]

    def _waiting_for_the_group_lock(self, cr):
        cr.execute(
            """SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                  AND classid::int8 = %s AND objid::int8 = %s""",
            [LOCK_NS_LIMIT, self.account_id],
        )
        return cr.fetchone()[0]

    def _round(self, cr_b, env_b):
        """One round: A waits for the group B holds, B reserves a second
        later, then A goes on. Returns (sent by A, sent by B)."""
        result, errors = {}, []
        cr_b.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NS_LIMIT, self.account_id])
        cr_b.commit()

        def worker_a():
            try:
                with self._cursor() as cr:
                    result["a"] = self._run(self._env(cr))
            except Exception as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)

        thread = threading.Thread(target=worker_a)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while not self._waiting_for_the_group_lock(cr_b):
                self.assertLess(time.monotonic(), deadline, "worker A never reached the limit group's lock")
                time.sleep(0.02)
            self.clock["now"] += timedelta(seconds=1)  # B works one second later
            result["b"] = self._run(env_b)
        finally:
            cr_b.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NS_LIMIT, self.account_id])
            cr_b.commit()
            thread.join(timeout=120)
        self.assertFalse(errors, errors)
        self.clock["now"] += timedelta(seconds=1)
        return result.get("a", 0), result["b"]

    def _counted(self, cr):
        cr.execute(
            """SELECT COUNT(DISTINCT wa_phone) FROM spoki_message
                WHERE account_id = %s AND counts_for_limit AND direction = 'outgoing'
                  AND state IN ('sending', 'sent', 'delivered', 'read') AND message_date > %s""",
            [self.account_id, self.clock["now"] - timedelta(hours=24)],
        )
        return cr.fetchone()[0]

    def test_reservations_a_second_apart_never_exceed_the_limit(self):
        with self._cursor() as cr_b:
            env_b = self._env(cr_b)
            rounds = []
            for _round in range(4):
                rounds.append(self._round(cr_b, env_b))
                counted = self._counted(cr_b)
                self.assertLessEqual(counted, self.LIMIT, f"limit exceeded after rounds {rounds}")
            self.assertEqual(counted, self.LIMIT, f"the whole limit is used: rounds {rounds}")
            cr_b.execute(
                "SELECT state, COUNT(*) FROM spoki_message WHERE account_id = %s AND wa_phone LIKE '+39345%%' "
                "GROUP BY state",
                [self.account_id],
            )
            states = dict(cr_b.fetchall())
        self.assertEqual(states, {"sent": self.LIMIT - self.PREFILLED, "queued": self.QUEUED - 300})
        self.assertEqual(rounds[0], (self.CHUNK, self.CHUNK))
