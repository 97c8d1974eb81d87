"""Send queue of ``spoki.message`` (see ``send_queue/spoki_account.py`` for
the messaging limit it reserves, ``tools/send_policy.py`` for the retry rules).

One file for the whole protocol (~580 lines), on purpose: reserve, dispatch,
record and reconcile share the invariants below (the attempt committed before
the call, the worker lock, the outcome written only by its worker) and are
reviewed together.

The send queue (``_cron_send_queue``, cron "WhatsApp: send queue")
-------------------------------------------------------------------
Per batch, for one account at a time:

1. *Reserve* (one short READ COMMITTED transaction, committed): pick queued
   messages with ``FOR UPDATE SKIP LOCKED``, apply the rules WhatsApp enforces
   (valid number, not opted out, free text only inside the customer-service
   window, template approved), reserve the tier capacity under a per-group
   advisory lock (``spoki.account._reserve_recipients``), then mark the
   chosen messages ``sending`` with an idempotency key and this worker's id,
   and the refused ones ``failed`` with the reason. Messages over the limit
   stay ``queued``.
2. *Dispatch*: call the provider for each reserved message (a few threads in
   parallel, no database access in them).
3. *Record* the outcomes in bulk and commit: ``sent`` with the provider id;
   temporary errors go back to ``queued`` with an exponential backoff
   (``next_attempt_at``) until ``spoki_whatsapp.max_attempts``; permanent
   errors ``failed`` with a readable reason.

No second send: the attempt is committed (step 1) before the provider is
called. A worker holds a *session* advisory lock on its id while it has
messages in ``sending``; if it dies between the call and the commit (crash,
kill, lost connection) PostgreSQL releases the lock, and the next run
reconciles those messages: providers whose lookup by idempotency key is authoritative
(``supports_lookup``: Spoki, sandbox) are asked ``find_message(key)`` → found: ``sent``; not found: back to
``queued`` (the provider never got it). Providers without a lookup (Meta
Cloud API) can't tell: the message is failed as ``unknown_outcome`` and never
re-sent. Retries after a *temporary* error reuse the same idempotency key, so
Spoki and the sandbox deduplicate them; Meta has no such key, so a request
that timed out on our side but was processed by Meta may be delivered twice —
a limit of Meta's API, documented in the README.
"""

import json
import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import psycopg2

from odoo import api, models
from odoo.sql_db import connection_info_for
from odoo.tools import SQL

from ...tools.phone import normalize_phone
from ...tools.providers import ProviderError, get_provider
from ...tools.send_policy import SendOutcome, outcome_of_error, reconciled_outcome
from ...tools.vocabulary import COUNTED_STATES, LIMIT_WINDOW, SERVICE_WINDOW
from ..spoki_template import provider_lang_code

_logger = logging.getLogger(__name__)

#: pg_advisory_lock namespace of send workers (arbitrary int4).
LOCK_NS_WORKER = 537111


