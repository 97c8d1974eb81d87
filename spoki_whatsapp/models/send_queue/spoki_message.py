"""Send queue of ``spoki.message`` (see ``send_queue/spoki_account.py`` for
the messaging limit it reserves and the account pauses, ``tools/send_policy.py``
for the retry, pause, crash and reconciliation rules).

One file for the whole protocol (~940 lines, the longest module: its docstring
is most of the design), on purpose: reserve, dispatch, record and
reconcile share the invariants below (the attempt committed before the call,
the worker lock, the outcome written only by its worker) and are reviewed
together.

The send queue (``_process_queue``, cron "WhatsApp: send queue")
----------------------------------------------------------------
Accounts take turns of ``spoki_whatsapp.send_batch_size`` messages, sent
chunk by chunk (``send_commit_every`` messages):

1. *Reserve* (one short READ COMMITTED transaction, committed): pick queued
   messages with ``FOR UPDATE SKIP LOCKED``, apply the rules WhatsApp enforces
   (valid number, not opted out, free text only inside the customer-service
   window, template approved), reserve the tier capacity under the limit
   group's advisory lock (``spoki.account._reserve_recipients``: the clock is
   read *after* the lock and the count has no upper bound, so a reservation
   another worker committed a second later is counted), then mark the chosen
   messages ``sending`` with an idempotency key and this worker's id, and the
   refused ones ``failed`` with the reason. Messages over the limit stay
   ``queued``. Only this chunk is in flight: the rest of the queue is still
   ``queued``, whatever happens to the worker.
2. *Dispatch*: call the provider for each message of the chunk (a few
   threads in parallel, no database access in them).
3. *Record* the outcomes in bulk and commit: ``sent`` with the provider id;
   temporary errors go back to ``queued`` with an exponential backoff
   (``next_attempt_at``) until ``spoki_whatsapp.max_attempts``; permanent
   errors ``failed`` with a readable reason; a throughput limit (HTTP 429,
   ``Retry-After``, Meta 4 / 80007 / 130429) pauses the account's sending
   (``spoki.account.send_paused_until``) without using attempts, and the
   loop leaves that account until then.

The bookkeeping of step 3 overlaps the next chunk's calls (``_send_batch``):
once a chunk's outcomes are committed the next chunk is reserved and its
calls start, and the answered chunk's conversations, chatter notes, chats
and live refresh are written meanwhile (in the same worker, by its cursor),
so the provider's answers don't wait for them. One chunk at a time is in
flight.

No second send: the attempt is committed (step 1) before the provider is
called. A worker holds a *session* advisory lock on its id while it has
messages in ``sending``; if it dies between the call and the commit (crash,
SIGKILL, OOM, ``limit_time_real_cron``, lost connection) PostgreSQL releases
the lock, and the next run reconciles that chunk (``_reconcile_sending``):

* providers whose lookup by idempotency key is authoritative
  (``supports_lookup``: Spoki, sandbox) are asked ``find_message(key)``
  ``LOOKUP_GRACE`` after the worker is first seen dead (its last requests may
  still be in progress at the provider) → found: ``sent``; not found: back to
  ``queued`` (the provider never got it);
* providers without a lookup (Meta Cloud API): the message may have left, so
  its outcome is **unknown** — see below.

Outcome unknown (Meta)
----------------------
A Meta message whose answer was lost (worker killed during the call, read
timeout, connection reset while waiting, a 2xx without a message id) stays
``sending`` with ``sending_worker`` NULL and ``outcome_unknown_since`` set.
It is never sent again and still counts for the tier limit (it may have been
sent). Meta echoes the idempotency key we send as
``biz_opaque_callback_data`` in its status webhooks: the first one settles
the message (``inbound/spoki_message.py``: provider id written, then
sent / delivered / read / failed). Without any webhook for
``spoki_whatsapp.unknown_outcome_grace`` hours (default 24), the
reconciliation fails it as ``unknown_outcome``. Only a connection that could
not be opened at all is retried blindly on Meta. Spoki and the sandbox retry
such failures with the same idempotency key: they deduplicate it.

Crashes
-------
An unexpected exception while reserving a chunk rolls the reservation back;
the chunk is then reserved message by message, and each message that crashes
on its own counts a crash (``send_crash_count``). A crash during a provider
call, or a worker that dies with the message in flight, counts too. After
``spoki_whatsapp.max_crashes`` (default 3) the message fails as
``internal``: one bad message can't loop forever nor block its account.
Database errors that are about concurrency (serialization, deadlock, lost
connection) are not crashes of a message: they end the run, the next one
picks up.
"""

import json
import logging
import secrets
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import timedelta

import psycopg2
import psycopg2.errors

from odoo import api, fields, models
from odoo.sql_db import connection_info_for
from odoo.tools import SQL

from ...tools.phone import normalize_phone
from ...tools.providers import ProviderError, get_provider
from ...tools.send_policy import (
    ACCOUNT_ERROR_DELAY,
    DEFAULT_PAUSE,
    SendOutcome,
    lookup_due_at,
    outcome_of_crash,
    outcome_of_error,
    pair_retry_at,
    pause_until,
    reconciled_outcome,
    unknown_outcome_expired,
)
from ...tools.vocabulary import COUNTED_STATES, LIMIT_WINDOW, SERVICE_WINDOW
from ..spoki_template import provider_lang_code

_logger = logging.getLogger(__name__)

#: pg_advisory_lock namespace of send workers (arbitrary int4).
LOCK_NS_WORKER = 537111
#: Database errors about concurrency or the connection, not about a message:
#: never counted as a message's crash.
TRANSIENT_DB_ERRORS = (
    psycopg2.errors.SerializationFailure,
    psycopg2.errors.DeadlockDetected,
    psycopg2.errors.LockNotAvailable,
    psycopg2.errors.QueryCanceled,
    psycopg2.OperationalError,
    psycopg2.InterfaceError,
)


