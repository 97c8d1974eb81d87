"""Inbound side of ``spoki.message``: what the provider tells us.

* status sync (cron "WhatsApp: status sync"): providers that can be polled
  are asked for the statuses of messages sent and not final, each message on
  its own back-off (``tools/status_policy.py``), without holding row locks
  during the calls; the cron also applies the pending events (below) the
  send queue didn't claim and expires the old ones;
* status events (polled or pushed): applied in bulk, idempotent and out-of-order
  safe (a state never goes back). An event whose provider id is not stored
  yet is never dropped: it settles the message of its idempotency key whose
  send outcome is unknown, or it waits in ``spoki.status.event`` until the
  id is written (``_apply_pending_status_events``);
* webhooks (``controllers/main.py`` verifies them with the account's provider
  and stores them; ``spoki.webhook.inbox`` applies them in bulk, through
  ``_apply_status_events`` for the statuses): statuses, incoming messages,
  template reviews; the app-level webhook of a shared Meta app is split by
  number / WABA and stored for the accounts whose secret signed it;
* incoming messages: stored once per provider id, matched to contacts (or a
  new contact), opening the conversation and the customer-service window,
  opt-out keywords handled; the files they carry are stored by
  ``media/spoki_message.py``.
"""

import json
import logging
import time
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from ...tools.phone import normalize_phone
from ...tools.providers import ProviderError, StatusEvent, provider_class
from ...tools.status_policy import DELIVERED_POLL_WINDOW, next_status_check
from ...tools.vocabulary import STATE_RANK
from ..spoki_status_event import PENDING_EVENT_DAYS

_logger = logging.getLogger(__name__)

#: how long a status sync run owns the messages it claimed (it crashed if longer)
STATUS_CLAIM = timedelta(minutes=10)


def _pending_event(row):
    """A ``StatusEvent`` from a ``spoki_status_event`` row (provider id,
    status, time, error code, error message, idempotency key)."""
    pid, status, stamp, code, message, key = row
    return StatusEvent(pid, status, stamp, code or "", message or "", key or "")


