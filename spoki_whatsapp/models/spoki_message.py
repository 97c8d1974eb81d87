"""``spoki.message``: the WhatsApp message ledger.

States: ``queued`` → ``sending`` (attempt recorded, provider being called;
or, on Meta, ``outcome_unknown_since`` set: the answer was lost, the message
waits for the webhook carrying its key and is never sent again) → ``sent`` →
``delivered`` → ``read``; ``failed`` (error code + readable reason);
``received`` for incoming messages (``tools/vocabulary.py``).
Messages are never deleted by a cron (reports and tier counters read them);
archiving is an explicit action. The ledger is written only by the product's
own paths; they live beside it, each in a feature folder:

* ``send_queue/spoki_message.py``: the send queue (reserve, dispatch, record,
  reconcile) and ``send_queue/spoki_account.py``: the messaging limit;
* ``inbound/spoki_message.py``: status sync, status events, webhooks and
  incoming messages;
* this file: the fields, enqueueing single messages (chat, API) and the
  chatter log.
"""

import logging
import threading

from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, config
from odoo.tools.mail import generate_tracking_message_id
from odoo.tools.sql import create_index, drop_index, make_index_name
from odoo.tools.translate import LazyTranslate

from ..tools.phone import is_e164, normalize_phone
from ..tools.vocabulary import MESSAGE_STATES, STATE_TICKS

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)

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
    "pair_rate_limited": _lt(
        "WhatsApp limits how many messages one customer receives in a short time: this one is sent a bit later."
    ),
    "spam_rate_limited": _lt("WhatsApp's spam rate limit was hit: too many messages were blocked or reported."),
    "timeout": _lt("The provider did not answer in time."),
    "cancelled": _lt("The campaign was cancelled."),
    "internal": _lt("The send queue kept failing on this message (an internal error): it was not sent."),
}


def clock_allowed():
    """The context clock moves time only in tests: Odoo runs with
    ``--test-enable`` or the current thread is a test thread."""
    return bool(config["test_enable"] or getattr(threading.current_thread(), "testing", False))


def context_clock(env):
    """``context['spoki_clock']`` (a datetime, a string or a zero-argument
    callable returning one) when tests may move time, else None: in production
    a context clock sent by a client (RPC context) is ignored everywhere."""
    clock = env.context.get("spoki_clock")
    if not clock or not clock_allowed():
        return None
    return clock


