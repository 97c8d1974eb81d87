"""``spoki.webhook.inbox``: webhook bodies received, not applied yet.

The webhook route (``controllers/main.py``) verifies a request's signature,
stores its body here, commits and answers 200: nothing is lost if the server
dies after answering. The bodies are applied in bulk by the cron "WhatsApp:
apply webhooks" (triggered by the route: per process at once at most once a
second, and at the end of that second for what was stored meanwhile, so a
body waits a second at most; every minute as a backstop): many rows at once, the status events of
all of them in one set-based pass per account
(``spoki.message._apply_status_events``). A row is deleted in the
transaction that applied it; rows are claimed with ``FOR UPDATE SKIP
LOCKED``, so two servers applying at once never apply a row twice, and
applying the same body twice (providers retry) is harmless as before.

Bodies that carry more than statuses (incoming messages, template reviews:
people wait on those in Discuss) are applied by the route right after the
row is committed, in a transaction of their own; if that fails, the row
stays for the cron.

A body whose application fails is retried alone; if it fails alone, its
error is written on the row and the cron leaves it (``error``), so that it
never blocks the others. Errors of the moment (serialization failure,
deadlock, lock timeout) set nothing aside: the batch is rolled back and
tried again.

Written and read only by the webhook route and the cron through SQL: no
access for any user but a system administrator's read
(``security/ir.model.access.csv``), no log-access columns.
"""

import json
import logging
import time
from collections import defaultdict
from datetime import timedelta

import psycopg2

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools.throttle import WakeUps

_logger = logging.getLogger(__name__)

#: errors of the moment (serialization failure, deadlock, lock timeout): the
#: whole batch is rolled back and tried again, no row is set aside for them
TRANSIENT_ERRORS = (psycopg2.extensions.TransactionRollbackError, psycopg2.OperationalError)
#: tries of a batch that meets a transient error, in the cron
TRANSIENT_TRIES = 5

#: a cron trigger is a row and a new PostgreSQL connection for the NOTIFY
#: after the commit: per process, one trigger "now" a second at most, and one
#: at the end of that second for the bodies stored meanwhile
_TRIGGERS = WakeUps(1.0)
CRON_XMLID = "spoki_whatsapp.ir_cron_spoki_webhook_inbox_apply"


