"""Inbound side of ``spoki.message``: what the provider tells us.

* status sync (cron "WhatsApp: status sync"): providers that can be polled
  are asked for the statuses of messages sent and not final;
* status events (polled or pushed): applied in bulk, idempotent and out-of-order
  safe (a state never goes back);
* webhooks (``controllers/main.py`` verifies them with the account's provider,
  then hands the payload here): statuses, incoming messages, template reviews;
  the app-level webhook of a shared Meta app is split by number / WABA and
  dispatched to the accounts whose secret signed it;
* incoming messages: stored once per provider id, matched to contacts (or a
  new contact), opening the conversation and the customer-service window,
  opt-out keywords handled.
"""

import json
import logging
import time
from datetime import timedelta

from odoo import api, models
from odoo.tools import SQL

from ...tools.phone import normalize_phone
from ...tools.providers import ProviderError, provider_class
from ...tools.vocabulary import STATE_RANK

_logger = logging.getLogger(__name__)


class SpokiMessage(models.Model):
    _inherit = "spoki.message"

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
                    SQL(
                        "UPDATE spoki_message SET status_checked_at = %s WHERE id = ANY(%s)",
                        now,
                        [row[0] for row in rows],
                    )
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
    def _apply_status_events(self, account, events):
        """Apply provider status events to this account's outgoing messages,
        idempotently and whatever their order: a state never goes back
        (``read`` before ``delivered`` keeps ``read`` and sets
        ``delivered_at``), timestamps keep the first value, unknown ids are
        ignored, ``failed`` only applies to messages not yet delivered.
        Returns the number of messages changed."""
        if not events:
            return 0
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
            if by_status.get(status):
                changed += self._apply_progress(account, status, by_status[status])
        if by_status.get("failed"):
            changed += self._apply_failures(account, by_status["failed"])
        self.invalidate_model()
        return changed

    @api.model
    def _apply_progress(self, account, status, events):
        """``sent``/``delivered``/``read`` events ``{provider id: event}``."""
        rank = STATE_RANK[status]
        self.env.cr.execute(
            SQL(
                """UPDATE spoki_message AS m
                      SET sent_at = COALESCE(m.sent_at, v.ts),
                          delivered_at = CASE WHEN %(rank)s >= 2 THEN COALESCE(m.delivered_at, v.ts)
                                              ELSE m.delivered_at END,
                          read_at = CASE WHEN %(rank)s >= 3 THEN COALESCE(m.read_at, v.ts) ELSE m.read_at END,
                          state = CASE WHEN (CASE m.state WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2
                                                          WHEN 'read' THEN 3 ELSE 0 END) < %(rank)s
                                       THEN %(status)s ELSE m.state END,
                          write_date = now() AT TIME ZONE 'UTC'
                     FROM unnest(%(pids)s::varchar[], %(stamps)s::timestamp[]) AS v(pid, ts)
                    WHERE m.account_id = %(account)s AND m.direction = 'outgoing'
                      AND m.provider_message_id = v.pid
                      AND m.state IN ('sending', 'sent', 'delivered', 'read')""",
                rank=rank,
                status=status,
                account=account.id,
                pids=list(events),
                stamps=[event.timestamp for event in events.values()],
            )
        )
        return self.env.cr.rowcount

    @api.model
    def _apply_failures(self, account, events):
        """``failed`` events ``{provider id: event}``: the provider's error
        mapped to our codes and readable reasons; the account hears of the
        codes (the quality guard watches for spam rate limits)."""
        provider = account._get_provider(clock=self._clock())
        pids, stamps, codes, reasons = [], [], [], []
        for pid, event in events.items():
            code, detail = provider.status_error(event.error_code, event.error_message)
            pids.append(pid)
            stamps.append(event.timestamp)
            codes.append(code)
            reasons.append(self._reason(code, detail))
        self.env.cr.execute(
            SQL(
                """UPDATE spoki_message AS m
                      SET state = 'failed', failed_at = COALESCE(m.failed_at, v.ts),
                          error_code = v.code, error_message = v.reason,
                          write_date = now() AT TIME ZONE 'UTC'
                     FROM unnest(%(pids)s::varchar[], %(stamps)s::timestamp[], %(codes)s::varchar[],
                                 %(reasons)s::varchar[]) AS v(pid, ts, code, reason)
                    WHERE m.account_id = %(account)s AND m.direction = 'outgoing'
                      AND m.provider_message_id = v.pid AND m.state IN ('sending', 'sent')""",
                account=account.id,
                pids=pids,
                stamps=stamps,
                codes=codes,
                reasons=reasons,
            )
        )
        changed = self.env.cr.rowcount
        account._on_provider_errors(set(codes))
        return changed

    # ------------------------------------------------------------
    # INBOUND
    # ------------------------------------------------------------

    @api.model
    def _process_webhook(self, account, payload):
        """Apply a (signature-checked) webhook payload of ``account``:
        statuses, incoming messages, template status changes."""
        provider = account._get_provider(clock=self._clock())
        statuses, inbound, templates = provider.parse_webhook(payload)
        self._apply_status_events(account, statuses)
        self._receive_inbound(account, inbound)
        Template = self.env["spoki.template"].sudo()
        for item in templates:
            Template._apply_provider_status(
                item.external_id, item.status, item.reason, account=account, timestamp=item.timestamp
            )
        return len(statuses), len(inbound), len(templates)

    @api.model
    def _process_app_webhook(self, kind, headers, raw):
        """An app-level webhook of provider ``kind`` (one Meta app shared by
        several numbers): the provider splits the payload by destination
        (``webhook_routes``: phone number id, WABA id); each part goes to the
        accounts of that destination whose own secret verifies the request's
        signature — an account whose secret doesn't match gets nothing.
        Parts without a destination, or with no such account, are dropped and
        logged. Returns ``(statuses, messages, templates)`` counts, or None
        when nothing was dispatched (the caller answers like a bad
        signature: which accounts exist is never told)."""
        cls = provider_class(kind)
        routes = getattr(cls, "webhook_routes", None)
        try:
            payload = json.loads(raw or b"")
        except ValueError:
            payload = None
        if routes is None or payload is None:
            _logger.warning("WhatsApp %s app webhook refused: not a JSON payload of that provider", kind)
            return None
        parts, dropped = routes(payload)
        for reason in dropped:
            _logger.warning("WhatsApp %s app webhook: event dropped (%s)", kind, reason)
        Account = self.env["spoki.account"].sudo()
        totals = None
        for key, value, part in parts:
            field = cls.config_fields.get(key)
            candidates = Account.search([("provider", "=", kind), (field, "=", value)]) if field else Account
            accounts = candidates.filtered(lambda a: a._get_provider().verify_webhook(headers, raw))
            if not accounts:
                _logger.warning(
                    "WhatsApp %s app webhook: events for %s %s dropped: no account with that %s signed by this "
                    "request (%s with the id)",
                    kind,
                    key,
                    value,
                    key,
                    len(candidates),
                )
                continue
            for account in accounts:
                counts = self._process_webhook(account, part)
                totals = tuple(a + b for a, b in zip(totals or (0, 0, 0), counts, strict=True))
        return totals

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
