"""``spoki.campaign``: a template sent to lists, tags and a filter, under the
messaging limit. Starting one renders and enqueues every recipient in SQL
(COPY into a temporary table, one INSERT … SELECT); the send queue does the
rest. ~520 lines: one model, kept whole.
"""

import io
import json
import logging
import time

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL
from odoo.tools.safe_eval import safe_eval

_logger = logging.getLogger(__name__)

RENDER_CHUNK = 5000


class SpokiCampaign(models.Model):
    """A campaign: one approved template sent to the contacts of lists, tags
    and/or a domain (union), one message per WhatsApp number.

    Start enqueues every message at once (SQL, no ORM create loop); the send
    queue then sends them under the tier limit. Pause keeps the queued
    messages where they are (the queue skips them), resume lets the queue take
    them again, cancel removes the messages not sent yet."""

    _name = "spoki.campaign"
    _description = "WhatsApp campaign"
    _inherit = ["mail.thread"]
    _order = "id desc"

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    name = fields.Char(required=True, tracking=True)
    account_id = fields.Many2one(
        "spoki.account",
        "WhatsApp account",
        required=True,
        ondelete="restrict",
        index=True,
        default=lambda self: self.env["spoki.account"].search([("company_id", "=", self.env.company.id)], limit=1),
    )
    company_id = fields.Many2one(related="account_id.company_id", store=True, index=True)
    template_id = fields.Many2one(
        "spoki.template",
        ondelete="restrict",
        tracking=True,
        domain="[('account_id', '=', account_id), ('state', '=', 'approved')]",
        help="Only templates approved by WhatsApp can be sent.",
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("scheduled", "Scheduled"),
            ("running", "Running"),
            ("paused", "Paused"),
            ("done", "Done"),
            ("cancelled", "Cancelled"),
        ],
        default="draft",
        required=True,
        tracking=True,
        copy=False,
    )
    # recipients
    list_ids = fields.Many2many("spoki.list", string="Lists")
    tag_ids = fields.Many2many("res.partner.category", string="Tags")
    use_partner_domain = fields.Boolean(
        "Add contacts matching a filter",
        help="Also send to the contacts matching the filter below (in addition to lists and tags).",
    )
    partner_domain = fields.Char(
        "Contacts matching",
        default="[]",
        help="Contacts matching this filter are added to those of the lists and tags.",
    )
    value_ids = fields.One2many(
        "spoki.campaign.value",
        "campaign_id",
        "Values",
        copy=True,
        help="Values of dynamic fields not stored on contacts (OFF), the same for every recipient.",
    )
    scheduled_at = fields.Datetime("Start at", tracking=True, copy=False, help="Leave empty to start right away.")
    started_at = fields.Datetime(readonly=True, copy=False)
    done_at = fields.Datetime("Finished at", readonly=True, copy=False)
    pause_reason = fields.Text(readonly=True, copy=False, tracking=True)
    # figures fixed at start
    recipient_count = fields.Integer("Messages queued at start", readonly=True, copy=False)
    duplicate_count = fields.Integer("Duplicate numbers", readonly=True, copy=False)
    excluded_optout_count = fields.Integer("Opted out (excluded)", readonly=True, copy=False)
    excluded_invalid_count = fields.Integer("Invalid numbers (excluded)", readonly=True, copy=False)
    excluded_missing_count = fields.Integer("Missing values (excluded)", readonly=True, copy=False)
    cancelled_count = fields.Integer("Not sent (cancelled)", readonly=True, copy=False)
    enqueue_seconds = fields.Float("Enqueue time (s)", readonly=True, copy=False, digits=(16, 2))
    # live counters (SQL on the messages)
    queued_count = fields.Integer("Queued", compute="_compute_counters")
    sent_count = fields.Integer("Messages sent", compute="_compute_counters")
    delivered_count = fields.Integer("Messages delivered", compute="_compute_counters")
    read_count = fields.Integer("Messages read", compute="_compute_counters")
    failed_count = fields.Integer("Failed messages", compute="_compute_counters")
    progress = fields.Float(compute="_compute_counters", help="Share of the messages no longer queued.")
    estimated_count = fields.Integer("Recipients (estimate)", compute="_compute_estimated_count")
    limit_blocked_until = fields.Datetime(
        "Messaging limit reached until",
        compute="_compute_limit_blocked_until",
        help="The account reached its unique-users limit of the last 24 hours: the queued messages "
        "go out from this time on.",
    )

    # ------------------------------------------------------------
    # COMPUTE
    # ------------------------------------------------------------

    def _compute_counters(self):
        counts = {}
        ids = [cid for cid in self.ids if cid]
        if ids:
            self.env["spoki.message"].flush_model(["campaign_id", "state"])
            self.env.cr.execute(
                SQL(
                    """SELECT campaign_id, state, COUNT(*) FROM spoki_message
                        WHERE campaign_id = ANY(%s) GROUP BY campaign_id, state""",
                    ids,
                )
            )
            for campaign_id, state, count in self.env.cr.fetchall():
                counts.setdefault(campaign_id, {})[state] = count
        for campaign in self:
            by_state = counts.get(campaign.id, {})
            campaign.queued_count = by_state.get("queued", 0) + by_state.get("sending", 0)
            campaign.read_count = by_state.get("read", 0)
            campaign.delivered_count = by_state.get("delivered", 0) + campaign.read_count
            campaign.sent_count = by_state.get("sent", 0) + campaign.delivered_count
            campaign.failed_count = by_state.get("failed", 0)
            total = sum(by_state.values())
            campaign.progress = 100.0 * (total - campaign.queued_count) / total if total else 0.0

    def _compute_limit_blocked_until(self):
        for campaign in self:
            blocked = False
            if campaign.state == "running" and campaign.queued_count and campaign.account_id:
                account = campaign.account_id.sudo()
                if account._limit_remaining() == 0:
                    blocked = account._limit_next_free_at()
            campaign.limit_blocked_until = blocked

    @api.depends("list_ids", "tag_ids", "partner_domain", "use_partner_domain", "account_id")
    def _compute_estimated_count(self):
        for campaign in self:
            if campaign.state not in ("draft", "scheduled"):
                campaign.estimated_count = campaign.recipient_count
                continue
            try:
                selection = campaign._select_recipients()
            except UserError:
                campaign.estimated_count = 0
                continue
            campaign.estimated_count = len(selection["partner_ids"])

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    def write(self, vals):
        locked = {
            "account_id",
            "template_id",
            "list_ids",
            "tag_ids",
            "partner_domain",
            "use_partner_domain",
            "value_ids",
        }
        if locked & set(vals) and any(c.state not in ("draft", "scheduled") for c in self):
            raise UserError(self.env._("A started campaign can't change its template or recipients."))
        return super().write(vals)

    def unlink(self):
        if any(c.state in ("running", "paused") for c in self):
            raise UserError(self.env._("Cancel the campaign before deleting it."))
        return super().unlink()

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_start(self):
        """Start now (or schedule when "Start at" is in the future)."""
        now = self.env["spoki.message"]._now()
        for campaign in self:
            if campaign.state not in ("draft", "scheduled"):
                raise UserError(self.env._("Only draft or scheduled campaigns can be started."))
            campaign._check_startable()
            if campaign.scheduled_at and campaign.scheduled_at > now:
                campaign.state = "scheduled"
                campaign.account_id._spoki_trigger_send(at=campaign.scheduled_at)
            else:
                campaign._enqueue()
        return True

    def action_draft(self):
        self.filtered(lambda c: c.state == "scheduled").write({"state": "draft"})
        return True

    def action_pause(self, reason=None):
        """Pause: queued messages stay queued and are skipped by the send
        queue. Also called by the quality guard with a reason."""
        running = self.filtered(lambda c: c.state in ("running", "scheduled"))
        reason = reason or self.env._("Paused by %(user)s", user=self.env.user.name)
        running.write({"state": "paused", "pause_reason": reason})
        return True

    def action_resume(self):
        paused = self.filtered(lambda c: c.state == "paused")
        for campaign in paused:
            if campaign.started_at:
                campaign.write({"state": "running", "pause_reason": False})
                campaign.account_id._spoki_trigger_send()
            else:
                campaign.write({"state": "scheduled", "pause_reason": False})
                campaign.account_id._spoki_trigger_send(at=campaign.scheduled_at)
        return True

    def action_cancel(self):
        """Cancel: the messages not sent yet are removed (they never reached
        anybody); those already sent stay in the ledger."""
        for campaign in self.filtered(lambda c: c.state in ("draft", "scheduled", "running", "paused")):
            self.env["spoki.message"].flush_model()
            self.env.cr.execute(
                SQL("DELETE FROM spoki_message WHERE campaign_id = %s AND state = 'queued'", campaign.id)
            )
            removed = self.env.cr.rowcount
            self.env["spoki.message"].invalidate_model()
            campaign.write({"state": "cancelled", "cancelled_count": campaign.cancelled_count + removed})
        return True

    def action_view_messages(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("spoki_whatsapp.spoki_message_action")
        action["domain"] = [("campaign_id", "=", self.id)]
        action["context"] = {"search_default_group_state": 1}
        return action

    # ------------------------------------------------------------
    # RECIPIENTS
    # ------------------------------------------------------------

    def _check_startable(self):
        self.ensure_one()
        if not self.template_id:
            raise UserError(self.env._("Choose an approved template."))
        self.template_id._check_sendable()
        if self.template_id.account_id != self.account_id:
            raise UserError(self.env._("The template belongs to another WhatsApp account."))
        if not (self.list_ids or self.tag_ids or self._domain() is not None):
            raise UserError(self.env._("Choose the recipients: lists, tags or a filter."))

    def _domain(self):
        """The contacts filter, or None when it isn't used ([] = every contact)."""
        if not self.use_partner_domain:
            return None
        try:
            domain = safe_eval(self.partner_domain or "[]")
        except Exception as exc:  # noqa: BLE001 - any syntax error of a user filter
            raise UserError(self.env._("The contacts filter is not valid: %(error)s", error=exc)) from exc
        return domain or []

    def _select_recipients(self):
        """Recipients, deduplicated by WhatsApp number (the oldest contact of
        a number receives it). Returns ``{'partner_ids', 'duplicates',
        'opted_out', 'invalid'}``: contacts without a valid number are
        excluded; a number is excluded when any contact with it opted out."""
        self.ensure_one()
        self.env.flush_all()
        sources = []
        if self.list_ids:
            sources.append(
                SQL("SELECT partner_id FROM spoki_list_res_partner_rel WHERE list_id = ANY(%s)", self.list_ids.ids)
            )
        if self.tag_ids:
            sources.append(
                SQL(
                    "SELECT partner_id FROM res_partner_res_partner_category_rel WHERE category_id = ANY(%s)",
                    self.tag_ids.ids,
                )
            )
        domain = self._domain()
        if domain is not None:
            query = self.env["res.partner"]._search(domain)
            sources.append(query.select(SQL.identifier("res_partner", "id")))
        if not sources:
            return {"partner_ids": [], "duplicates": 0, "opted_out": 0, "invalid": 0}
        self.env.cr.execute(
            SQL(
                """SELECT p.id, p.wa_phone, p.wa_phone_valid,
                          p.wa_opt_out OR EXISTS (SELECT 1 FROM res_partner o
                                                   WHERE o.wa_opt_out AND o.wa_phone = p.wa_phone)
                     FROM res_partner p
                    WHERE p.id IN (%s) AND p.active
                      AND (p.company_id IS NULL OR p.company_id = %s)
                 ORDER BY p.id""",
                SQL(" UNION ").join(sources),
                self.account_id.company_id.id,
            )
        )
        partner_ids, seen, opted_numbers = [], set(), set()
        duplicates = invalid = 0
        for partner_id, number, valid, opted_out in self.env.cr.fetchall():
            if not number or not valid:
                invalid += 1
                continue
            if number in seen or number in opted_numbers:
                duplicates += 1
                continue
            if opted_out:
                opted_numbers.add(number)
                continue
            seen.add(number)
            partner_ids.append(partner_id)
        return {
            "partner_ids": partner_ids,
            "duplicates": duplicates,
            "opted_out": len(opted_numbers),
            "invalid": invalid,
        }

    def _payload(self):
        self.ensure_one()
        return {line.field_id.name: line.value for line in self.value_ids if line.field_id}

    def _enqueue(self):
        """Create every message of the campaign in bulk: recipients in SQL,
        rendering through the template's batch method (chunks of 5,000), then
        multi-row INSERTs. Contacts whose rendering misses a value are
        excluded and counted."""
        self.ensure_one()
        started = time.monotonic()
        # Lock the campaign: a double click or two workers can't enqueue twice.
        self.env.cr.execute(SQL("SELECT state FROM spoki_campaign WHERE id = %s FOR UPDATE", self.id))
        if self.env.cr.fetchone()[0] not in ("draft", "scheduled"):
            raise UserError(self.env._("The campaign %(name)s has already started.", name=self.name))
        Message = self.env["spoki.message"]
        now = Message._now()
        selection = self._select_recipients()
        timings = {"select": time.monotonic() - started, "render": 0.0}
        template = self.template_id
        payload = self._payload()
        Partner = self.env["res.partner"].with_context(prefetch_fields=False)
        cr = self.env.cr
        queued = missing = 0
        missing_examples = []
        uid = self.env.uid
        partner_ids = selection["partner_ids"]
        # Rendered rows are streamed with COPY into a temporary table, then
        # one INSERT … SELECT writes the messages (a VALUES list of 100,000
        # rows costs more to build and parse than the insert itself).
        cr.execute("DROP TABLE IF EXISTS spoki_enqueue_buffer")
        cr.execute(
            """CREATE TEMP TABLE spoki_enqueue_buffer
                   (partner_id int, wa_phone varchar, lang varchar, body text, params jsonb)"""
        )
        for start in range(0, len(partner_ids), RENDER_CHUNK):
            chunk_ids = partner_ids[start : start + RENDER_CHUNK]
            partners = Partner.browse(chunk_ids)
            render_started = time.monotonic()
            rendered = template._render_for_partners(partners, payload)
            numbers = dict(zip(chunk_ids, partners.mapped("wa_phone")))
            timings["render"] += time.monotonic() - render_started
            buffer = io.StringIO()
            for partner_id in chunk_ids:
                result = rendered[partner_id]
                if result["missing"]:
                    missing += 1
                    if len(missing_examples) < 10:
                        missing_examples.append((partner_id, result["missing"]))
                    continue
                buffer.write(
                    "\t".join(
                        _copy_text(value)
                        for value in (
                            partner_id,
                            numbers[partner_id],
                            result["lang"],
                            result["body"],
                            json.dumps(result["params"] or [], ensure_ascii=False),
                        )
                    )
                )
                buffer.write("\n")
                queued += 1
            buffer.seek(0)
            cr.copy_expert("COPY spoki_enqueue_buffer FROM STDIN", buffer)
            self.env.invalidate_all()
        insert_started = time.monotonic()
        cr.execute(
            SQL(
                """INSERT INTO spoki_message
                       (account_id, company_id, partner_id, wa_phone, template_id, lang, body, template_params,
                        campaign_id, message_date, create_uid, create_date, write_uid, write_date,
                        direction, kind, state, counts_for_limit, attempt_count, priority, active)
                   SELECT %(account)s, %(company)s, b.partner_id, b.wa_phone, %(template)s, b.lang, b.body,
                          b.params, %(campaign)s, %(now)s, %(uid)s, %(now)s, %(uid)s, %(now)s,
                          'outgoing', 'template', 'queued', FALSE, 0, 0, TRUE
                     FROM spoki_enqueue_buffer b""",
                account=self.account_id.id,
                company=self.account_id.company_id.id,
                template=template.id,
                campaign=self.id,
                now=now,
                uid=uid,
            )
        )
        cr.execute("DROP TABLE spoki_enqueue_buffer")
        timings["insert"] = time.monotonic() - insert_started
        Message.invalidate_model()
        self.write(
            {
                "state": "running",
                "started_at": now,
                "recipient_count": queued,
                "duplicate_count": selection["duplicates"],
                "excluded_optout_count": selection["opted_out"],
                "excluded_invalid_count": selection["invalid"],
                "excluded_missing_count": missing,
                "enqueue_seconds": time.monotonic() - started,
            }
        )
        if missing_examples:
            names = dict(
                (p.id, p.display_name) for p in self.env["res.partner"].browse([pid for pid, _m in missing_examples])
            )
            lines = [
                self.env._("%(name)s: %(fields)s", name=names.get(pid, pid), fields=", ".join(names_missing))
                for pid, names_missing in missing_examples
            ]
            self.message_post(
                body=self.env._(
                    "%(count)s contacts excluded because dynamic fields have no value, for example: %(lines)s",
                    count=missing,
                    lines="; ".join(lines),
                )
            )
        _logger.info(
            "WhatsApp campaign %s: %s messages queued in %.2fs (recipients %.2fs, rendering %.2fs, insert %.2fs)",
            self.id,
            queued,
            time.monotonic() - started,
            timings["select"],
            timings["render"],
            timings["insert"],
        )
        self.account_id._spoki_trigger_send()
        return queued

    # ------------------------------------------------------------
    # CRON HELPERS (called by the send queue)
    # ------------------------------------------------------------

    @api.model
    def _cron_start_scheduled(self, auto_commit=None):
        """Start the scheduled campaigns that are due. Several workers may run
        this at once: each campaign is locked (SKIP LOCKED, READ COMMITTED)
        and its state checked again, so it is enqueued once."""
        Message = self.env["spoki.message"]
        auto_commit = Message._auto_commit_default() if auto_commit is None else auto_commit
        while True:
            self.env.flush_all()
            Message._begin_read_committed(auto_commit)
            self.env.cr.execute(
                SQL(
                    """SELECT id FROM spoki_campaign WHERE state = 'scheduled' AND scheduled_at <= %s
                        ORDER BY scheduled_at, id LIMIT 1 FOR UPDATE SKIP LOCKED""",
                    Message._now(),
                )
            )
            row = self.env.cr.fetchone()
            if not row:
                break
            campaign = self.sudo().browse(row[0])
            campaign.invalidate_recordset()
            try:
                campaign._check_startable()
            except UserError as exc:
                campaign.write({"state": "paused", "pause_reason": str(exc)})
            else:
                campaign._enqueue()
            if auto_commit:
                self.env.cr.commit()
            else:
                break

    @api.model
    def _check_done(self, auto_commit=None):
        """Running campaigns with nothing left to send are done."""
        Message = self.env["spoki.message"]
        auto_commit = Message._auto_commit_default() if auto_commit is None else auto_commit
        self.env.flush_all()
        Message._begin_read_committed(auto_commit)
        self.env.cr.execute(
            """SELECT c.id FROM spoki_campaign c
                WHERE c.state = 'running' AND NOT EXISTS (
                      SELECT 1 FROM spoki_message m
                       WHERE m.campaign_id = c.id AND m.state IN ('queued', 'sending'))
                  FOR UPDATE OF c SKIP LOCKED"""
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        if ids:
            self.sudo().browse(ids).write({"state": "done", "done_at": Message._now()})
        if auto_commit:
            self.env.cr.commit()


def _copy_text(value):
    """A value in PostgreSQL's COPY text format."""
    if value is None or value is False:
        return "\\N"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