def spoki_now(env):
    """Current time for the messaging engine: the test clock
    (:func:`context_clock`) lets tests move the 24-hour windows without
    sleeping; otherwise now (naive UTC)."""
    clock = context_clock(env)
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
        "Date",
        required=True,
        default=fields.Datetime.now,
        index=True,
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
        if not self._spoki_has_index(self._table, ["account_id", "message_date"]):
            # (the reports' covering index leads with the same columns: one
            # index less to write for every message then)
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
        create_index(cr, "spoki_message_sending_idx", self._table, ["sending_worker"], where="state = 'sending'")
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
        # The chunks whose outcomes are committed and whose bookkeeping
        # (conversations, chatter, chats) is still to do: one row per chunk,
        # written with the outcomes and deleted with the bookkeeping, read by
        # the reconciliation when its worker is gone (send_queue/). A few rows
        # at most, written and read only by the send queue in SQL: a table
        # without a model.
        cr.execute(
            """CREATE TABLE IF NOT EXISTS spoki_send_bookkeeping (
                   id serial PRIMARY KEY,
                   worker integer NOT NULL,
                   message_ids integer[] NOT NULL)"""
        )

    @api.model
    def _spoki_has_index(self, table, columns):
        """Whether ``table`` has a plain (not partial) index whose key starts
        with ``columns``, whatever its name."""
        return bool(
            self.env.execute_query(
                SQL(
                    """SELECT 1
                         FROM pg_index i
                         JOIN pg_class t ON t.oid = i.indrelid
                        WHERE t.relname = %s
                          AND i.indpred IS NULL
                          AND (SELECT array_agg(a.attname ORDER BY k.ord)
                                 FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
                                WHERE k.ord <= %s) = %s::name[]""",
                    table,
                    len(columns),
                    list(columns),
                )
            )
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

    @api.model_create_multi
    def create(self, vals_list):
        self._check_ledger_write()
        for vals in vals_list:
            if vals.get("wa_phone"):
                vals["wa_phone"] = self._normalize_number(vals["wa_phone"], vals.get("account_id"))
        return super().create(vals_list)

    def write(self, vals):
        self._check_ledger_write()
        if vals.get("wa_phone"):
            vals = dict(vals, wa_phone=self._normalize_number(vals["wa_phone"], self.account_id[:1].id))
        return super().write(vals)

    def unlink(self):
        self._check_ledger_write(
            self.env._("WhatsApp messages are a permanent ledger: archive them instead of deleting them.")
        )
        return super().unlink()

    def _check_ledger_write(self, message=None):
        """The ledger is written only by the product's own paths (enqueue,
        campaigns, the send queue, provider events), all with sudo() after
        their own checks: a plain create/write/unlink, by an agent or a
        manager, is refused whatever the access rights say. Forged rows
        (an incoming message opening a window, an opt-out confirmation, another
        sender, a state or a limit flag) would bypass the opt-out, the 24-hour
        rule and the tier limit."""
        if not self.env.su:
            raise AccessError(
                message
                or self.env._(
                    "WhatsApp messages are written only by WhatsApp itself (sending, the send queue, provider "
                    "events): they can't be created or changed by hand."
                )
            )

    @api.model
    def _normalize_number(self, number, account_id=None):
        """E.164 form of ``number`` (the account's company country for a
        national number), so that every comparison on numbers — opt-outs,
        windows, limits, chats — sees one spelling per person; unparsable
        input is kept as written (the queue fails it as an invalid number)."""
        number = str(number).strip()
        if is_e164(number):
            return number
        country = self.env["spoki.account"].sudo().browse(account_id).company_id.country_id if account_id else None
        return normalize_phone(number, country.code if country else None).e164 or number

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def _check_manager(self):
        """Ledger corrections (retry, archive) are for WhatsApp managers of the
        messages' company: checked as the user, then done with sudo()."""
        self.check_access("read")
        if not self.env.su and not self.env.user.has_group("spoki_whatsapp.group_spoki_manager"):
            raise AccessError(self.env._("Only WhatsApp managers can retry or archive WhatsApp messages."))

    def action_retry(self):
        """Put failed outgoing messages back in the queue (a new attempt,
        all rules checked again)."""
        self._check_manager()
        to_retry = self.sudo().filtered(lambda m: m.direction == "outgoing" and m.state == "failed")
        to_retry.write(
            {
                "state": "queued",
                "error_code": False,
                "error_message": False,
                "failed_at": False,
                "next_attempt_at": False,
                "attempt_count": 0,
            }
        )
        if to_retry:
            to_retry.account_id[:1]._spoki_trigger_send()
        return True

    def action_archive(self):
        self._check_manager()
        return super(SpokiMessage, self.sudo()).action_archive()

    def action_unarchive(self):
        self._check_manager()
        return super(SpokiMessage, self.sudo()).action_unarchive()

    def action_open_chat(self):
        self.ensure_one()
        self.check_access("read")
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
    def _auto_commit_default(self):
        """Crons commit their chunks; tests (a testing thread) never do."""
        return not getattr(threading.current_thread(), "testing", False)

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
        return self._enqueue(account, number, partner, user, dict(extra, kind="text", body=body.strip()))

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
        vals = {
            "kind": "template",
            "template_id": template.id,
            "lang": rendered["lang"],
            "body": rendered["body"],
            "template_params": rendered["params"],
        }
        return self._enqueue(account, number or partner.wa_phone, partner, user, vals)

    @api.model
    def _enqueue(self, account, number, partner, user, vals):
        """Create one queued outgoing message (chat priority) and wake the queue."""
        message = self.sudo().create(
            dict(
                vals,
                account_id=account.id,
                partner_id=partner.id if partner else False,
                wa_phone=number,
                direction="outgoing",
                state="queued",
                priority=10,
                user_id=(user or self.env.user).id,
                message_date=self._now(),
            )
        )
        account._spoki_trigger_send()
        return message

    # ------------------------------------------------------------
    # CHATTER
    # ------------------------------------------------------------

    def _chatter_body(self):
        self.ensure_one()
        _ = self.env._
        if self.direction == "incoming":
            title = _("WhatsApp message received from %(number)s", number=self.wa_phone)
        elif self.state == "failed":
            title = _(
                "WhatsApp message to %(number)s not sent: %(reason)s",
                number=self.wa_phone,
                reason=self.error_message or self.error_code or "",
            )
        elif self.kind == "template":
            title = _(
                "WhatsApp template “%(template)s” sent to %(number)s",
                template=self.template_id.name or "",
                number=self.wa_phone,
            )
        else:
            title = _("WhatsApp message sent to %(number)s", number=self.wa_phone)
        return Markup("<p><b>%s</b></p><p>%s</p>") % (title, Markup("<br/>").join(escape(self.body or "").split("\n")))

    def _log_on_chatter(self):
        """Log each message on its contact's chatter, as an internal note
        authored by the agent (outgoing) or the contact (incoming). Campaign
        messages are not logged: a 100,000-recipient campaign writes no
        ``mail.message`` (they are in the ledger, the reports and the
        contact's chat once the conversation becomes one).

        Up to ``spoki_whatsapp.chatter_sql_threshold`` messages (chat replies,
        incoming messages) go through ``mail.thread._message_log_batch``.
        Above (automation batches), the notes are written with one multi-row
        INSERT: the mail ORM sanitises every body and costs ~3 ms a note,
        more than the send itself; the bodies here are built from escaped
        text only (see ``_chatter_body``), no notification is due, so the
        rows are exactly what ``_message_log_batch`` would write."""
        if self.env.context.get("spoki_no_chatter"):
            return
        messages = self.filtered(lambda m: m.partner_id and not m.campaign_id)
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
                        "res.partner",
                        message.partner_id.id,
                        str(message._chatter_body()),
                        "comment",
                        note,
                        author_id,
                        email_from or None,
                        generate_tracking_message_id("message-notify"),
                        message.message_date,
                        self.env.uid,
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