class SpokiMessage(models.Model):
    _inherit = "spoki.message"

    # ------------------------------------------------------------
    # STATUS SYNC (cron) AND STATUS EVENTS (webhook)
    # ------------------------------------------------------------

    status_next_check_at = fields.Datetime(
        "Next status check",
        copy=False,
        readonly=True,
        help="When the status sync asks the provider about this message again (back-off per message).",
    )

    @api.model
    def _cron_sync_statuses(self):
        """Cron "WhatsApp: status sync": poll the provider for the statuses
        of messages sent and not final (providers that support polling; Meta
        pushes them by webhook), each message on its own back-off; then apply
        the pending status events whose message is known by now and expire
        the old ones."""
        done, remaining = self._sync_statuses()
        self._apply_pending_status_events()
        self._expire_pending_status_events()
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)

    @api.model
    def _status_poll_where(self, now):
        """Messages due for a status check at ``now``."""
        since = now - timedelta(days=self._param("status_poll_days", 7))
        return SQL(
            """state IN ('sent', 'delivered') AND provider_message_id IS NOT NULL AND sent_at > %(since)s
               AND (state = 'sent' OR sent_at > %(delivered_since)s)
               AND (status_next_check_at IS NULL OR status_next_check_at <= %(now)s)""",
            since=since,
            delivered_since=now - DELIVERED_POLL_WINDOW,
            now=now,
        )

    @api.model
    def _claim_status_checks(self, account, now, batch_size):
        """Take up to ``batch_size`` messages of ``account`` due for a check:
        their next check is pushed ``STATUS_CLAIM`` ahead, so that another
        run leaves them alone while this one calls the provider without any
        row lock (the caller commits first). Returns dicts with the previous
        next-check time, to give back the messages it doesn't poll."""
        self.env.flush_all()
        return self.env.execute_query_dict(
            SQL(
                """WITH picked AS (
                       SELECT id, status_next_check_at AS previous FROM spoki_message
                        WHERE account_id = %(account)s AND %(due)s
                        ORDER BY status_checked_at NULLS FIRST, id
                        LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
                   UPDATE spoki_message AS m SET status_next_check_at = %(lease)s
                     FROM picked WHERE m.id = picked.id
                RETURNING m.id, m.provider_message_id AS pid, m.state, m.sent_at, picked.previous""",
                account=account.id,
                due=self._status_poll_where(now),
                limit=batch_size,
                lease=now + STATUS_CLAIM,
            )
        )

    @api.model
    def _record_status_checks(self, polled, skipped, now):
        """Polled messages: checked at ``now``, next check on their back-off;
        claimed but not polled (time budget, provider error): due again as
        before."""
        rows = [(row["id"], now, next_status_check(row["state"], row["sent_at"], now)) for row in polled]
        rows += [(row["id"], None, row["previous"]) for row in skipped]
        if not rows:
            return
        ids, checked, following = zip(*rows, strict=True)
        self.env.cr.execute(
            SQL(
                """UPDATE spoki_message AS m
                      SET status_checked_at = COALESCE(v.checked, m.status_checked_at), status_next_check_at = v.next
                     FROM unnest(%s::int[], %s::timestamp[], %s::timestamp[]) AS v(id, checked, next)
                    WHERE m.id = v.id""",
                list(ids),
                list(checked),
                list(following),
            )
        )

    @api.model
    def _sync_statuses(self, batch_size=500, auto_commit=None, time_budget=None, accounts=None):
        """Poll the due messages of ``accounts`` (default all) whose provider
        can be polled: claim a batch, commit (no row lock is held during the
        provider calls), ask the provider one message at a time — checking
        the time budget before each call —, record the checks and apply the
        events. Returns ``(messages polled, messages still due)``."""
        auto_commit = self._auto_commit_default() if auto_commit is None else auto_commit
        time_budget = time_budget if time_budget is not None else self._param("send_time_budget", 10)
        started = time.monotonic()
        cr = self.env.cr
        now = self._now()
        done, stopped = 0, False
        accounts = accounts.sudo() if accounts is not None else self.env["spoki.account"].sudo().search([])
        for account in accounts:
            provider = account._get_provider(clock=self._clock())
            if not provider.supports_status_polling:
                continue
            while not stopped:
                rows = self._claim_status_checks(account, now, batch_size)
                if not rows:
                    break
                if auto_commit:
                    cr.commit()
                events, polled, failed = [], [], False
                for row in rows:
                    if time_budget and time.monotonic() - started > time_budget:
                        stopped = True
                        break
                    try:
                        events += provider.get_statuses([row["pid"]])
                    except ProviderError as exc:
                        _logger.warning("WhatsApp status sync of %s failed: %s", account.display_name, exc)
                        failed = True
                        break
                    polled.append(row)
                self._record_status_checks(polled, rows[len(polled) :], now)
                self._apply_status_events(account, events)
                done += len(polled)
                if auto_commit:
                    cr.commit()
                if failed:
                    break
            if stopped:
                break
        remaining = 0
        if stopped:
            self.env.flush_all()
            ids = accounts.ids
            cr.execute(
                SQL(
                    "SELECT COUNT(*) FROM spoki_message WHERE account_id = ANY(%s) AND %s",
                    ids,
                    self._status_poll_where(now),
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
        ``delivered_at``), timestamps keep the first value, ``failed`` only
        applies to messages not yet delivered.

        An event whose provider id is not stored yet is never dropped: with
        an idempotency key (Meta's ``biz_opaque_callback_data``) it settles
        the message of that key whose send outcome is unknown (``sending``,
        no provider id, no worker: the id is written, the event applied);
        otherwise it waits in ``spoki.status.event`` for the id.
        Returns the number of messages changed."""
        events = [event for event in events if event.message_id]
        if not events:
            return 0
        self.env.flush_all()
        known = {
            pid
            for (pid,) in self.env.execute_query(
                SQL(
                    """SELECT provider_message_id FROM spoki_message
                        WHERE account_id = %s AND provider_message_id = ANY(%s)""",
                    account.id,
                    list({event.message_id for event in events}),
                )
            )
        }
        unknown = [event for event in events if event.message_id not in known]
        settled = {}
        if unknown:
            settled = self._settle_unknown_outcomes(account, unknown)
            self._keep_pending_status_events(account, [e for e in unknown if e.message_id not in settled])
            if settled:
                # earlier events of these ids, kept while the id was unknown
                events += self._take_pending_status_events(account, list(settled))
        changed = self._apply_known_status_events(
            account, [e for e in events if e.message_id in known or e.message_id in settled]
        )
        if settled:
            messages = self.sudo().browse(list(settled.values()))
            self.env["spoki.conversation"]._link_messages(messages)
            messages._log_on_chatter()
        return changed

    @api.model
    def _apply_known_status_events(self, account, events):
        """Apply events whose provider id is stored (see ``_apply_status_events``)."""
        by_status = {}
        for event in events:
            current = by_status.setdefault(event.status, {})
            known = current.get(event.message_id)
            if known is None or event.timestamp < known.timestamp:
                current[event.message_id] = event
        changed = []  # (message id, campaign id, shown in a chat) of the rows the UPDATEs changed
        for status in ("sent", "delivered", "read"):
            if by_status.get(status):
                changed += self._apply_progress(account, status, by_status[status])
        if by_status.get("failed"):
            changed += self._apply_failures(account, by_status["failed"])
        self.invalidate_model()
        if changed:
            # no query of their own: the UPDATEs returned what the live refresh and the ticks need
            self._spoki_live_notify_campaigns(account, {campaign_id for _id, campaign_id, _shown in changed})
            shown = {message_id for message_id, _campaign_id, is_shown in changed if is_shown}
            if shown:
                self.sudo().browse(shown)._spoki_notify_ticks()
        return len(changed)

    @api.model
    def _settle_unknown_outcomes(self, account, events):
        """Messages of ``account`` whose send outcome is unknown (``sending``,
        no provider id, no worker holding them), found by the idempotency key
        the provider echoes in ``events``: their provider id is written (the
        events then settle them). Returns ``{provider id: message id}``."""
        by_key = {}
        for event in sorted(events, key=lambda e: e.timestamp):
            if event.idempotency_key:
                by_key.setdefault(event.idempotency_key, event.message_id)
        if not by_key:
            return {}
        rows = self.env.execute_query(
            SQL(
                """UPDATE spoki_message AS m
                      SET provider_message_id = v.pid, write_date = now() AT TIME ZONE 'UTC'
                     FROM unnest(%s::varchar[], %s::varchar[]) AS v(key, pid)
                    WHERE m.account_id = %s AND m.direction = 'outgoing' AND m.state = 'sending'
                      AND m.provider_message_id IS NULL AND m.sending_worker IS NULL AND m.idempotency_key = v.key
                RETURNING v.pid, m.id""",
                list(by_key),
                list(by_key.values()),
                account.id,
            )
        )
        if rows:
            _logger.info("WhatsApp: %s sends of unknown outcome settled by status events of %s", len(rows), account.id)
        self.invalidate_model(["provider_message_id"])
        return dict(rows)

    @api.model
    def _keep_pending_status_events(self, account, events):
        """Store events whose provider id is not known yet (once per id and
        status, the earliest time kept)."""
        if not events:
            return
        by_id = {}
        for event in events:
            key = (event.message_id, event.status)
            if key not in by_id or event.timestamp < by_id[key].timestamp:
                by_id[key] = event
        events = list(by_id.values())
        self.env.cr.execute(
            SQL(
                """INSERT INTO spoki_status_event AS e (account_id, provider_message_id, idempotency_key, status,
                                                       event_time, error_code, error_message, received_at)
                   SELECT %(account)s, v.pid, NULLIF(v.key, ''), v.status, v.ts, NULLIF(v.code, ''),
                          NULLIF(v.message, ''), %(now)s
                     FROM unnest(%(pids)s::varchar[], %(keys)s::varchar[], %(statuses)s::varchar[],
                                 %(stamps)s::timestamp[], %(codes)s::varchar[], %(messages)s::varchar[])
                          AS v(pid, key, status, ts, code, message)
                   ON CONFLICT (account_id, provider_message_id, status) DO UPDATE
                      SET event_time = LEAST(e.event_time, EXCLUDED.event_time),
                          idempotency_key = COALESCE(e.idempotency_key, EXCLUDED.idempotency_key)""",
                account=account.id,
                now=self._now(),
                pids=[e.message_id for e in events],
                keys=[e.idempotency_key for e in events],
                statuses=[e.status for e in events],
                stamps=[e.timestamp for e in events],
                codes=[e.error_code or "" for e in events],
                messages=[(e.error_message or "")[:500] for e in events],
            )
        )

    @api.model
    def _take_pending_status_events(self, account, pids):
        """Remove and return the pending events of these provider ids."""
        rows = self.env.execute_query(
            SQL(
                """DELETE FROM spoki_status_event WHERE account_id = %s AND provider_message_id = ANY(%s)
                RETURNING provider_message_id, status, event_time, error_code, error_message, idempotency_key""",
                account.id,
                pids,
            )
        )
        return [_pending_event(row) for row in rows]

    @api.model
    def _apply_pending_status_events(self, message_ids=None):
        """Apply the pending status events (``spoki.status.event``) whose
        message is known by now — by provider id, or by idempotency key for a
        send of unknown outcome — and remove them. ``message_ids``: only the
        events of these messages (the send queue calls it with the messages
        whose outcome it just wrote, in the same transaction); None: all of
        them (the status sync cron's catch-up). Returns the number of
        messages changed."""
        if message_ids is not None and not message_ids:
            return 0
        self.env.flush_all()
        only = SQL("AND m.id = ANY(%s)", list(message_ids)) if message_ids is not None else SQL()
        by_id = self.env.execute_query(
            SQL(
                """DELETE FROM spoki_status_event AS e USING spoki_message AS m
                    WHERE m.account_id = e.account_id AND m.provider_message_id = e.provider_message_id %s
                RETURNING e.account_id, e.provider_message_id, e.status, e.event_time, e.error_code,
                          e.error_message, e.idempotency_key""",
                only,
            )
        )
        by_key = self.env.execute_query(
            SQL(
                """DELETE FROM spoki_status_event AS e USING spoki_message AS m
                    WHERE m.account_id = e.account_id AND m.state = 'sending' AND m.provider_message_id IS NULL
                      AND m.sending_worker IS NULL AND e.idempotency_key IS NOT NULL
                      AND m.idempotency_key = e.idempotency_key %s
                RETURNING e.account_id, e.provider_message_id, e.status, e.event_time, e.error_code,
                          e.error_message, e.idempotency_key""",
                only,
            )
        )
        by_account = {}
        for row in by_id + by_key:
            by_account.setdefault(row[0], []).append(_pending_event(row[1:]))
        changed = 0
        for account_id, events in by_account.items():
            changed += self._apply_status_events(self.env["spoki.account"].sudo().browse(account_id), events)
        return changed

    @api.model
    def _expire_pending_status_events(self):
        """Forget pending events nobody claimed in ``PENDING_EVENT_DAYS`` days
        (messages sent by another system on the same number)."""
        self.env.cr.execute(
            SQL(
                "DELETE FROM spoki_status_event WHERE received_at < %s",
                self._now() - timedelta(days=PENDING_EVENT_DAYS),
            )
        )
        if self.env.cr.rowcount:
            _logger.info("WhatsApp: %s unclaimed status events expired", self.env.cr.rowcount)

    @api.model
    def _apply_progress(self, account, status, events):
        """``sent``/``delivered``/``read`` events ``{provider id: event}``.
        Returns ``[(message id, campaign id, shown in a chat)]`` of the
        messages changed."""
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
                      AND m.state IN ('sending', 'sent', 'delivered', 'read')
                RETURNING m.id, m.campaign_id, m.mail_message_id IS NOT NULL""",
                rank=rank,
                status=status,
                account=account.id,
                pids=list(events),
                stamps=[event.timestamp for event in events.values()],
            )
        )
        return self.env.cr.fetchall()

    @api.model
    def _apply_failures(self, account, events):
        """``failed`` events ``{provider id: event}``: the provider's error
        mapped to our codes and readable reasons; the account hears of the
        codes (the quality guard watches for spam rate limits). A message
        that failed after being accepted leaves its 24-hour session (see
        ``spoki.conversation._unlink_failed``). Returns ``[(message id,
        campaign id, shown in a chat)]`` of the messages changed."""
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
                      AND m.provider_message_id = v.pid AND m.state IN ('sending', 'sent')
                RETURNING m.id, m.conversation_id, m.campaign_id, m.mail_message_id IS NOT NULL""",
                account=account.id,
                pids=pids,
                stamps=stamps,
                codes=codes,
                reasons=reasons,
            )
        )
        rows = self.env.cr.fetchall()
        # accepted, then undeliverable: never exchanged, so not a conversation
        self.env["spoki.conversation"]._unlink_failed([mid for mid, conversation_id, *_rest in rows if conversation_id])
        account._on_provider_errors(set(codes))
        return [(mid, campaign_id, shown) for mid, _conversation_id, campaign_id, shown in rows]

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
    def _route_app_webhook(self, kind, headers, raw):
        """An app-level webhook of provider ``kind`` (one Meta app shared by
        several numbers): the provider splits the payload by destination
        (``webhook_routes``: phone number id, WABA id); each part goes to the
        accounts of that destination whose own secret verifies the request's
        signature — an account whose secret doesn't match gets nothing.
        Parts without a destination, or with no such account, are dropped and
        logged. Returns ``[(account, part)]`` (the webhook route stores them
        for the apply, ``spoki.webhook.inbox``), or None when nothing could
        be dispatched (the caller answers like a bad signature: which
        accounts exist is never told)."""
        try:
            routes = provider_class(kind).webhook_routes
        except ValueError:  # no such provider: answered like a bad signature
            routes = None
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
        routed = []
        for key, value, part in parts:
            field = provider_class(kind).config_fields.get(key)
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
            routed += [(account, part) for account in accounts]
        return routed or None

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
        # reactions are not messages: shown on the message reacted to (reactions/spoki_message.py)
        inbound = self._spoki_split_reactions(account, inbound)
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
        quoted = self._spoki_reply_to_ids(account, fresh)
        messages = self.sudo().create(
            [
                {
                    "account_id": account.id,
                    "reply_to_id": quoted.get(item.message_id, False),
                    "partner_id": partners[numbers[item.message_id]].id,
                    "wa_phone": numbers[item.message_id],
                    "direction": "incoming",
                    **self._inbound_media_vals(account, item),  # kind, body (text, caption or placeholder), media
                    "state": "received",
                    "provider_message_id": item.message_id,
                    "message_date": item.timestamp,
                    "received_at": item.timestamp,
                    "counts_for_limit": False,
                }
                for item in fresh
            ]
        )
        messages._media_received(account)
        self.env["spoki.conversation"]._link_messages(messages)
        messages._log_on_chatter()
        Chat = self.env["spoki.chat"].sudo()
        for message in messages:
            Chat._get_or_create(account, message.wa_phone, message.partner_id)._touch(message)
        for message in messages:
            if message.partner_id._spoki_is_optout_keyword(message.body):
                message.partner_id._spoki_opt_out_by_keyword(message)
        self.env["base.automation"]._spoki_fire_incoming(messages)
        return messages