class SpokiMessage(models.Model):
    _inherit = "spoki.message"

    # SEND QUEUE
    # ------------------------------------------------------------

    @api.model
    def _cron_send_queue(self):
        """Cron "WhatsApp: send queue": start due campaigns, reconcile
        interrupted attempts, send batches (one commit each) within a time
        budget, report progress so Odoo re-runs the job at once when work is
        left, and schedule a wake-up when the tier limit frees up."""
        self.env["spoki.campaign"]._cron_start_scheduled()
        done, remaining = self._process_queue()
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)

    @api.model
    def _process_queue(self, batch_size=None, time_budget=None, auto_commit=None, max_batches=None):
        """Send queued messages. Returns ``(done, remaining)``: messages
        processed, and due messages left when the time budget ran out (0 when
        the queue is drained or only blocked by the tier limit)."""
        auto_commit = self._auto_commit_default() if auto_commit is None else auto_commit
        batch_size = batch_size or self._param("send_batch_size", 500)
        time_budget = time_budget if time_budget is not None else self._param("send_time_budget", 10)
        started = time.monotonic()
        cr = self.env.cr
        self._reconcile_sending(auto_commit=auto_commit)
        done = batches = 0
        out_of_time = False
        wake_up = []
        with self._worker_lock() as worker:
            pending = self._due_account_ids()
            while pending:
                for account_id in list(pending):
                    account = self.env["spoki.account"].sudo().browse(account_id)
                    reserved, handled, next_free = self._reserve_batch(account, worker, batch_size, auto_commit)
                    if reserved:
                        self._dispatch(account, reserved, worker, auto_commit)
                    done += handled
                    batches += 1
                    if not handled:
                        pending.discard(account_id)
                        if next_free:
                            wake_up.append(next_free)
                    if (time_budget and time.monotonic() - started > time_budget) or (
                        max_batches and batches >= max_batches
                    ):
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

    def _queue_base_where(self, now):
        return SQL(
            """m.state = 'queued' AND m.active
               AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= %s)
               AND (m.campaign_id IS NULL OR c.state = 'running')""",
            now,
        )

    @api.model
    def _due_account_ids(self):
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """SELECT DISTINCT m.account_id FROM spoki_message m
                   LEFT JOIN spoki_campaign c ON c.id = m.campaign_id
                   JOIN spoki_account a ON a.id = m.account_id AND a.active
                  WHERE %s""",
                self._queue_base_where(self._now()),
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}

    @api.model
    def _due_count(self):
        self.env.cr.execute(
            SQL(
                """SELECT COUNT(*) FROM spoki_message m
                   LEFT JOIN spoki_campaign c ON c.id = m.campaign_id WHERE %s""",
                self._queue_base_where(self._now()),
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

    @api.model
    def _reserve_batch(self, account, worker, batch_size, auto_commit):
        """Step 1. Returns ``(reserved rows, handled count, next_free)``:
        rows marked ``sending`` for this worker, the number of messages
        handled (sent to dispatch or failed by a rule), and when the tier
        limit frees up if it blocked the whole batch."""
        cr = self.env.cr
        self.env.flush_all()
        self._begin_read_committed(auto_commit)
        now = self._now()
        account._lock_limit_group()
        remaining = account._limit_remaining(now)
        rows = self._pick_queued(account, now, batch_size, free_only=remaining == 0)
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
    def _pick_queued(self, account, now, batch_size, free_only=False):
        """Lock the next due messages of ``account`` (SKIP LOCKED). With
        ``free_only`` (the limit is used up) only numbers that cost nothing:
        already counted in the window, or whose customer-service window is
        open."""
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
            elif row["kind"] == "text" and number not in windows:
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
        self.env.cr.execute(
            SQL(
                """UPDATE spoki_message AS m
                      SET state = 'sending', sending_worker = %(worker)s, attempt_at = %(now)s,
                          message_date = %(now)s, attempt_count = m.attempt_count + 1,
                          counts_for_limit = v.counts,
                          idempotency_key = COALESCE(m.idempotency_key, %(prefix)s || m.id::varchar),
                          write_date = %(now)s
                     FROM unnest(%(ids)s::int[], %(counts)s::boolean[]) AS v(id, counts)
                    WHERE m.id = v.id""",
                worker=worker,
                now=now,
                prefix=self._idempotency_prefix(),
                ids=[row["id"] for row in rows],
                counts=[row["counts"] for row in rows],
            )
        )
        return self.env.execute_query_dict(
            SQL(
                """SELECT id, wa_phone, kind, body, template_id, lang, template_params,
                          idempotency_key, attempt_count, partner_id
                     FROM spoki_message WHERE id = ANY(%s) ORDER BY priority DESC, id""",
                [row["id"] for row in rows],
            )
        )

    # -- dispatch -----------------------------------------------------------

    @api.model
    def _dispatch(self, account, rows, worker, auto_commit):
        """Steps 2 and 3: call the provider for ``rows`` (reserved by
        ``worker``) and record the outcomes, committing every chunk."""
        call = self._provider_caller(account, rows)
        concurrency = max(1, self._param("send_concurrency", 4))
        chunk_size = max(1, self._param("send_commit_every", 100))
        max_attempts = max(1, self._param("max_attempts", 5))
        base_delay = max(1, self._param("retry_base_delay", 30))
        error_codes = set()
        executor = ThreadPoolExecutor(max_workers=concurrency) if concurrency > 1 and len(rows) > 1 else None
        try:
            for start in range(0, len(rows), chunk_size):
                chunk = rows[start : start + chunk_size]
                results = list(executor.map(call, chunk)) if executor else [call(row) for row in chunk]
                now = self._now()
                outcomes = []
                for row, result, error in results:
                    if result is not None:
                        outcomes.append((row["id"], SendOutcome.sent(result.message_id, now)))
                    elif error is not None:
                        error_codes.add(error.code)
                        outcome = outcome_of_error(
                            error.code,
                            error.temporary,
                            str(error)[:300],
                            row["attempt_count"],
                            now,
                            max_attempts,
                            base_delay,
                        )
                        outcomes.append((row["id"], outcome))
                    # else unknown: stays 'sending' for the reconciliation
                self._write_outcomes(worker, outcomes)
                if auto_commit:
                    self.env.cr.commit()
                self._after_outcome([mid for mid, outcome in outcomes if outcome.settled], auto_commit)
        finally:
            if executor:
                executor.shutdown(wait=True)
        if error_codes:
            account._on_provider_errors(error_codes)

    @api.model
    def _provider_caller(self, account, rows):
        """``call(row) -> (row, SendResult | None, ProviderError | None)``:
        one provider call, safe to run in threads (no database access; one
        client per thread). An unexpected exception leaves the outcome
        unknown (None, None): the reconciliation settles it."""
        kind = account.provider
        config = account._provider_config()
        clock = self._clock()
        provider_class = account._provider_class()
        refs = {
            template.id: provider_class.template_ref(template.provider_name or template.name, template.external_id)
            for template in self.env["spoki.template"]
            .sudo()
            .with_context(active_test=False)
            .browse({row["template_id"] for row in rows if row["template_id"]})
        }
        local = threading.local()

        def call(row):
            provider = getattr(local, "provider", None)
            if provider is None:
                provider = local.provider = get_provider(kind, config, clock=clock)
            try:
                if row["kind"] == "template":
                    params = row["template_params"] or []
                    if isinstance(params, str):
                        params = json.loads(params)
                    result = provider.send_template(
                        row["wa_phone"],
                        refs[row["template_id"]],
                        provider_lang_code(row["lang"]),
                        params,
                        row["idempotency_key"],
                    )
                else:
                    result = provider.send_text(row["wa_phone"], row["body"] or "", row["idempotency_key"])
                return row, result, None
            except ProviderError as exc:
                return row, None, exc
            except Exception:  # noqa: BLE001 - outcome unknown: left to the reconciliation
                _logger.exception("WhatsApp send of message %s failed unexpectedly", row["id"])
                return row, None, None

        return call

    @api.model
    def _write_outcomes(self, worker, outcomes):
        """Record ``[(message id, SendOutcome)]`` of this worker's ``sending``
        messages (a message another worker took over is left alone)."""
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
            "states": [o.state for _mid, o in outcomes],
            "pids": [o.provider_message_id for _mid, o in outcomes],
            "codes": [o.error_code for _mid, o in outcomes],
            "reasons": [self._reason(o.error_code, o.detail) if o.error_code else None for _mid, o in outcomes],
            "sent": [o.sent_at for _mid, o in outcomes],
            "failed": [o.failed_at for _mid, o in outcomes],
            "next": [o.next_attempt_at for _mid, o in outcomes],
            "refunds": [int(o.refund_attempt) for _mid, o in outcomes],
        }
        self.env.cr.execute(
            SQL(
                """UPDATE spoki_message AS m
                      SET state = v.state,
                          provider_message_id = COALESCE(v.pid, m.provider_message_id),
                          error_code = CASE WHEN v.state = 'sent' THEN NULL ELSE v.code END,
                          error_message = CASE WHEN v.state = 'sent' THEN NULL ELSE v.reason END,
                          sent_at = COALESCE(m.sent_at, v.sent_at),
                          message_date = COALESCE(v.sent_at, v.failed_at, m.message_date),
                          failed_at = v.failed_at,
                          next_attempt_at = v.next_at,
                          attempt_count = m.attempt_count - v.refund,
                          counts_for_limit = CASE WHEN v.state = 'sent' THEN m.counts_for_limit ELSE FALSE END,
                          sending_worker = NULL,
                          write_date = now() AT TIME ZONE 'UTC'
                     FROM unnest(%(ids)s::int[], %(states)s::varchar[], %(pids)s::varchar[], %(codes)s::varchar[],
                                 %(reasons)s::varchar[], %(sent)s::timestamp[], %(failed)s::timestamp[],
                                 %(next)s::timestamp[], %(refunds)s::int[])
                          AS v(id, state, pid, code, reason, sent_at, failed_at, next_at, refund)
                    WHERE m.id = v.id AND m.state = 'sending' AND m.sending_worker = %(worker)s""",
                worker=worker,
                **columns,
            )
        )
        self.invalidate_model()

    @api.model
    def _after_outcome(self, message_ids, auto_commit):
        """Conversations, chatter and chat bookkeeping of messages that were
        just sent or failed (a separate transaction: the outcome is already
        safe)."""
        if not message_ids:
            return
        messages = self.sudo().browse(message_ids).exists()
        sent = messages.filtered(lambda m: m.state == "sent")
        self.env["spoki.conversation"]._link_messages(sent)
        messages._log_on_chatter()
        if auto_commit:
            self.env.cr.commit()

    # -- reconciliation -----------------------------------------------------

    @api.model
    def _reconcile_sending(self, auto_commit=True):
        """Messages left in ``sending`` by a worker that is gone (its session
        lock is free): settle them without ever sending twice."""
        cr = self.env.cr
        self.env.flush_all()
        workers = [
            worker
            for (worker,) in self.env.execute_query(
                SQL("SELECT DISTINCT sending_worker FROM spoki_message WHERE state = 'sending'")
            )
        ]
        for worker in workers:
            # Transaction-level: nothing to release by hand. Once free, the
            # id stays free (ids are random, never reused).
            cr.execute(SQL("SELECT pg_try_advisory_xact_lock(%s, %s)", LOCK_NS_WORKER, worker or 0))
            if not cr.fetchone()[0]:
                continue  # alive
            self._reconcile_worker(worker, auto_commit)

    @api.model
    def _reconcile_worker(self, worker, auto_commit):
        rows = self.env.execute_query_dict(
            SQL(
                """SELECT id, account_id, idempotency_key, attempt_at FROM spoki_message
                    WHERE state = 'sending' AND sending_worker IS NOT DISTINCT FROM %s""",
                worker,
            )
        )
        by_account = {}
        for row in rows:
            by_account.setdefault(row["account_id"], []).append(row)
        now = self._now()
        for account_id, account_rows in by_account.items():
            account = self.env["spoki.account"].sudo().browse(account_id)
            provider = account._get_provider(clock=self._clock())
            outcomes = []
            for row in account_rows:
                try:
                    found = provider.find_message(row["idempotency_key"]) if provider.supports_lookup else None
                except ProviderError as exc:
                    _logger.warning("WhatsApp: can't reconcile message %s yet: %s", row["id"], exc)
                    continue
                outcomes.append(
                    (row["id"], reconciled_outcome(provider.supports_lookup, found, row["attempt_at"], now))
                )
            self._write_outcomes(worker, outcomes)
            _logger.info("WhatsApp: reconciled %s interrupted sends of account %s", len(outcomes), account.display_name)
            if auto_commit:
                self.env.cr.commit()
            self._after_outcome([mid for mid, outcome in outcomes if outcome.settled], auto_commit)
