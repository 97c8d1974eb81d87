"""``spoki.message``: the WhatsApp message ledger and the send queue.

States: ``queued`` → ``sending`` (attempt recorded, provider being called)
→ ``sent`` → ``delivered`` → ``read``; ``failed`` (error code + readable
reason); ``received`` for incoming messages. Messages are never deleted by a
cron (reports and tier counters read them); archiving is an explicit action.

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
reconciles those messages: providers with idempotency keys (Spoki, sandbox)
are asked ``find_message(key)`` → found: ``sent``; not found: back to
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
from datetime import timedelta

import psycopg2
from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.sql_db import connection_info_for
from odoo.tools import SQL
from odoo.tools.mail import generate_tracking_message_id
from odoo.tools.sql import create_index, drop_index, make_index_name
from odoo.tools.translate import LazyTranslate

from ..tools.phone import normalize_phone
from ..tools.providers import MetaCloudProvider, ProviderError, get_provider
from ..tools.providers.meta import classify_meta_error
from .spoki_account_send import COUNTED_STATES, WINDOW

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)

MESSAGE_STATES = [
    ("queued", "Queued"),
    ("sending", "Sending"),
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("read", "Read"),
    ("failed", "Failed"),
    ("received", "Received"),
]
STATE_RANK = {"queued": 0, "sending": 0, "sent": 1, "delivered": 2, "read": 3}
#: State ticks shown in the chat (WhatsApp style).
STATE_TICKS = {
    "queued": "🕓",
    "sending": "🕓",
    "sent": "✓",
    "delivered": "✓✓",
    "read": "✓✓",
    "failed": "⚠",
    "received": "",
}
#: pg_advisory_lock namespace of send workers (arbitrary int4).
LOCK_NS_WORKER = 537111
#: Providers whose find_message(idempotency_key) is authoritative.
LOOKUP_PROVIDERS = ("sandbox", "spoki")
#: Permanent provider errors about the account, not the message: the message
#: goes back to the queue (attempt not consumed) and waits for a fix.
ACCOUNT_ERROR_CODES = ("auth", "config")
ACCOUNT_ERROR_DELAY = timedelta(minutes=10)

ERROR_REASONS = {
    "opted_out": _lt("The contact opted out of WhatsApp messages."),
    "invalid_number": _lt("The number is not a valid phone number."),
    "not_on_whatsapp": _lt("The number is not on WhatsApp."),
    "outside_window": _lt(
        "Free text can only be sent within 24 hours of the customer's last message: use an approved template."
    ),
    "template_not_approved": _lt("The template is not approved by WhatsApp."),
    "missing_values": _lt("Dynamic fields without a value."),
    "unknown_outcome": _lt(
        "The send was interrupted and the provider cannot confirm whether it received the message: "
        "it was not sent again, to avoid a duplicate."
    ),
    "max_attempts": _lt("The provider kept failing: gave up after the maximum number of attempts."),
    "empty_body": _lt("The message is empty."),
    "auth": _lt("The provider refused the credentials of the WhatsApp account."),
    "config": _lt("The WhatsApp account is not configured completely."),
    "rate_limited": _lt("The provider is rate limiting this account."),
    "spam_rate_limited": _lt("WhatsApp's spam rate limit was hit: too many messages were blocked or reported."),
    "timeout": _lt("The provider did not answer in time."),
    "cancelled": _lt("The campaign was cancelled."),
}


def spoki_now(env):
    """Current time for the messaging engine: ``context['spoki_clock']`` (a
    datetime or a zero-argument callable returning one) lets tests move the
    24-hour windows without sleeping; otherwise now (naive UTC)."""
    clock = env.context.get("spoki_clock")
    if callable(clock):
        return clock()
    if clock:
        return fields.Datetime.to_datetime(clock)
    return fields.Datetime.now()


class SpokiMessage(models.Model):
    """One WhatsApp message, outgoing or incoming: the permanent ledger reports
    and tier counters read (never deleted by a cron)."""

    _name = "spoki.message"
    _description = "WhatsApp message"
    _order = "message_date desc, id desc"
    _rec_name = "wa_phone"

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    # account_id, state, campaign_id: no single-column index, the composite
    # ones of init() lead with them (fewer indexes = faster bulk enqueue)
    account_id = fields.Many2one("spoki.account", required=True, ondelete="restrict")
    company_id = fields.Many2one(related="account_id.company_id", store=True, index=True)
    partner_id = fields.Many2one("res.partner", "Contact", ondelete="set null", index="btree_not_null")
    wa_phone = fields.Char("Number", required=True, help="E.164 number of the customer.")
    direction = fields.Selection(
        [("outgoing", "Outgoing"), ("incoming", "Incoming")], required=True, default="outgoing"
    )
    kind = fields.Selection([("template", "Template"), ("text", "Free text")], required=True, default="text")
    template_id = fields.Many2one("spoki.template", ondelete="restrict", index="btree_not_null")
    lang = fields.Char("Language")
    body = fields.Text("Rendered body")
    template_params = fields.Json(
        "Template parameters", help="Positional values ({{1}}, {{2}}…) sent with the template."
    )
    state = fields.Selection(MESSAGE_STATES, required=True, default="queued")
    error_code = fields.Char()
    error_message = fields.Char("Error")
    provider_message_id = fields.Char("Provider message ID", copy=False)
    idempotency_key = fields.Char(copy=False, readonly=True)
    campaign_id = fields.Many2one("spoki.campaign", ondelete="set null")
    conversation_id = fields.Many2one("spoki.conversation", ondelete="set null", index="btree_not_null")
    counts_for_limit = fields.Boolean(
        "Counts for the messaging limit",
        help="Business-initiated: outside a customer-opened 24-hour window. Replies inside the "
        "customer's window don't count towards the tier limit.",
    )
    message_date = fields.Datetime(
        "Date", required=True, default=fields.Datetime.now, index=True,
        help="When the message was sent (outgoing) or received (incoming); queue time until sent.",
    )
    sent_at = fields.Datetime()
    delivered_at = fields.Datetime()
    read_at = fields.Datetime()
    failed_at = fields.Datetime()
    received_at = fields.Datetime()
    attempt_count = fields.Integer(default=0)
    next_attempt_at = fields.Datetime()
    # queue bookkeeping
    active = fields.Boolean(default=True, help="Archived messages stay in reports; archiving is an admin action.")
    priority = fields.Integer(default=0, help="Higher first: chat replies go before campaign messages.")
    user_id = fields.Many2one("res.users", "Sent by", ondelete="set null")
    optout_confirmation = fields.Boolean(
        help="The confirmation of an opt-out request: the only message sent to an opted-out contact."
    )
    sending_worker = fields.Integer(copy=False, readonly=True, help="Send worker holding the attempt.")
    attempt_at = fields.Datetime("Last attempt", copy=False, readonly=True)
    status_checked_at = fields.Datetime(copy=False, readonly=True)
    state_tick = fields.Char("Status", compute="_compute_state_tick")

    _sql_constraints = [
        (
            "provider_message_uniq",
            "unique(account_id, provider_message_id)",
            "A provider message ID is unique per WhatsApp account.",
        ),
    ]

    def init(self):
        # Indexes for the reports, the tier counters, the chat and the queue.
        cr = self.env.cr
        for redundant in ("account_id", "state", "campaign_id"):
            drop_index(cr, make_index_name(self._table, redundant), self._table)
        create_index(cr, "spoki_message_account_date_idx", self._table, ["account_id", "message_date"])
        create_index(
            cr, "spoki_message_account_phone_date_idx", self._table, ["account_id", "wa_phone", "message_date"]
        )
        create_index(
            cr,
            "spoki_message_limit_idx",
            self._table,
            ["account_id", "message_date", "wa_phone"],
            where="counts_for_limit AND direction = 'outgoing'",
        )
        create_index(
            cr,
            "spoki_message_queue_idx",
            self._table,
            ["account_id", "priority DESC", "id"],
            where="state = 'queued'",
        )
        create_index(
            cr, "spoki_message_sending_idx", self._table, ["sending_worker"], where="state = 'sending'"
        )
        create_index(
            cr,
            "spoki_message_status_sync_idx",
            self._table,
            ["account_id", "status_checked_at"],
            where="state IN ('sent', 'delivered') AND provider_message_id IS NOT NULL",
        )
        create_index(
            cr,
            "spoki_message_campaign_state_idx",
            self._table,
            ["campaign_id", "state"],
            where="campaign_id IS NOT NULL",
        )

    # ------------------------------------------------------------
    # COMPUTE
    # ------------------------------------------------------------

    @api.depends("state", "direction")
    def _compute_state_tick(self):
        for message in self:
            message.state_tick = STATE_TICKS.get(message.state, "")

    @api.depends("wa_phone", "direction", "state")
    def _compute_display_name(self):
        for message in self:
            arrow = "←" if message.direction == "incoming" else "→"
            message.display_name = f"{arrow} {message.wa_phone or ''}"

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    def unlink(self):
        if not self.env.su and not self.env.user.has_group("base.group_system"):
            raise UserError(
                self.env._("WhatsApp messages are a permanent ledger: archive them instead of deleting them.")
            )
        return super().unlink()

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_retry(self):
        """Put failed outgoing messages back in the queue (a new attempt,
        all rules checked again)."""
        to_retry = self.filtered(lambda m: m.direction == "outgoing" and m.state == "failed")
        to_retry.write(
            {"state": "queued", "error_code": False, "error_message": False, "failed_at": False,
             "next_attempt_at": False, "attempt_count": 0}
        )
        if to_retry:
            to_retry.account_id[:1]._spoki_trigger_send()
        return True

    def action_open_chat(self):
        self.ensure_one()
        chat = self.env["spoki.chat"]._get_or_create(self.account_id, self.wa_phone, self.partner_id)
        return chat._action_open()

    # ------------------------------------------------------------
    # CLOCK / HELPERS
    # ------------------------------------------------------------

    @api.model
    def _now(self):
        return spoki_now(self.env)

    def _clock(self):
        """Zero-argument callable for provider clients (no database access)."""
        env = self.env
        return lambda: spoki_now(env)

    @api.model
    def _param(self, key, default):
        value = self.env["ir.config_parameter"].sudo().get_param(f"spoki_whatsapp.{key}")
        try:
            return int(value) if value not in (None, False, "") else default
        except ValueError:
            return default

    @api.model
    def _reason(self, code, detail=""):
        """Readable (translated) reason of an error code, with the provider's
        detail when it adds something."""
        base = ERROR_REASONS.get(code)
        text = str(base) if base else ""
        if detail and detail not in text:
            text = f"{text} ({detail})" if text else detail
        return (text or code or "")[:500]

    @api.model
    def _idempotency_prefix(self):
        uuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid", "") or ""
        return f"spk-{uuid[:8]}-"

    @api.model
    def _template_send_ref(self, template, provider_kind):
        """Name/id identifying the template at the provider."""
        if provider_kind == "spoki" and (template.external_id or "").isdigit():
            return template.external_id
        return template.provider_name or template.name

    # ------------------------------------------------------------
    # ENQUEUE (single messages: chat, API)
    # ------------------------------------------------------------

    @api.model
    def _enqueue_text(self, account, number, body, partner=None, user=None, check_window=True, **extra):
        """Queue a free-text message (chat reply). Outside the customer-service
        window it is refused here already (and again by the queue)."""
        if not (body or "").strip():
            raise UserError(self.env._("Write a message first."))
        if check_window and not account._open_window_numbers([number], self._now()):
            raise UserError(
                self.env._(
                    "The 24-hour customer-service window with %(number)s is closed: free text is not allowed. "
                    "Send an approved template instead.",
                    number=number,
                )
            )
        message = self.sudo().create(
            dict(
                {
                    "account_id": account.id,
                    "partner_id": partner.id if partner else False,
                    "wa_phone": number,
                    "direction": "outgoing",
                    "kind": "text",
                    "body": body.strip(),
                    "state": "queued",
                    "priority": 10,
                    "user_id": (user or self.env.user).id,
                    "message_date": self._now(),
                },
                **extra,
            )
        )
        account._spoki_trigger_send()
        return message

    @api.model
    def _enqueue_template(self, account, template, partner, payload=None, user=None, number=None):
        """Queue an approved template rendered for ``partner``."""
        template._check_sendable()
        rendered = template._render_for_partner(partner, payload)
        if rendered["missing"]:
            raise UserError(
                self.env._(
                    "These dynamic fields have no value for %(name)s: %(names)s",
                    name=partner.display_name,
                    names=", ".join(rendered["missing"]),
                )
            )
        message = self.sudo().create(
            {
                "account_id": account.id,
                "partner_id": partner.id,
                "wa_phone": number or partner.wa_phone,
                "direction": "outgoing",
                "kind": "template",
                "template_id": template.id,
                "lang": rendered["lang"],
                "body": rendered["body"],
                "template_params": rendered["params"],
                "state": "queued",
                "priority": 10,
                "user_id": (user or self.env.user).id,
                "message_date": self._now(),
            }
        )
        account._spoki_trigger_send()
        return message

    # ------------------------------------------------------------
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
    def _auto_commit_default(self):
        return not getattr(threading.current_thread(), "testing", False)

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
        full_filter = SQL()
        if remaining == 0:
            # Only numbers that cost nothing: already counted in the window,
            # or whose customer-service window is open.
            full_filter = SQL(
                """AND (EXISTS (SELECT 1 FROM spoki_message m2 WHERE %s AND m2.wa_phone = m.wa_phone)
                        OR EXISTS (SELECT 1 FROM spoki_message i
                                    WHERE i.account_id = m.account_id AND i.direction = 'incoming'
                                      AND i.wa_phone = m.wa_phone AND i.message_date > %s))""",
                SQL(
                    """m2.account_id = ANY(%s) AND m2.counts_for_limit AND m2.direction = 'outgoing'
                       AND m2.state IN %s AND m2.message_date > %s""",
                    account._limit_group_ids(),
                    COUNTED_STATES,
                    now - WINDOW,
                ),
                now - WINDOW,
            )
        cr.execute(
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
                full_filter,
                batch_size,
            )
        )
        rows = cr.dictfetchall()
        if not rows:
            next_free = account._limit_next_free_at(now) if remaining == 0 else None
            if auto_commit:
                cr.commit()
            return [], 0, next_free

        numbers = {row["wa_phone"] for row in rows}
        # the contact's stored validity when the number is the contact's;
        # otherwise parse it
        valid = {row["wa_phone"]: True for row in rows if row["partner_valid"]}
        for number in numbers - set(valid):
            valid[number] = normalize_phone(number, None).valid
        cr.execute(
            SQL(
                "SELECT DISTINCT wa_phone FROM res_partner WHERE wa_opt_out AND wa_phone = ANY(%s)",
                list(numbers),
            )
        )
        opted_out = {row[0] for row in cr.fetchall()}
        windows = account._open_window_numbers(numbers, now)
        template_ids = list({row["template_id"] for row in rows if row["template_id"]})
        approved = set()
        if template_ids:
            cr.execute(
                SQL(
                    "SELECT id FROM spoki_template WHERE id = ANY(%s) AND state = 'approved' AND active",
                    template_ids,
                )
            )
            approved = {row[0] for row in cr.fetchall()}


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

        allowed, _blocked = account._reserve_recipients(
            [row["wa_phone"] for row in candidates if row["counts"]], now
        )
        to_send = [row for row in candidates if not row["counts"] or row["wa_phone"] in allowed]
        if failures:
            cr.execute_values(
                """UPDATE spoki_message AS m
                      SET state = 'failed', error_code = v.code, error_message = v.reason,
                          failed_at = v.now, message_date = v.now, counts_for_limit = FALSE,
                          write_date = v.now
                     FROM (VALUES %s) AS v(id, code, reason, now)
                    WHERE m.id = v.id""",
                [(mid, code, self._reason(code), now) for mid, code in failures],
                template="(%s::int, %s::varchar, %s::varchar, %s::timestamp)",
                page_size=1000,
            )
        reserved = []
        if to_send:
            prefix = self._idempotency_prefix()
            cr.execute_values(
                """UPDATE spoki_message AS m
                      SET state = 'sending', sending_worker = v.worker, attempt_at = v.now,
                          message_date = v.now, attempt_count = m.attempt_count + 1,
                          counts_for_limit = v.counts,
                          idempotency_key = COALESCE(m.idempotency_key, v.prefix || m.id::varchar),
                          write_date = v.now
                     FROM (VALUES %s) AS v(id, counts, worker, now, prefix)
                    WHERE m.id = v.id""",
                [(row["id"], row["counts"], worker, now, prefix) for row in to_send],
                template="(%s::int, %s::boolean, %s::int, %s::timestamp, %s::varchar)",
                page_size=1000,
            )
            cr.execute(
                SQL(
                    """SELECT id, wa_phone, kind, body, template_id, lang, template_params,
                              idempotency_key, attempt_count, partner_id
                         FROM spoki_message WHERE id = ANY(%s) ORDER BY priority DESC, id""",
                    [row["id"] for row in to_send],
                )
            )
            reserved = cr.dictfetchall()
        self.invalidate_model()
        if auto_commit:
            cr.commit()
        if failures:
            self._after_outcome([mid for mid, _code in failures], auto_commit)
        next_free = None
        if not reserved and not failures:
            next_free = account._limit_next_free_at(now)
        return reserved, len(reserved) + len(failures), next_free

    # -- dispatch -----------------------------------------------------------

    @api.model
    def _dispatch(self, account, rows, worker, auto_commit):
        """Steps 2 and 3: call the provider for ``rows`` (reserved by
        ``worker``) and record the outcomes, committing every chunk."""
        kind = account.provider
        config = account._provider_config()
        clock = self._clock()
        templates = {
            template.id: (self._template_send_ref(template, kind), template)
            for template in self.env["spoki.template"].sudo().with_context(active_test=False).browse(
                {row["template_id"] for row in rows if row["template_id"]}
            )
        }
        from .spoki_template import provider_lang_code

        local = threading.local()

        def call(row):
            provider = getattr(local, "provider", None)
            if provider is None:
                provider = local.provider = get_provider(kind, config, clock=clock)
            try:
                if row["kind"] == "template":
                    ref, _template = templates[row["template_id"]]
                    params = row["template_params"] or []
                    if isinstance(params, str):
                        params = json.loads(params)
                    result = provider.send_template(
                        row["wa_phone"], ref, provider_lang_code(row["lang"]), params, row["idempotency_key"]
                    )
                else:
                    result = provider.send_text(row["wa_phone"], row["body"] or "", row["idempotency_key"])
                return row, result, None
            except ProviderError as exc:
                return row, None, exc
            except Exception:  # noqa: BLE001 - outcome unknown: left to the reconciliation
                _logger.exception("WhatsApp send of message %s failed unexpectedly", row["id"])
                return row, None, None

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
                outcomes = []
                now = self._now()
                for row, result, error in results:
                    if result is not None:
                        outcomes.append((row["id"], "sent", result.message_id, None, None, now, None, None, 0))
                    elif error is None:
                        continue  # unknown: stays 'sending' for the reconciliation
                    else:
                        error_codes.add(error.code)
                        detail = str(error)[:300]
                        if error.code in ACCOUNT_ERROR_CODES:
                            outcomes.append(
                                (row["id"], "queued", None, error.code, self._reason(error.code, detail),
                                 None, None, now + ACCOUNT_ERROR_DELAY, 1)
                            )
                        elif error.temporary and row["attempt_count"] < max_attempts:
                            delay = min(base_delay * 2 ** (row["attempt_count"] - 1), 3600)
                            outcomes.append(
                                (row["id"], "queued", None, error.code, self._reason(error.code, detail),
                                 None, None, now + timedelta(seconds=delay), 0)
                            )
                        elif error.temporary:
                            outcomes.append(
                                (row["id"], "failed", None, "max_attempts",
                                 self._reason("max_attempts", detail), None, now, None, 0)
                            )
                        else:
                            outcomes.append(
                                (row["id"], "failed", None, error.code, self._reason(error.code, detail),
                                 None, now, None, 0)
                            )
                self._write_outcomes(worker, outcomes)
                if auto_commit:
                    self.env.cr.commit()
                self._after_outcome([o[0] for o in outcomes if o[1] in ("sent", "failed")], auto_commit)
        finally:
            if executor:
                executor.shutdown(wait=True)
        if error_codes:
            account._on_provider_errors(error_codes)

    @api.model
    def _write_outcomes(self, worker, outcomes):
        """Record provider outcomes of this worker's ``sending`` messages.
        outcome: (id, state, provider id, error code, reason, sent_at,
        failed_at, next_attempt_at, refund_attempt)."""
        if not outcomes:
            return
        pids = [o[2] for o in outcomes if o[2]]
        if pids:
            # A provider id already used by another message of the account
            # (a provider reusing ids) can't be stored twice: keep the outcome
            # without the id rather than lose the whole chunk.
            self.env.cr.execute(
                SQL(
                    """SELECT provider_message_id FROM spoki_message
                        WHERE account_id = (SELECT account_id FROM spoki_message WHERE id = %s)
                          AND provider_message_id = ANY(%s)""",
                    outcomes[0][0],
                    pids,
                )
            )
            taken = {row[0] for row in self.env.cr.fetchall()}
            if taken:
                _logger.warning("WhatsApp: provider message ids already used, not stored: %s", sorted(taken))
                outcomes = [o[:2] + (None,) + o[3:] if o[2] in taken else o for o in outcomes]
        self.env.cr.execute_values(
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
                 FROM (VALUES %s) AS v(id, state, pid, code, reason, sent_at, failed_at, next_at, refund)
                WHERE m.id = v.id AND m.state = 'sending' AND m.sending_worker = """
            + str(int(worker)),
            outcomes,
            template="(%s::int, %s::varchar, %s::varchar, %s::varchar, %s::varchar, %s::timestamp, "
            "%s::timestamp, %s::timestamp, %s::int)",
            page_size=1000,
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
        cr.execute("SELECT DISTINCT sending_worker FROM spoki_message WHERE state = 'sending'")
        workers = [row[0] for row in cr.fetchall()]
        for worker in workers:
            # Transaction-level: nothing to release by hand. Once free, the
            # id stays free (ids are random, never reused).
            cr.execute(SQL("SELECT pg_try_advisory_xact_lock(%s, %s)", LOCK_NS_WORKER, worker or 0))
            if not cr.fetchone()[0]:
                continue  # alive
            self._reconcile_worker(worker, auto_commit)

    @api.model
    def _reconcile_worker(self, worker, auto_commit):
        cr = self.env.cr
        cr.execute(
            SQL(
                """SELECT id, account_id, idempotency_key, attempt_at FROM spoki_message
                    WHERE state = 'sending' AND sending_worker IS NOT DISTINCT FROM %s""",
                worker,
            )
        )
        rows = cr.dictfetchall()
        by_account = {}
        for row in rows:
            by_account.setdefault(row["account_id"], []).append(row)
        now = self._now()
        for account_id, account_rows in by_account.items():
            account = self.env["spoki.account"].sudo().browse(account_id)
            provider = account._get_provider(clock=self._clock())
            outcomes = []
            for row in account_rows:
                if account.provider not in LOOKUP_PROVIDERS:
                    outcomes.append(
                        (row["id"], "failed", None, "unknown_outcome", self._reason("unknown_outcome"),
                         None, now, None, 0)
                    )
                    continue
                try:
                    found = provider.find_message(row["idempotency_key"])
                except ProviderError as exc:
                    _logger.warning("WhatsApp: can't reconcile message %s yet: %s", row["id"], exc)
                    continue
                if found:
                    outcomes.append((row["id"], "sent", found, None, None, row["attempt_at"] or now, None, None, 0))
                else:
                    # The provider never got it: back in the queue, the
                    # attempt not consumed.
                    outcomes.append((row["id"], "queued", None, None, None, None, None, None, 1))
            self._write_outcomes(worker, outcomes)
            _logger.info(
                "WhatsApp: reconciled %s interrupted sends of account %s", len(outcomes), account.display_name
            )
            if auto_commit:
                cr.commit()
            self._after_outcome([o[0] for o in outcomes if o[1] in ("sent", "failed")], auto_commit)

    # -- chatter ------------------------------------------------------------

    def _chatter_body(self):
        self.ensure_one()
        _ = self.env._
        if self.direction == "incoming":
            title = _("WhatsApp message received from %(number)s", number=self.wa_phone)
        elif self.state == "failed":
            title = _("WhatsApp message to %(number)s not sent: %(reason)s", number=self.wa_phone,
                      reason=self.error_message or self.error_code or "")
        elif self.kind == "template":
            title = _("WhatsApp template “%(template)s” sent to %(number)s",
                      template=self.template_id.name or "", number=self.wa_phone)
        else:
            title = _("WhatsApp message sent to %(number)s", number=self.wa_phone)
        return Markup("<p><b>%s</b></p><p>%s</p>") % (title, Markup("<br/>").join(escape(self.body or "").split("\n")))

    def _log_on_chatter(self):
        """Log each message on its contact's chatter, as an internal note
        authored by the agent (outgoing) or the contact (incoming).

        Up to ``spoki_whatsapp.chatter_sql_threshold`` messages (chat replies,
        incoming messages) go through ``mail.thread._message_log_batch``.
        Above (campaign batches), the notes are written with one multi-row
        INSERT: the mail ORM sanitises every body and costs ~3 ms a note,
        more than the send itself; the bodies here are built from escaped
        text only (see ``_chatter_body``), no notification is due, so the
        rows are exactly what ``_message_log_batch`` would write."""
        if self.env.context.get("spoki_no_chatter"):
            return
        messages = self.filtered("partner_id")
        if not messages:
            return
        root = self.env.ref("base.partner_root").id
        groups = {}
        for message in messages:
            author = message.user_id.partner_id if message.direction == "outgoing" else message.partner_id
            groups.setdefault(author.id or root, []).append(message)
        Partner = self.env["res.partner"].sudo()
        if len(messages) <= self._param("chatter_sql_threshold", 50):
            for author_id, author_messages in groups.items():
                bodies = {}
                for message in author_messages:
                    key = message.partner_id.id
                    body = message._chatter_body()
                    bodies[key] = bodies[key] + body if key in bodies else body
                # _message_log_batch escapes plain strings: pass Markup.
                Partner.browse(list(bodies))._message_log_batch(
                    {pid: Markup(body) for pid, body in bodies.items()}, author_id=author_id, message_type="comment"
                )
            return
        note = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note")
        rows = []
        for author_id, author_messages in groups.items():
            _author, email_from = Partner._message_compute_author(author_id, None, raise_on_email=False)
            for message in author_messages:
                rows.append(
                    (
                        "res.partner", message.partner_id.id, str(message._chatter_body()), "comment", note,
                        author_id, email_from or None, generate_tracking_message_id("message-notify"),
                        message.message_date, self.env.uid,
                    )
                )
        self.env.cr.execute_values(
            """INSERT INTO mail_message (model, res_id, body, message_type, subtype_id, author_id, email_from,
                                         message_id, date, create_uid, write_uid, create_date, write_date,
                                         is_internal, email_add_signature, reply_to_force_new)
               SELECT v.model, v.res_id, v.body, v.mtype, v.subtype, v.author, v.email_from, v.mid, v.date,
                      v.uid, v.uid, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC', TRUE, FALSE, FALSE
                 FROM (VALUES %s) AS v(model, res_id, body, mtype, subtype, author, email_from, mid, date, uid)""",
            rows,
            template="(%s::varchar, %s::int, %s::text, %s::varchar, %s::int, %s::int, %s::varchar, %s::varchar, "
            "%s::timestamp, %s::int)",
            page_size=1000,
        )
        self.env["mail.message"].invalidate_model()
        Partner.browse({m.partner_id.id for m in messages}).invalidate_recordset(["message_ids"])

    # ------------------------------------------------------------
    # STATUS SYNC (cron) AND STATUS EVENTS (webhook)
    # ------------------------------------------------------------

    @api.model
    def _cron_sync_statuses(self):
        """Cron "WhatsApp: status sync": poll the provider for the statuses
        of messages sent and not final (providers that support polling; Meta
        pushes them by webhook). Each message is polled at most once per run;
        messages sent more than ``status_poll_days`` days ago are no longer
        polled."""
        done, remaining = self._sync_statuses()
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)

    @api.model
    def _sync_statuses(self, batch_size=500, auto_commit=None, time_budget=None, accounts=None):
        auto_commit = self._auto_commit_default() if auto_commit is None else auto_commit
        time_budget = time_budget if time_budget is not None else self._param("send_time_budget", 10)
        started = time.monotonic()
        cr = self.env.cr
        now = self._now()
        since = now - timedelta(days=self._param("status_poll_days", 7))
        done, out_of_time = 0, False
        accounts = accounts.sudo() if accounts is not None else self.env["spoki.account"].sudo().search([])
        for account in accounts:
            provider = account._get_provider(clock=self._clock())
            if not provider.supports_status_polling:
                continue
            while True:
                self.env.flush_all()
                cr.execute(
                    SQL(
                        """SELECT id, provider_message_id FROM spoki_message
                            WHERE account_id = %s AND state IN ('sent', 'delivered')
                              AND provider_message_id IS NOT NULL AND sent_at > %s
                              AND (status_checked_at IS NULL OR status_checked_at < %s)
                         ORDER BY status_checked_at NULLS FIRST, id
                            LIMIT %s FOR UPDATE SKIP LOCKED""",
                        account.id,
                        since,
                        now,
                        batch_size,
                    )
                )
                rows = cr.fetchall()
                if not rows:
                    break
                try:
                    events = provider.get_statuses([pid for _id, pid in rows])
                except ProviderError as exc:
                    _logger.warning("WhatsApp status sync of %s failed: %s", account.display_name, exc)
                    break
                cr.execute(
                    SQL("UPDATE spoki_message SET status_checked_at = %s WHERE id = ANY(%s)",
                        now, [row[0] for row in rows])
                )
                self._apply_status_events(account, events)
                done += len(rows)
                if auto_commit:
                    cr.commit()
                if time_budget and time.monotonic() - started > time_budget:
                    out_of_time = True
                    break
            if out_of_time:
                break
        remaining = 0
        if out_of_time:
            cr.execute(
                SQL(
                    """SELECT COUNT(*) FROM spoki_message WHERE state IN ('sent', 'delivered')
                        AND provider_message_id IS NOT NULL AND sent_at > %s
                        AND (status_checked_at IS NULL OR status_checked_at < %s)""",
                    since,
                    now,
                )
            )
            remaining = cr.fetchone()[0]
        self.invalidate_model()
        return done, remaining

    @api.model
    def _status_error(self, event):
        """(our error code, readable reason) of a ``failed`` status event:
        Meta's numeric codes (131026, 131048…) are mapped like send errors
        ('invalid_number', 'spam_rate_limited'…), the original code kept in
        the reason."""
        raw = (event.error_code or "").strip()
        detail = event.error_message or ""
        code = raw or "failed"
        if raw.isdigit():
            _cls, code = classify_meta_error(raw, detail)
            detail = f"{detail} (#{raw})" if detail else f"#{raw}"
        return code, self._reason(code, detail)

    @api.model
    def _apply_status_events(self, account, events):
        """Apply provider status events to this account's outgoing messages,
        idempotently and whatever their order: a state never goes back
        (``read`` before ``delivered`` keeps ``read`` and sets
        ``delivered_at``), timestamps keep the first value, unknown ids are
        ignored, ``failed`` only applies to messages not yet delivered.
        Returns the number of messages changed."""
        if not events:
            return 0
        cr = self.env.cr
        self.env.flush_all()
        by_status = {}
        for event in events:
            if not event.message_id:
                continue
            current = by_status.setdefault(event.status, {})
            known = current.get(event.message_id)
            if known is None or event.timestamp < known.timestamp:
                current[event.message_id] = event
        changed = 0
        for status in ("sent", "delivered", "read"):
            items = by_status.get(status)
            if not items:
                continue
            rank = STATE_RANK[status]
            cr.execute_values(
                f"""UPDATE spoki_message AS m
                       SET sent_at = COALESCE(m.sent_at, v.ts),
                           delivered_at = CASE WHEN {rank} >= 2 THEN COALESCE(m.delivered_at, v.ts)
                                               ELSE m.delivered_at END,
                           read_at = CASE WHEN {rank} >= 3 THEN COALESCE(m.read_at, v.ts) ELSE m.read_at END,
                           state = CASE WHEN m.state IN ('sending', 'queued', 'sent', 'delivered', 'read')
                                         AND (CASE m.state WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2
                                                            WHEN 'read' THEN 3 ELSE 0 END) < {rank}
                                        THEN '{status}' ELSE m.state END,
                           write_date = now() AT TIME ZONE 'UTC'
                      FROM (VALUES %s) AS v(pid, ts)
                     WHERE m.account_id = {int(account.id)} AND m.direction = 'outgoing'
                       AND m.provider_message_id = v.pid
                       AND m.state IN ('sending', 'sent', 'delivered', 'read')""",
                [(pid, event.timestamp) for pid, event in items.items()],
                template="(%s::varchar, %s::timestamp)",
                page_size=1000,
            )
            changed += cr.rowcount
        failed = by_status.get("failed")
        if failed:
            rows, codes = [], set()
            for pid, event in failed.items():
                code, reason = self._status_error(event)
                codes.add(code)
                rows.append((pid, event.timestamp, code, reason))
            cr.execute_values(
                f"""UPDATE spoki_message AS m
                       SET state = 'failed', failed_at = COALESCE(m.failed_at, v.ts),
                           error_code = v.code, error_message = v.reason,
                           write_date = now() AT TIME ZONE 'UTC'
                      FROM (VALUES %s) AS v(pid, ts, code, reason)
                     WHERE m.account_id = {int(account.id)} AND m.direction = 'outgoing'
                       AND m.provider_message_id = v.pid AND m.state IN ('sending', 'sent')""",
                rows,
                template="(%s::varchar, %s::timestamp, %s::varchar, %s::varchar)",
                page_size=1000,
            )
            changed += cr.rowcount
            account._on_provider_errors(codes)
        self.invalidate_model()
        return changed

    # ------------------------------------------------------------
    # INBOUND
    # ------------------------------------------------------------

    @api.model
    def _process_webhook(self, account, payload):
        """Apply a (signature-checked) webhook payload of ``account``:
        statuses, incoming messages, template status changes."""
        provider = account._get_provider(clock=self._clock())
        parser = provider if provider.kind in ("meta", "spoki") else MetaCloudProvider({})
        statuses, inbound, templates = parser.parse_webhook(payload)
        self._apply_status_events(account, statuses)
        self._receive_inbound(account, inbound)
        Template = self.env["spoki.template"].sudo()
        if templates and hasattr(Template, "_apply_provider_status"):
            for item in templates:
                Template._apply_provider_status(item.external_id, item.status, item.reason)
        return len(statuses), len(inbound), len(templates)

    @api.model
    def _match_partners(self, account, numbers):
        """{number: partner} for incoming numbers: the oldest active contact
        with that WhatsApp number visible to the account's company (several
        contacts may share a number: the choice is predictable), else a new
        contact."""
        Partner = self.env["res.partner"].sudo()
        found = {}
        for partner in Partner.search(
            [("wa_phone", "in", list(numbers)), ("company_id", "in", [False, account.company_id.id])],
            order="id",
        ):
            found.setdefault(partner.wa_phone, partner)
        return found

    @api.model
    def _receive_inbound(self, account, inbound):
        """Store incoming messages (once per provider id), match or create
        the contacts, open the conversation and the customer-service window,
        handle opt-out keywords, log on the chatter and in the chat."""
        inbound = [item for item in inbound if item.message_id and item.from_number]
        if not inbound:
            return self.browse()
        existing = set(
            self.sudo()
            .with_context(active_test=False)
            .search([("account_id", "=", account.id), ("provider_message_id", "in", [i.message_id for i in inbound])])
            .mapped("provider_message_id")
        )
        fresh, seen = [], set()
        for item in sorted(inbound, key=lambda i: i.timestamp):
            if item.message_id in existing or item.message_id in seen:
                continue
            seen.add(item.message_id)
            fresh.append(item)
        if not fresh:
            return self.browse()
        numbers = {}
        for item in fresh:
            e164 = normalize_phone(item.from_number, None).e164 or item.from_number
            numbers[item.message_id] = e164
        partners = self._match_partners(account, set(numbers.values()))
        # unknown numbers: one new contact each, created in one batch
        new_contacts = {}
        for item in fresh:
            number = numbers[item.message_id]
            if number not in partners and number not in new_contacts:
                new_contacts[number] = {
                    "name": item.profile_name or number,
                    "mobile": number,
                    "company_id": account.company_id.id,
                }
        if new_contacts:
            created = self.env["res.partner"].sudo().create(list(new_contacts.values()))
            partners.update(zip(new_contacts, created))
        messages = self.sudo().create(
            [
                {
                    "account_id": account.id,
                    "partner_id": partners[numbers[item.message_id]].id,
                    "wa_phone": numbers[item.message_id],
                    "direction": "incoming",
                    "kind": "text",
                    "body": item.text,
                    "state": "received",
                    "provider_message_id": item.message_id,
                    "message_date": item.timestamp,
                    "received_at": item.timestamp,
                    "counts_for_limit": False,
                }
                for item in fresh
            ]
        )
        self.env["spoki.conversation"]._link_messages(messages)
        messages._log_on_chatter()
        Chat = self.env["spoki.chat"].sudo()
        for message in messages:
            Chat._get_or_create(account, message.wa_phone, message.partner_id)._touch(message)
        for message in messages:
            if message.partner_id._spoki_is_optout_keyword(message.body):
                message.partner_id._spoki_opt_out_by_keyword(message)
        return messages