class SpokiWebhookInbox(models.Model):
    _name = "spoki.webhook.inbox"
    _description = "WhatsApp webhook received, not applied yet"
    _log_access = False
    _order = "id"

    account_id = fields.Many2one("spoki.account", "Account", required=True, ondelete="cascade", index=True)
    body = fields.Text(required=True, help="The verified body, as received.")
    received_at = fields.Datetime("Received on", required=True)
    error = fields.Char(help="Why applying this body failed; the cron leaves it.")

    # ------------------------------------------------------------
    # STORE (webhook route)
    # ------------------------------------------------------------

    @api.model
    def _store(self, cr, rows):
        """Insert verified bodies ``[(account id, body text)]`` with the
        cursor of the request (no ORM: the route runs without a user).
        Returns their ids; the caller commits."""
        cr.execute(
            SQL(
                """INSERT INTO spoki_webhook_inbox (account_id, body, received_at)
                   SELECT a, b, now() AT TIME ZONE 'UTC' FROM unnest(%s::int[], %s::text[]) AS v(a, b)
                RETURNING id""",
                [account_id for account_id, _body in rows],
                [body for _account_id, body in rows],
            )
        )
        return [row_id for (row_id,) in cr.fetchall()]

    @api.model
    def _trigger_apply(self):
        """Wake the apply cron for a body just stored (the caller commits):
        at once, or — if this process did so less than a second ago — at
        the end of that second, so that a body stored while a run ends waits
        a second at most, not the cron's minute (a run sees every row
        committed before it starts; a trigger made during a run outlives it)."""
        delay = _TRIGGERS.due(self.env.cr.dbname)
        if delay is None:
            return
        at = fields.Datetime.now() + timedelta(seconds=delay) if delay else None
        self.env.ref(CRON_XMLID).sudo()._trigger(at)

    # ------------------------------------------------------------
    # APPLY (cron)
    # ------------------------------------------------------------

    @api.model
    def _cron_apply(self, batch_size=None, time_budget=None):
        """Cron "WhatsApp: apply webhooks": apply the stored bodies in
        batches of ``batch_size`` rows (config parameter
        ``spoki_whatsapp.webhook_batch``, 500), committing after each, until
        none is left or ``time_budget`` seconds (``spoki_whatsapp.webhook_time_budget``,
        50) are spent, or a batch comes back short (the rest arrived
        meanwhile: the next trigger takes it); when the time budget ends it
        with rows left, the cron runs again at once."""
        Message = self.env["spoki.message"]
        batch_size = batch_size or Message._param("webhook_batch", 500)
        time_budget = time_budget if time_budget is not None else Message._param("webhook_time_budget", 50)
        auto_commit = Message._auto_commit_default()
        started = time.monotonic()
        done = 0
        while True:
            for attempt in range(1, TRANSIENT_TRIES + 1):
                try:
                    applied = self._apply_inbox(limit=batch_size)
                    if auto_commit:
                        self.env.cr.commit()
                    break
                except TRANSIENT_ERRORS:
                    if not auto_commit or attempt == TRANSIENT_TRIES:
                        raise
                    # as Odoo does for a request: the batch rolled back, tried again
                    self.env.cr.rollback()
                    self.env.invalidate_all(flush=False)
                    _logger.info("WhatsApp: applying webhooks met a concurrent update, trying again (%s)", attempt)
                    time.sleep(0.1 * attempt)
            done += applied
            # a short batch: what is left arrived meanwhile; the triggers of those stores (made
            # during this run, they outlive it) run the job again, with what follows by then:
            # chasing each arrival would apply them a few at a time, at a batch's cost each
            if applied < batch_size:
                remaining = 0
                break
            if time_budget and time.monotonic() - started > time_budget:
                self.env.cr.execute(SQL("SELECT count(*) FROM spoki_webhook_inbox WHERE error IS NULL"))
                remaining = self.env.cr.fetchone()[0]
                break
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        return done

    @api.model
    def _apply_inbox(self, limit=None, ids=None):
        """Claim up to ``limit`` stored bodies (or the rows ``ids``) that no
        other transaction holds, apply them and delete them — all in the
        current transaction: the caller commits. Returns the number of
        bodies applied (or set aside with their error)."""
        self.env.flush_all()
        where = SQL("error IS NULL")
        if ids is not None:
            where = SQL("%s AND id = ANY(%s)", where, list(ids))
        rows = self.env.execute_query(
            SQL(
                "SELECT id, account_id, body FROM spoki_webhook_inbox WHERE %s ORDER BY id %s FOR UPDATE SKIP LOCKED",
                where,
                SQL("LIMIT %s", limit) if limit else SQL(),
            )
        )
        if not rows:
            return 0
        try:
            with self.env.cr.savepoint():
                self._apply_rows(rows)
        except TRANSIENT_ERRORS:
            raise
        except Exception:  # noqa: BLE001 - one bad body must not block the others: each alone below
            self.env.invalidate_all(flush=False)
            _logger.warning("WhatsApp: a batch of %s webhooks failed, applying them one by one", len(rows))
            for row in rows:
                try:
                    with self.env.cr.savepoint():
                        self._apply_rows([row])
                except TRANSIENT_ERRORS:
                    raise
                except Exception as exc:  # noqa: BLE001 - kept aside with its error, the others go on
                    self.env.invalidate_all(flush=False)
                    _logger.exception("WhatsApp: webhook %s of account %s could not be applied", row[0], row[1])
                    self.env.cr.execute(
                        SQL(
                            "UPDATE spoki_webhook_inbox SET error = %s WHERE id = %s",
                            (str(exc) or type(exc).__name__)[:500],
                            row[0],
                        )
                    )
                    continue
        return len(rows)

    @api.model
    def _apply_rows(self, rows):
        """Apply the bodies ``[(id, account id, body)]`` and delete them:
        per account, the status events of all the bodies in one pass, then
        the incoming messages, then the template reviews in order."""
        Message = self.env["spoki.message"].sudo()
        Template = self.env["spoki.template"].sudo()
        by_account = defaultdict(list)
        for _row_id, account_id, body in rows:
            by_account[account_id].append(body)
        for account_id, bodies in by_account.items():
            account = self.env["spoki.account"].sudo().browse(account_id)
            provider = account._get_provider(clock=Message._clock())
            statuses, inbound, templates = [], [], []
            for body in bodies:
                try:
                    payload = json.loads(body)
                except ValueError:  # verified but not JSON: the route refused those (400), nothing to apply
                    continue
                some_statuses, some_inbound, some_templates = provider.parse_webhook(payload)
                statuses += some_statuses
                inbound += some_inbound
                templates += some_templates
            Message._apply_status_events(account, statuses)
            Message._receive_inbound(account, inbound)
            for item in templates:
                Template._apply_provider_status(
                    item.external_id, item.status, item.reason, account=account, timestamp=item.timestamp
                )
            _logger.info(
                "WhatsApp webhooks of account %s applied: %s bodies, %s statuses, %s messages, %s template events",
                account_id,
                len(bodies),
                len(statuses),
                len(inbound),
                len(templates),
            )
        self.env.flush_all()
        self.env.cr.execute(SQL("DELETE FROM spoki_webhook_inbox WHERE id = ANY(%s)", [row[0] for row in rows]))