class SpokiMessage(models.Model):
    _inherit = "spoki.message"

    outcome_unknown_since = fields.Datetime(
        "Outcome unknown since",
        copy=False,
        readonly=True,
        help="The provider may have received this message but its answer was lost: it is not sent again, "
        "the provider's status notification settles it, or it fails after the grace period.",
    )
    send_crash_count = fields.Integer(
        "Send crashes",
        copy=False,
        readonly=True,
        help="Times the send queue crashed on this message; it fails as 'internal' after the maximum.",
    )

    # SEND QUEUE
    # ------------------------------------------------------------

    @api.model
    def _cron_send_queue(self):
        """Cron "WhatsApp: send queue": start due campaigns (their enqueue job
        does the heavy part), reconcile interrupted attempts, send chunks (one
        commit each) within a time budget, report progress so Odoo re-runs the
        job at once when work is left, and schedule a wake-up when the tier
        limit or an account pause frees up."""
        self.env["spoki.campaign"]._cron_start_scheduled()
        done, remaining = self._process_queue()
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)

    @api.model
    def _process_queue(self, batch_size=None, time_budget=None, auto_commit=None, max_batches=None):
        """Send queued messages. Returns ``(done, remaining)``: messages
        processed, and due messages left when the time budget ran out (0 when
        the queue is drained or only blocked by the tier limit or a pause)."""
        auto_commit = self._auto_commit_default() if auto_commit is None else auto_commit
        batch_size = batch_size or self._param("send_batch_size", 500)
        chunk_size = max(1, min(batch_size, self._param("send_commit_every", 100)))
        time_budget = time_budget if time_budget is not None else self._param("send_time_budget", 10)
        deadline = time.monotonic() + time_budget if time_budget else None
        cr = self.env.cr
        self._reconcile_sending(auto_commit=auto_commit)
        done = batches = 0
        out_of_time = False
        wake_up = []
        with self._worker_lock() as worker, self._dispatcher() as dispatcher:
            pending = self._due_account_ids()
            while pending:
                for account_id in list(pending):
                    account = self.env["spoki.account"].sudo().browse(account_id)
                    handled, next_free, paused = self._send_batch(
                        account, worker, batch_size, chunk_size, auto_commit, dispatcher, deadline
                    )
                    done += handled
                    batches += 1
                    if paused or not handled:
                        pending.discard(account_id)
                        if paused or next_free:
                            wake_up.append(paused or next_free)
                    if (deadline and time.monotonic() > deadline) or (max_batches and batches >= max_batches):
                        out_of_time = True
                        break
                if out_of_time:
                    break
        self.env["spoki.campaign"]._check_done(auto_commit=auto_commit)
        if wake_up:
            self.env["spoki.account"]._spoki_trigger_send(at=min(wake_up))
        retry_at = self._next_retry_at()
        if retry_at:
            self.env["spoki.account"]._spoki_trigger_send(at=retry_at)
        if auto_commit:
            cr.commit()
        remaining = self._due_count() if out_of_time else 0
        return done, remaining

    @contextmanager
    def _worker_lock(self):
        """A random worker id, locked (session-level advisory lock) on a
        dedicated connection for as long as the worker runs. The lock dies
        with the connection: when the worker ends normally, raises, or its
        process is killed, the id is free and ``_reconcile_sending`` knows its
        ``sending`` messages are orphans. (A pooled Odoo cursor would keep a
        leaked session lock on an idle connection.)"""
        worker = secrets.randbelow(2**31 - 2) + 1
        _dbname, info = connection_info_for(self.env.cr.dbname)
        connection = psycopg2.connect(**info)
        try:
            connection.autocommit = True
            with connection.cursor() as lock_cr:
                lock_cr.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_NS_WORKER, worker))
            yield worker
        finally:
            try:
                # explicit: the backend may take a moment to notice the close
                with connection.cursor() as lock_cr:
                    lock_cr.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NS_WORKER, worker))
            except psycopg2.Error:
                pass  # the connection is gone: so is the lock
            connection.close()

    @contextmanager
    def _dispatcher(self):
        """The threads of a run (``spoki_whatsapp.send_concurrency``) and
        the provider clients built for its accounts (one per thread and
        account: their HTTP connections are reused from chunk to chunk);
        for the run, the accounts' provider classes and the templates'
        provider references (each commit empties the ORM cache: without
        these, every chunk would read them again); the chunks recorded
        whose bookkeeping is still to do (done at the latest when the run
        ends)."""
        concurrency = max(1, self._param("send_concurrency", 4))
        executor = ThreadPoolExecutor(max_workers=concurrency) if concurrency > 1 else None
        dispatcher = {
            "executor": executor,
            "concurrency": concurrency,
            "callers": {},
            "classes": {},
            "template_refs": {},
            "recorded": [],
        }
        try:
            yield dispatcher
        except Exception:
            if dispatcher["recorded"]:  # the outcomes are committed: their bookkeeping all the same
                with suppress(Exception):
                    self._bookkeeping(dispatcher)
            raise
        else:
            self._bookkeeping(dispatcher)
        finally:
            if executor:
                executor.shutdown(wait=True)

    def _queue_base_where(self, now):
        return SQL(
            """m.state = 'queued' AND m.active
               AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= %s)
               AND (m.campaign_id IS NULL OR c.state = 'running')""",
            now,
        )

    @api.model
    def _due_where(self, now):
        """Due messages of active accounts whose sending is not paused
        (``spoki_message m``, ``spoki_campaign c``, ``spoki_account a``)."""
        return SQL(
            "%s AND a.active AND (a.send_paused_until IS NULL OR a.send_paused_until <= %s)",
            self._queue_base_where(now),
            now,
        )

    @api.model
    def _due_account_ids(self):
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """SELECT DISTINCT m.account_id FROM spoki_message m
                   LEFT JOIN spoki_campaign c ON c.id = m.campaign_id
                   JOIN spoki_account a ON a.id = m.account_id
                  WHERE %s""",
                self._due_where(self._now()),
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}

    @api.model
    def _due_count(self):
        self.env.cr.execute(
            SQL(
                """SELECT COUNT(*) FROM spoki_message m
                   LEFT JOIN spoki_campaign c ON c.id = m.campaign_id
                   JOIN spoki_account a ON a.id = m.account_id WHERE %s""",
                self._due_where(self._now()),
            )
        )
        return self.env.cr.fetchone()[0]

    @api.model
    def _next_retry_at(self):
        now = self._now()
        self.env.cr.execute(
            SQL(
                """SELECT MIN(next_attempt_at) FROM spoki_message
                    WHERE state = 'queued' AND next_attempt_at > %s""",
                now,
            )
        )
        return self.env.cr.fetchone()[0]

    def _begin_read_committed(self, auto_commit):
        """Start a fresh READ COMMITTED transaction (see the module docstring):
        statements after the group lock must see other workers' commits."""
        if auto_commit:
            self.env.cr.commit()
            self.env.cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")

    # -- one account's turn, chunk by chunk ------------------------------------

    @api.model
    def _send_batch(self, account, worker, batch_size, chunk_size, auto_commit, dispatcher, deadline):
        """One turn of ``account``: chunks until ``batch_size`` messages are
        handled, its queue is empty or blocked by the limit, its sending is
        paused, or the time is up. Returns ``(handled, next_free, paused
        until)``.

        Pipelined: once a chunk's calls are answered, its outcomes are
        written and committed, the next chunk is reserved and its calls
        start, and only then is the answered chunk's bookkeeping done
        (conversations, chatter, chats, live refresh: ``_bookkeeping``)
        while those calls run — the last chunk of a turn's during the next
        turn's first calls, or when the run ends. One chunk at a time is in
        flight. A throughput limit met by any call of the turn stops the
        calls not made yet (``paused``) and no further chunk is reserved."""
        handled = 0
        paused_event = threading.Event()
        flight = None
        first = True
        while True:
            if flight:
                self._record_calls(flight)
                dispatcher["recorded"].append(flight)
            paused = None if first else account._send_paused_until(self._now())
            stop = not first and bool(
                paused or paused_event.is_set() or handled >= batch_size or (deadline and time.monotonic() > deadline)
            )
            first = False
            launched = next_free = None
            if not stop:
                one, next_free, launched = self._send_chunk(
                    account, worker, min(chunk_size, batch_size - handled), auto_commit, dispatcher, paused=paused_event
                )
                handled += one
                stop = not one
            if launched:
                self._bookkeeping(dispatcher)
            flight = launched
            if stop and not flight:
                return handled, next_free, paused

    @api.model
    def _send_chunk(self, account, worker, size, auto_commit, dispatcher, only_ids=None, paused=None):
        """Reserve one chunk of ``account`` and start its calls. Returns
        ``(handled, next_free, flight)``: ``flight`` (or None) is the chunk
        whose calls run, for ``_wait_calls`` then ``_record_calls``. An
        unexpected exception while reserving is contained: the reservation
        is rolled back and the chunk is reserved again message by message
        (each one sent and recorded at once), so that only the message that
        breaks counts a crash."""
        picked = []
        try:
            with self._reservation(auto_commit):
                reserved, handled, next_free = self._reserve_batch(
                    account, worker, size, auto_commit, only_ids=only_ids, picked=picked
                )
        except TRANSIENT_DB_ERRORS:
            raise
        except Exception:
            ids = [row["id"] for row in picked]
            if len(ids) > 1:
                _logger.warning(
                    "WhatsApp: reserving %s messages of %s crashed; reserving them one by one",
                    len(ids),
                    account.display_name,
                    exc_info=True,
                )
                handled = 0
                for message_id in ids:
                    one, _next_free, flight = self._send_chunk(
                        account, worker, 1, auto_commit, dispatcher, [message_id], paused=paused
                    )
                    handled += one
                    if flight:
                        self._record_calls(flight)
                        self._after_outcome(flight["settled"], auto_commit, flight.get("bookkeeping_id"))
                return handled, None, None
            _logger.exception("WhatsApp: the send queue crashed on message(s) %s", ids or "(none picked)")
            return self._record_crashes(ids, auto_commit), None, None
        flight = None
        if reserved:
            flight = self._start_calls(account, reserved, worker, auto_commit, dispatcher, paused)
        return handled, next_free, flight

    @contextmanager
    def _reservation(self, auto_commit):
        """Undo a reservation that raised: the transaction (cron) or a
        savepoint (tests, where nothing is committed)."""
        if auto_commit:
            try:
                yield
            except Exception:
                self.env.cr.rollback()
                self.env.invalidate_all()
                raise
        else:
            with self.env.cr.savepoint():
                yield

    @api.model
    def _record_crashes(self, message_ids, auto_commit):
        """Count a crash of these queued messages (nothing was sent): retried
        with backoff, failed as ``internal`` after ``max_crashes``. Returns
        how many left the queue."""
        if not message_ids:
            return 0
        now = self._now()
        rows = self.env.execute_query(
            SQL(
                "SELECT id, send_crash_count FROM spoki_message WHERE id = ANY(%s) AND state = 'queued'",
                message_ids,
            )
        )
        max_crashes, base_delay = self._crash_policy()
        outcomes = [
            (mid, replace(outcome_of_crash((count or 0) + 1, max_crashes, now, base_delay), refund_attempt=False))
            for mid, count in rows
        ]
        self._write_outcomes_where(SQL("m.state = 'queued'"), outcomes)
        if auto_commit:
            self.env.cr.commit()
        settled = [mid for mid, outcome in outcomes if outcome.settled]
        self._after_outcome(settled, auto_commit)
        return len(settled)

    @api.model
    def _crash_policy(self):
        return max(1, self._param("max_crashes", 3)), max(1, self._param("retry_base_delay", 30))

    @api.model
    def _reserve_batch(self, account, worker, batch_size, auto_commit, only_ids=None, picked=None):
        """Step 1. Returns ``(reserved rows, handled count, next_free)``:
        rows marked ``sending`` for this worker, the number of messages
        handled (sent to dispatch or failed by a rule), and when the tier
        limit frees up if it blocked the whole batch. ``picked`` (a list)
        receives the rows picked, for the caller's crash accounting."""
        cr = self.env.cr
        self.env.flush_all()
        self._begin_read_committed(auto_commit)
        # only what the limit needs: each commit empties the cache, and the
        # whole account record costs more than the rest of the reservation
        account.fetch(["tier_policy", "portfolio", "company_id", "provider_tier_limit", "tier_level_id"])
        account._lock_limit_group()
        # The clock is read once the group is ours: a reservation committed
        # by another worker while we waited is dated before this ``now``.
        now = self._now()
        remaining = account._limit_remaining(now)
        rows = self._pick_queued(account, now, batch_size, free_only=remaining == 0, only_ids=only_ids)
        if picked is not None:
            picked.extend(rows)
        if not rows:
            next_free = account._limit_next_free_at(now) if remaining == 0 else None
            if auto_commit:
                cr.commit()
            return [], 0, next_free
        failures, candidates = self._check_rules(account, rows, now)
        allowed, _blocked = account._reserve_recipients([row["wa_phone"] for row in candidates if row["counts"]], now)
        to_send = [row for row in candidates if not row["counts"] or row["wa_phone"] in allowed]
        self._fail_refused(failures, now)
        reserved = self._mark_sending(to_send, worker, now)
        self.invalidate_model()
        if auto_commit:
            cr.commit()
        if failures:
            self._after_outcome([mid for mid, _code in failures], auto_commit)
        next_free = None
        if not reserved and not failures:
            next_free = account._limit_next_free_at(now)
        return reserved, len(reserved) + len(failures), next_free

    @api.model
    def _pick_queued(self, account, now, batch_size, free_only=False, only_ids=None):
        """Lock the next due messages of ``account`` (SKIP LOCKED). With
        ``free_only`` (the limit is used up) only numbers that cost nothing:
        already counted in the window, or whose customer-service window is
        open. ``only_ids``: among these messages only."""
        free_filter = SQL()
        if free_only:
            free_filter = SQL(
                """AND (EXISTS (SELECT 1 FROM spoki_message m2
                                 WHERE m2.account_id = ANY(%s) AND m2.counts_for_limit
                                   AND m2.direction = 'outgoing' AND m2.state IN %s
                                   AND m2.message_date > %s AND m2.wa_phone = m.wa_phone)
                        OR EXISTS (SELECT 1 FROM spoki_message i
                                    WHERE i.account_id = m.account_id AND i.direction = 'incoming'
                                      AND i.wa_phone = m.wa_phone AND i.message_date > %s))""",
                account._limit_group_ids(),
                COUNTED_STATES,
                now - LIMIT_WINDOW,
                now - SERVICE_WINDOW,
            )
        if only_ids is not None:
            free_filter = SQL("%s AND m.id = ANY(%s)", free_filter, list(only_ids))
        return self.env.execute_query_dict(
            SQL(
                """SELECT m.id, m.wa_phone, m.kind, m.template_id, m.optout_confirmation,
                          (SELECT p.wa_phone_valid FROM res_partner p
                            WHERE p.id = m.partner_id AND p.wa_phone = m.wa_phone) AS partner_valid
                     FROM spoki_message m
                LEFT JOIN spoki_campaign c ON c.id = m.campaign_id
                    WHERE m.account_id = %s AND %s %s
                 ORDER BY m.priority DESC, m.id
                    LIMIT %s
               FOR UPDATE OF m SKIP LOCKED""",
                account.id,
                self._queue_base_where(now),
                free_filter,
                batch_size,
            )
        )

    @api.model
    def _check_rules(self, account, rows, now):
        """The rules WhatsApp enforces, checked before any provider call.
        Returns ``(failures [(id, code)], candidates)``; each candidate row
        gets ``counts``: whether it counts for the messaging limit."""
        numbers = {row["wa_phone"] for row in rows}
        # the contact's stored validity when the number is the contact's;
        # otherwise parse it
        valid = {row["wa_phone"]: True for row in rows if row["partner_valid"]}
        for number in numbers - set(valid):
            valid[number] = normalize_phone(number, None).valid
        opted_out = {
            number
            for (number,) in self.env.execute_query(
                SQL("SELECT DISTINCT wa_phone FROM res_partner WHERE wa_opt_out AND wa_phone = ANY(%s)", list(numbers))
            )
        }
        windows = account._open_window_numbers(numbers, now)
        template_ids = list({row["template_id"] for row in rows if row["template_id"]})
        approved = {
            template_id
            for (template_id,) in self.env.execute_query(
                SQL("SELECT id FROM spoki_template WHERE id = ANY(%s) AND state = 'approved' AND active", template_ids)
            )
        }
        failures, candidates = [], []
        for row in rows:
            number = row["wa_phone"]
            if not valid[number]:
                failures.append((row["id"], "invalid_number"))
            elif number in opted_out and not row["optout_confirmation"]:
                failures.append((row["id"], "opted_out"))
            elif row["kind"] in ("text", "media") and number not in windows:  # free-form: window only
                failures.append((row["id"], "outside_window"))
            elif row["kind"] == "template" and row["template_id"] not in approved:
                failures.append((row["id"], "template_not_approved"))
            else:
                row["counts"] = number not in windows
                candidates.append(row)
        return failures, candidates

    @api.model
    def _fail_refused(self, failures, now):
        """Fail the messages a rule refused (they never reach the provider)."""
        if not failures:
            return
        ids, codes = zip(*failures)
        self.env.cr.execute(
            SQL(
                """UPDATE spoki_message AS m
                      SET state = 'failed', error_code = v.code, error_message = v.reason,
                          failed_at = %(now)s, message_date = %(now)s, counts_for_limit = FALSE,
                          write_date = %(now)s
                     FROM unnest(%(ids)s::int[], %(codes)s::varchar[], %(reasons)s::varchar[]) AS v(id, code, reason)
                    WHERE m.id = v.id""",
                now=now,
                ids=list(ids),
                codes=list(codes),
                reasons=[self._reason(code) for code in codes],
            )
        )

    @api.model
    def _mark_sending(self, rows, worker, now):
        """Record the attempt of ``rows`` for ``worker`` (state ``sending``,
        idempotency key, counted or not); return what dispatch needs."""
        if not rows:
            return []
        marked = self.env.execute_query_dict(
            SQL(
                """UPDATE spoki_message AS m
                      SET state = 'sending', sending_worker = %(worker)s, attempt_at = %(now)s,
                          message_date = %(now)s, attempt_count = m.attempt_count + 1,
                          counts_for_limit = v.counts, outcome_unknown_since = NULL,
                          idempotency_key = COALESCE(m.idempotency_key, %(prefix)s || m.id::varchar),
                          write_date = %(now)s
                     FROM unnest(%(ids)s::int[], %(counts)s::boolean[]) AS v(id, counts)
                    WHERE m.id = v.id
                RETURNING m.id, m.wa_phone, m.kind, m.body, m.template_id, m.lang, m.template_params,
                          m.idempotency_key, m.attempt_count, m.partner_id, m.send_crash_count, m.priority,
                          (SELECT q.provider_message_id FROM spoki_message q WHERE q.id = m.reply_to_id)
                          AS reply_to""",
                worker=worker,
                now=now,
                prefix=self._idempotency_prefix(),
                ids=[row["id"] for row in rows],
                counts=[row["counts"] for row in rows],
            )
        )
        # one statement, not an UPDATE then a SELECT (the chunk is on the critical path)
        # in the pick's order (ORDER BY priority DESC, id: NULL first)
        marked.sort(key=lambda row: (row["priority"] is not None, -(row["priority"] or 0), row["id"]))
        return marked

    # -- dispatch -----------------------------------------------------------

    @api.model
    def _dispatch(self, account, rows, worker, auto_commit, dispatcher=None):
        """Steps 2 and 3 at once: call the provider for ``rows`` (one chunk
        reserved by ``worker``) and record the outcomes, then commit."""
        if dispatcher is None:
            with self._dispatcher() as own:
                return self._dispatch(account, rows, worker, auto_commit, own)
        flight = self._start_calls(account, rows, worker, auto_commit, dispatcher)
        if flight:
            self._record_calls(flight)
            self._after_outcome(flight["settled"], auto_commit, flight.get("bookkeeping_id"))

    @api.model
    def _start_calls(self, account, rows, worker, auto_commit, dispatcher, paused=None):
        """Step 2: start the provider calls of ``rows`` in the dispatcher's
        threads (no database access in them). Returns the chunk in flight
        (None when the account's client can't be built: the chunk is
        requeued and committed here)."""
        try:
            call = dispatcher["callers"].get(account.id) or self._provider_caller(account)
        except Exception:  # noqa: BLE001 - the account's setup, not a message: nothing was sent
            _logger.exception("WhatsApp: can't build the provider client of %s", account.display_name)
            now = self._now()
            outcome = SendOutcome.requeued(now + ACCOUNT_ERROR_DELAY, "internal", refund_attempt=True)
            self._write_outcomes(worker, [(row["id"], outcome) for row in rows])
            if auto_commit:
                self.env.cr.commit()
            return None
        dispatcher["callers"][account.id] = call
        if account.id not in dispatcher["classes"]:
            dispatcher["classes"][account.id] = account._provider_class()
        provider_class = dispatcher["classes"][account.id]
        ready, crashed = self._prepare_rows(account, rows, provider_class, dispatcher["template_refs"])
        paused = paused if paused is not None else threading.Event()
        executor = dispatcher["executor"] if len(ready) > 1 else None
        flight = {
            "account": account,
            "worker": worker,
            "auto_commit": auto_commit,
            "crashed": crashed,
            "deduplicated": provider_class.supports_lookup,
        }
        if executor:
            # one task per thread taking the chunk's rows in turn (not one
            # future per message: their bookkeeping competes with the calls)
            todo = deque(ready)

            def calls():
                done = []
                while True:
                    try:
                        row = todo.popleft()
                    except IndexError:
                        return done
                    done.append(call(row, paused))

            flight["futures"] = [executor.submit(calls) for _i in range(min(dispatcher["concurrency"], len(ready)))]
        else:
            flight["results"] = [call(row, paused) for row in ready]
        return flight

    @api.model
    def _wait_calls(self, flight):
        """The answers of a chunk in flight, once all its calls are done."""
        if "results" not in flight:
            flight["results"] = [result for future in flight.pop("futures") for result in future.result()]
        return flight["results"]

    @api.model
    def _record_calls(self, flight):
        """Step 3: record the outcomes of a chunk's calls, then commit (their
        bookkeeping is ``_bookkeeping``)."""
        account, worker, auto_commit = flight["account"], flight["worker"], flight["auto_commit"]
        results = self._wait_calls(flight)
        # a transaction begun after the calls: it sees the status events the
        # provider pushed meanwhile (kept pending until the provider id is known)
        self._begin_read_committed(auto_commit)
        now = self._now()
        outcomes, error_codes, pause_end = self._outcomes_of_calls(
            account, results, flight["crashed"], now, deduplicated=flight["deduplicated"]
        )
        self._write_outcomes(worker, outcomes)
        self._apply_pending_status_events([mid for mid, _outcome in outcomes])
        settled = [mid for mid, outcome in outcomes if outcome.settled]
        flight["bookkeeping_id"] = self._bookkeeping_pending(worker, settled)
        if auto_commit:
            self.env.cr.commit()
        if pause_end:
            account._pause_sending(pause_end, auto_commit)
        if error_codes:
            account._on_provider_errors(error_codes)
        flight["settled"] = settled

    @api.model
    def _bookkeeping(self, dispatcher):
        """The bookkeeping (``_after_outcome``) of the chunks recorded so far."""
        while dispatcher["recorded"]:
            flight = dispatcher["recorded"].pop(0)
            self._after_outcome(flight.get("settled", []), flight["auto_commit"], flight.get("bookkeeping_id"))

    @api.model
    def _bookkeeping_pending(self, worker, message_ids):
        """Note, in the outcomes' transaction, that the bookkeeping of
        ``message_ids`` is still to do (``spoki_send_bookkeeping``): if the
        worker dies before it, the reconciliation does it
        (``_reconcile_bookkeeping``). Returns the note's id, or None."""
        if not message_ids:
            return None
        return self.env.execute_query(
            SQL(
                "INSERT INTO spoki_send_bookkeeping (worker, message_ids) VALUES (%s, %s) RETURNING id",
                worker,
                list(message_ids),
            )
        )[0][0]

    @api.model
    def _reconcile_bookkeeping(self, auto_commit):
        """The bookkeeping that workers now gone left undone: their outcomes
        were committed, the chunk's conversations, chatter notes and chats
        were not (killed while the next chunk's calls ran). Done once: the
        note is deleted in the bookkeeping's transaction."""
        cr = self.env.cr
        for note_id, worker, message_ids in self.env.execute_query(
            SQL("SELECT id, worker, message_ids FROM spoki_send_bookkeeping ORDER BY id")
        ):
            cr.execute(SQL("SELECT pg_try_advisory_xact_lock(%s, %s)", LOCK_NS_WORKER, worker))
            if not cr.fetchone()[0]:
                continue  # alive: it does its own
            _logger.info("WhatsApp: bookkeeping of %s messages left by a stopped send worker", len(message_ids))
            self._after_outcome(message_ids, auto_commit, note_id)

    @api.model
    def _prepare_rows(self, account, rows, provider_class=None, refs=None):
        """What each call needs, computed here (database access) rather than
        in the threads: the template's reference and the parameters. Returns
        ``(ready rows, [(row, crash outcome)])``: a row our code can't
        prepare is a crash before any call. ``refs``: the templates'
        references known already (``{template id: ref}``, completed here)."""
        provider_class = provider_class or account._provider_class()
        refs = {} if refs is None else refs
        template_ids = {row["template_id"] for row in rows if row["template_id"]} - set(refs)
        refs.update(
            {
                template.id: provider_class.template_ref(template.provider_name or template.name, template.external_id)
                for template in self.env["spoki.template"].sudo().with_context(active_test=False).browse(template_ids)
            }
        )
        max_crashes, base_delay = self._crash_policy()
        ready, crashed = [], []
        for row in rows:
            try:
                if row["kind"] == "template":
                    params = row["template_params"] or []
                    if isinstance(params, str):
                        params = json.loads(params)
                    row["call"] = (
                        "send_template",
                        (row["wa_phone"], refs[row["template_id"]], provider_lang_code(row["lang"]), params),
                    )
                elif row["kind"] == "media":
                    row["call"] = self._media_call(row)
                else:
                    row["call"] = ("send_text", (row["wa_phone"], row["body"] or ""))
                if row.get("reply_to") and row["kind"] != "template":  # a quoted reply (reactions/)
                    row["call"] = (*row["call"][:2], {"reply_to": row["reply_to"]})
            except Exception:  # noqa: BLE001 - one message's data: counted as its crash
                _logger.exception("WhatsApp: can't prepare the send of message %s", row["id"])
                crash = outcome_of_crash((row["send_crash_count"] or 0) + 1, max_crashes, self._now(), base_delay)
                crashed.append((row, crash))
            else:
                ready.append(row)
        return ready, crashed

    @api.model
    def _provider_caller(self, account):
        """``call(row, paused) -> (row, SendResult | None, ProviderError |
        None, crashed)``: one provider call, safe to run in threads (no
        database access; one client per thread). Once ``paused`` is set (the
        provider said the account sends too fast) the remaining calls of the
        chunk are not made (``crashed`` = 'skipped'). An unexpected exception
        in the call is ``crashed`` = 'during' (it may have been sent)."""
        kind = account.provider
        config = account._provider_config()
        clock = self._clock()
        local = threading.local()

        def call(row, paused):
            if paused.is_set():
                return row, None, None, "skipped"
            try:
                provider = getattr(local, "provider", None)
                if provider is None:
                    provider = local.provider = get_provider(kind, config, clock=clock)
            except Exception:  # noqa: BLE001 - nothing was sent
                _logger.exception("WhatsApp: can't build the provider client for message %s", row["id"])
                return row, None, None, "before"
            method, args, *options = row["call"]
            try:
                result = getattr(provider, method)(*args, row["idempotency_key"], **(options[0] if options else {}))
                return row, result, None, None
            except ProviderError as exc:
                if pause_until(exc.code, None, clock()):
                    paused.set()
                return row, None, exc, None
            except Exception:  # noqa: BLE001 - counted as a crash of this message
                _logger.exception("WhatsApp send of message %s failed unexpectedly", row["id"])
                return row, None, None, "during"

        return call

    @api.model
    def _outcomes_of_calls(self, account, results, crashed, now, deduplicated=None):
        """``([(message id, SendOutcome)], error codes, pause end)`` of a
        chunk's calls (see ``tools/send_policy.py``)."""
        max_attempts = max(1, self._param("max_attempts", 5))
        base_delay = max(1, self._param("retry_base_delay", 30))
        max_crashes, _delay = self._crash_policy()
        default_pause = timedelta(seconds=max(1, self._param("rate_limit_pause", int(DEFAULT_PAUSE.total_seconds()))))
        if deduplicated is None:
            deduplicated = account._provider_class().supports_lookup
        pause_end = None
        for _row, _result, error, _crashed in results:
            if error is not None:
                until = pause_until(error.code, error.retry_after, now, default_pause)
                if until and (pause_end is None or until > pause_end):
                    pause_end = until
        outcomes = [(row["id"], outcome) for row, outcome in crashed]
        error_codes = set()
        for row, result, error, crash in results:
            if result is not None:
                outcome = SendOutcome.sent(result.message_id, now)
            elif error is not None:
                error_codes.add(error.code)
                # an account throughput limit waits for the account's pause; a
                # pair rate limit (one customer) only for its own retry time
                wait_until = pair_retry_at(error.code, error.retry_after, now, default_pause)
                if not wait_until and pause_until(error.code, error.retry_after, now):
                    wait_until = pause_end
                outcome = outcome_of_error(
                    error.code,
                    error.temporary,
                    str(error)[:300],
                    row["attempt_count"],
                    now,
                    max_attempts,
                    base_delay,
                    outcome_unknown=error.outcome_unknown,
                    deduplicated=deduplicated,
                    paused_until=wait_until,
                )
            elif crash == "skipped":
                outcome = SendOutcome.requeued(pause_end, "rate_limited", refund_attempt=True)
            else:
                outcome = outcome_of_crash(
                    (row["send_crash_count"] or 0) + 1,
                    max_crashes,
                    now,
                    base_delay,
                    maybe_sent=crash == "during",
                    deduplicated=deduplicated,
                )
            outcomes.append((row["id"], outcome))
        return outcomes, error_codes, pause_end

    @api.model
    def _write_outcomes(self, worker, outcomes):
        """Record ``[(message id, SendOutcome)]`` of this worker's ``sending``
        messages (a message another worker took over is left alone)."""
        self._write_outcomes_where(SQL("m.state = 'sending' AND m.sending_worker = %s", worker), outcomes)

    @api.model
    def _write_outcomes_where(self, where, outcomes):
        """Record ``[(message id, SendOutcome)]`` on the messages matching
        ``where`` (an SQL condition on ``spoki_message m``). An ``unknown``
        outcome stays ``sending``, released by the worker, counted for the
        limit, with ``outcome_unknown_since``."""
        if not outcomes:
            return
        pids = [outcome.provider_message_id for _id, outcome in outcomes if outcome.provider_message_id]
        if pids:
            # A provider id already used by another message of the account
            # (a provider reusing ids) can't be stored twice: keep the outcome
            # without the id rather than lose the whole chunk.
            taken = {
                pid
                for (pid,) in self.env.execute_query(
                    SQL(
                        """SELECT provider_message_id FROM spoki_message
                            WHERE account_id = (SELECT account_id FROM spoki_message WHERE id = %s)
                              AND provider_message_id = ANY(%s)""",
                        outcomes[0][0],
                        pids,
                    )
                )
            }
            if taken:
                _logger.warning("WhatsApp: provider message ids already used, not stored: %s", sorted(taken))
                outcomes = [
                    (mid, outcome.without_provider_id() if outcome.provider_message_id in taken else outcome)
                    for mid, outcome in outcomes
                ]
        columns = {
            "ids": [mid for mid, _outcome in outcomes],
            "states": [o.db_state for _mid, o in outcomes],
            "pids": [o.provider_message_id for _mid, o in outcomes],
            "codes": [o.error_code if o.state != "unknown" else None for _mid, o in outcomes],
            "reasons": [
                self._reason(o.error_code, o.detail) if o.error_code and o.state != "unknown" else None
                for _mid, o in outcomes
            ],
            "sent": [o.sent_at for _mid, o in outcomes],
            "failed": [o.failed_at for _mid, o in outcomes],
            "next": [o.next_attempt_at for _mid, o in outcomes],
            "refunds": [int(o.refund_attempt) for _mid, o in outcomes],
            "unknown": [o.unknown_since for _mid, o in outcomes],
            "crashes": [int(o.crashed) for _mid, o in outcomes],
        }
        self.env.cr.execute(
            SQL(
                """UPDATE spoki_message AS m
                      SET state = v.state,
                          provider_message_id = COALESCE(v.pid, m.provider_message_id),
                          error_code = CASE WHEN v.state IN ('sent', 'sending') THEN NULL ELSE v.code END,
                          error_message = CASE WHEN v.state IN ('sent', 'sending') THEN NULL ELSE v.reason END,
                          sent_at = COALESCE(m.sent_at, v.sent_at),
                          message_date = COALESCE(v.sent_at, v.failed_at, m.message_date),
                          failed_at = v.failed_at,
                          next_attempt_at = v.next_at,
                          attempt_count = m.attempt_count - v.refund,
                          counts_for_limit = CASE WHEN v.state IN ('sent', 'sending') THEN m.counts_for_limit
                                                  ELSE FALSE END,
                          sending_worker = NULL,
                          outcome_unknown_since = v.unknown_since,
                          send_crash_count = COALESCE(m.send_crash_count, 0) + v.crash,
                          write_date = now() AT TIME ZONE 'UTC'
                     FROM unnest(%(ids)s::int[], %(states)s::varchar[], %(pids)s::varchar[], %(codes)s::varchar[],
                                 %(reasons)s::varchar[], %(sent)s::timestamp[], %(failed)s::timestamp[],
                                 %(next)s::timestamp[], %(refunds)s::int[], %(unknown)s::timestamp[],
                                 %(crashes)s::int[])
                          AS v(id, state, pid, code, reason, sent_at, failed_at, next_at, refund, unknown_since,
                               crash)
                    WHERE m.id = v.id AND %(where)s""",
                where=where,
                **columns,
            )
        )
        self.invalidate_model()

    @api.model
    def _after_outcome(self, message_ids, auto_commit, bookkeeping_id=None):
        """Conversations, chatter and chat bookkeeping of messages that were
        just sent or failed (a separate transaction: the outcome is already
        safe; a failure here is logged, it never undoes an outcome).
        ``bookkeeping_id``: the note of ``_bookkeeping_pending`` saying it is
        to do, deleted in this transaction."""
        if bookkeeping_id:
            self.env.cr.execute(SQL("DELETE FROM spoki_send_bookkeeping WHERE id = %s", bookkeeping_id))
        if not message_ids:
            return
        try:
            with self.env.cr.savepoint():
                # one query routes each message to the bookkeeping it needs: a
                # campaign's messages (no chatter, no chat yet) only open
                # conversations, without a field read through the ORM
                rows = self.env.execute_query(
                    SQL(
                        """SELECT id, state = 'sent', partner_id IS NOT NULL AND campaign_id IS NULL,
                                  mail_message_id IS NOT NULL OR campaign_id IS NULL
                             FROM spoki_message WHERE id = ANY(%s)""",
                        list(message_ids),
                    )
                )
                Message = self.sudo()
                self.env["spoki.conversation"]._link_messages(Message.browse([row[0] for row in rows if row[1]]))
                Message.browse([row[0] for row in rows if row[2]])._log_on_chatter()
                Message.browse([row[0] for row in rows if row[3]])._spoki_after_outcome_discuss()
        except TRANSIENT_DB_ERRORS:
            raise
        except Exception:  # noqa: BLE001 - bookkeeping of messages already recorded
            _logger.exception("WhatsApp: chatter/conversation bookkeeping of %s messages failed", len(message_ids))
            self.env.invalidate_all()
        self._spoki_live_notify(message_ids)
        if auto_commit:
            self.env.cr.commit()

    # -- reconciliation -----------------------------------------------------

    @api.model
    def _reconcile_sending(self, auto_commit=True):
        """Messages left in ``sending`` by a worker that is gone (its session
        lock is free): settle them without ever sending twice; then fail the
        messages whose outcome stayed unknown past the grace period.

        In a READ COMMITTED transaction of its own: a snapshot taken earlier
        (the cron's transaction) may still show a chunk ``sending`` that its
        worker recorded before ending its run — its lock free, the rows
        already changed: reconciling them failed on a serialization error."""
        cr = self.env.cr
        self.env.flush_all()
        self._begin_read_committed(auto_commit)
        workers = [
            worker
            for (worker,) in self.env.execute_query(
                SQL(
                    """SELECT DISTINCT sending_worker FROM spoki_message
                        WHERE state = 'sending' AND sending_worker IS NOT NULL"""
                )
            )
        ]
        for worker in workers:
            # Transaction-level: nothing to release by hand. Once free, the
            # id stays free (ids are random, never reused).
            cr.execute(SQL("SELECT pg_try_advisory_xact_lock(%s, %s)", LOCK_NS_WORKER, worker))
            if not cr.fetchone()[0]:
                continue  # alive
            self._reconcile_worker(worker, auto_commit)
        self._reconcile_bookkeeping(auto_commit)
        self._expire_unknown_outcomes(auto_commit)

    @api.model
    def _reconcile_worker(self, worker, auto_commit):
        rows = self.env.execute_query_dict(
            SQL(
                """SELECT id, account_id, idempotency_key, attempt_at, send_crash_count, outcome_unknown_since
                     FROM spoki_message
                    WHERE state = 'sending' AND sending_worker = %s""",
                worker,
            )
        )
        by_account = {}
        for row in rows:
            by_account.setdefault(row["account_id"], []).append(row)
        now = self._now()
        max_crashes, _delay = self._crash_policy()
        for account_id, account_rows in by_account.items():
            account = self.env["spoki.account"].sudo().browse(account_id)
            provider = account._get_provider(clock=self._clock())
            if provider.supports_lookup:
                account_rows = self._lookup_due_rows(worker, account_rows, now, auto_commit)
                if not account_rows:
                    continue
            outcomes = []
            for row in account_rows:
                try:
                    found = provider.find_message(row["idempotency_key"]) if provider.supports_lookup else None
                except ProviderError as exc:
                    _logger.warning("WhatsApp: can't reconcile message %s yet: %s", row["id"], exc)
                    continue
                outcome = reconciled_outcome(
                    provider.supports_lookup,
                    found,
                    row["attempt_at"],
                    now,
                    crash_count=(row["send_crash_count"] or 0) + 1,
                    max_crashes=max_crashes,
                )
                outcomes.append((row["id"], outcome))
            self._write_outcomes_where(SQL("m.state = 'sending' AND m.sending_worker = %s", worker), outcomes)
            self._apply_pending_status_events([mid for mid, _outcome in outcomes])
            _logger.info(
                "WhatsApp: reconciled %s interrupted sends of account %s (%s of unknown outcome)",
                len(outcomes),
                account.display_name,
                sum(1 for _mid, outcome in outcomes if outcome.state == "unknown"),
            )
            if auto_commit:
                self.env.cr.commit()
            self._after_outcome([mid for mid, outcome in outcomes if outcome.settled], auto_commit)

    @api.model
    def _lookup_due_rows(self, worker, rows, now, auto_commit):
        """The rows of dead ``worker`` that may be looked up at the provider
        now (``send_policy.LOOKUP_GRACE``). The others wait: the first time
        the worker is seen dead is recorded as ``outcome_unknown_since`` (its
        last requests may still be processed by the provider: a "not found"
        now could send them twice) and the queue comes back when the grace
        is over."""
        due, waiting = [], []
        for row in rows:
            due_at = lookup_due_at(row["outcome_unknown_since"], now)
            if due_at:
                waiting.append(due_at)
            else:
                due.append(row)
        first_seen = [row["id"] for row in rows if not row["outcome_unknown_since"]]
        if first_seen:
            self.env.cr.execute(
                SQL(
                    """UPDATE spoki_message SET outcome_unknown_since = %s
                        WHERE id = ANY(%s) AND state = 'sending' AND sending_worker = %s""",
                    now,
                    first_seen,
                    worker,
                )
            )
            self.env.invalidate_all()
        if waiting:
            self.env["spoki.account"]._spoki_trigger_send(at=min(waiting))
            if auto_commit:
                self.env.cr.commit()
        return due

    @api.model
    def _expire_unknown_outcomes(self, auto_commit):
        """Fail as ``unknown_outcome`` the messages whose outcome stayed
        unknown for ``spoki_whatsapp.unknown_outcome_grace`` hours (default
        24) without the provider's status notification."""
        now = self._now()
        grace = timedelta(hours=max(0, self._param("unknown_outcome_grace", 24)))
        rows = self.env.execute_query(
            SQL(
                """SELECT id, COALESCE(outcome_unknown_since, attempt_at, write_date) FROM spoki_message
                    WHERE state = 'sending' AND sending_worker IS NULL
                      AND COALESCE(outcome_unknown_since, attempt_at, write_date) <= %s""",
                now - grace,
            )
        )
        outcomes = [(mid, unknown_outcome_expired(since, now, grace)) for mid, since in rows]
        outcomes = [(mid, outcome) for mid, outcome in outcomes if outcome]
        if not outcomes:
            return
        self._write_outcomes_where(SQL("m.state = 'sending' AND m.sending_worker IS NULL"), outcomes)
        _logger.warning(
            "WhatsApp: %s messages of unknown outcome failed after %s without a status from the provider",
            len(outcomes),
            grace,
        )
        if auto_commit:
            self.env.cr.commit()
        self._after_outcome([mid for mid, _outcome in outcomes], auto_commit)
