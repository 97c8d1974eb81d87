"""Send queue side of ``spoki.account``: the rolling 24-hour unique-user
limit, and the pause of an account's sending after a throughput limit.

The send queue (``spoki.message._process_queue``) is the only caller that
*reserves* capacity; the tier tracking reuses the counting methods.

Definitions (the guide's "Limiti dei messaggi", Meta's messaging limits):

* a message **counts** for the limit when it is business-initiated: outgoing,
  ``counts_for_limit`` set by the queue at send time (False for replies sent
  while the customer-service window opened by the customer's last incoming
  message is still open), in a state that reached or may have reached the
  provider (``sending``, ``sent``, ``delivered``, ``read``; failed messages
  never reached anybody);
* the limit is on **unique numbers** in the rolling 24 hours ending now:
  a number already counted in the window doesn't count again;
* under the Meta policy the limit is shared by every account of the same
  business portfolio (``portfolio``); under the guide's policy it is per
  account (phone number).

Race safety: ``_reserve_recipients`` must be called inside the transaction
that then marks the chosen messages ``sending`` and commits; it takes a
transaction-level advisory lock per limit group, so two workers (threads,
cron workers or Odoo servers on the same database) reserve one after the
other and the second one counts the first one's committed reservations. The
queue runs that transaction in READ COMMITTED so the count after the lock
sees them (Odoo's default REPEATABLE READ snapshot would predate the lock),
reads its clock after the lock, and the reservation count has no upper
bound (``_limit_used``): a reservation dated after our ``now`` — another
worker that read its clock later, another server whose clock is ahead — is
counted too. Messages whose send outcome is unknown (``sending``, no worker)
count: they may have been sent.

Pauses: when the provider says the account sends too fast (HTTP 429,
``Retry-After``, Meta's throughput codes) the send queue sets
``send_paused_until`` (``_pause_sending``); the queue skips the account until
then and is woken up at that time. Messages wait without using attempts.
"""

import logging
from datetime import timedelta

from odoo import fields, models
from odoo.tools import SQL

from ...tools.vocabulary import COUNTED_STATES, LIMIT_WINDOW, SERVICE_WINDOW

_logger = logging.getLogger(__name__)

#: pg_advisory_xact_lock namespace of the limit groups (arbitrary int4).
LOCK_NS_LIMIT = 537110


class SpokiAccount(models.Model):
    _inherit = "spoki.account"

    send_paused_until = fields.Datetime(
        "Sending paused until",
        copy=False,
        readonly=True,
        help="The provider asked this account to slow down (rate limit): the send queue resumes at this time.",
    )

    # ------------------------------------------------------------
    # LIMIT GROUP
    # ------------------------------------------------------------

    def _limit_group(self):
        """Accounts sharing this account's messaging limit (itself included):
        under the Meta policy the accounts of the same business portfolio
        (and company: a portfolio never spans companies), otherwise the
        account alone."""
        self.ensure_one()
        if self.tier_policy == "meta" and self.portfolio:
            return (
                self.sudo()
                .with_context(active_test=False)
                .search(
                    [
                        ("tier_policy", "=", "meta"),
                        ("portfolio", "=", self.portfolio),
                        ("company_id", "=", self.company_id.id),
                    ]
                )
            )
        return self.sudo()

    def _limit_group_ids(self):
        return sorted(self._limit_group().ids)

    def _limit_value(self):
        """The enforced limit of the group (0 = unlimited). Accounts of one
        portfolio normally agree; if they don't, the strictest wins."""
        limits = [a.tier_limit for a in self._limit_group()]
        finite = [limit for limit in limits if limit]
        return min(finite) if finite else 0

    # ------------------------------------------------------------
    # COUNTERS (reused by the tier tracking)
    # ------------------------------------------------------------

    def _spoki_now(self):
        return self.env["spoki.message"]._now()

    def _limit_counted_where(self, date_from, date_to=None, account_ids=None):
        """SQL condition on ``spoki_message m`` for business-initiated
        messages of the group between the two dates."""
        account_ids = account_ids or self._limit_group_ids()
        condition = SQL(
            """m.account_id = ANY(%s) AND m.counts_for_limit AND m.direction = 'outgoing'
               AND m.state IN %s AND m.message_date > %s""",
            account_ids,
            COUNTED_STATES,
            date_from,
        )
        if date_to:
            condition = SQL("%s AND m.message_date <= %s", condition, date_to)
        return condition

    def _limit_unique_numbers(self, date_from, date_to=None, per_account=False):
        """Unique numbers contacted (business-initiated) in ``]date_from,
        date_to]``: over the limit group, or over this account only with
        ``per_account``."""
        self.ensure_one()
        self.env["spoki.message"].flush_model()
        account_ids = [self.id] if per_account else self._limit_group_ids()
        self.env.cr.execute(
            SQL(
                "SELECT COUNT(DISTINCT m.wa_phone) FROM spoki_message m WHERE %s",
                self._limit_counted_where(date_from, date_to, account_ids),
            )
        )
        return self.env.cr.fetchone()[0]

    def _limit_used(self, now):
        """Unique numbers counted against the limit from ``now`` − 24 h on,
        with no upper bound: what a reservation must count (a number another
        worker reserved with a later clock is used capacity too)."""
        return self._limit_unique_numbers(now - LIMIT_WINDOW)

    def _limit_unique_numbers_24h(self, now=None):
        """Unique numbers counted against the limit in the rolling 24 hours
        ending at ``now`` (the group's usage)."""
        now = now or self._spoki_now()
        return self._limit_unique_numbers(now - LIMIT_WINDOW, now)

    def _limit_contacted_numbers(self, numbers, now=None):
        """The subset of ``numbers`` already counted in the window (sending to
        them again costs nothing)."""
        self.ensure_one()
        numbers = list(set(numbers))
        if not numbers:
            return set()
        now = now or self._spoki_now()
        self.env.cr.execute(
            SQL(
                "SELECT DISTINCT m.wa_phone FROM spoki_message m WHERE %s AND m.wa_phone = ANY(%s)",
                self._limit_counted_where(now - LIMIT_WINDOW),
                numbers,
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}

    def _limit_remaining(self, now=None):
        """Unique numbers still allowed now; None when unlimited. The send
        queue asks before each batch: when nothing is left, the daily limit is
        reached now, which the tier tracking notes (more precise than its
        hourly cron)."""
        self.ensure_one()
        limit = self._limit_value()
        if not limit:
            return None
        now = now or self._spoki_now()
        remaining = max(limit - self._limit_used(now), 0)
        if remaining == 0:
            self._tier_note_limit_reached(now)
        return remaining

    def _limit_next_free_at(self, now=None):
        """When the oldest counted number leaves the window (the earliest time
        a blocked queue can move again), or None."""
        self.ensure_one()
        now = now or self._spoki_now()
        self.env.cr.execute(
            SQL(
                """SELECT MIN(last) FROM (
                       SELECT MAX(m.message_date) AS last FROM spoki_message m
                        WHERE %s GROUP BY m.wa_phone) sub""",
                self._limit_counted_where(now - LIMIT_WINDOW),
            )
        )
        oldest = self.env.cr.fetchone()[0]
        return oldest + LIMIT_WINDOW + timedelta(seconds=1) if oldest else None

    def _open_window_numbers(self, numbers, now=None):
        """{number: window end} for the numbers whose customer-service window
        is open on this account (last incoming message less than 24 h ago)."""
        self.ensure_one()
        numbers = list(set(numbers))
        if not numbers:
            return {}
        now = now or self._spoki_now()
        self.env.cr.execute(
            SQL(
                """SELECT m.wa_phone, MAX(m.message_date) FROM spoki_message m
                    WHERE m.account_id = %s AND m.direction = 'incoming'
                      AND m.wa_phone = ANY(%s) AND m.message_date > %s
                 GROUP BY m.wa_phone""",
                self.id,
                numbers,
                now - SERVICE_WINDOW,
            )
        )
        return {number: last + SERVICE_WINDOW for number, last in self.env.cr.fetchall()}

    # ------------------------------------------------------------
    # RESERVATION (send queue)
    # ------------------------------------------------------------

    def _lock_limit_group(self):
        """Serialise reservations of the group until the end of the current
        transaction."""
        self.ensure_one()
        self.env.cr.execute(SQL("SELECT pg_advisory_xact_lock(%s, %s)", LOCK_NS_LIMIT, self._limit_group_ids()[0]))

    def _reserve_recipients(self, numbers, now=None):
        """Numbers (business-initiated) that may be sent to now, in the order
        given: those already counted in the window, then new ones up to the
        remaining capacity. Locks the limit group for the rest of the
        transaction: the caller must mark the messages of the returned numbers
        ``sending`` (``counts_for_limit`` = True, ``message_date`` = ``now``)
        before committing. Returns ``(allowed: set, blocked: set)``."""
        self.ensure_one()
        now = now or self._spoki_now()
        ordered = list(dict.fromkeys(numbers))
        self._lock_limit_group()
        limit = self._limit_value()
        if not limit:
            return set(ordered), set()
        contacted = self._limit_contacted_numbers(ordered, now)
        capacity = max(limit - self._limit_used(now), 0)
        allowed = set()
        for number in ordered:
            if number in contacted:
                allowed.add(number)
            elif capacity > 0:
                allowed.add(number)
                capacity -= 1
        return allowed, set(ordered) - allowed

    # ------------------------------------------------------------
    # PAUSES (throughput limits)
    # ------------------------------------------------------------

    def _send_paused_until(self, now):
        """When this account's sending resumes, or None when it isn't paused
        at ``now`` (read from the database: another worker may have paused it)."""
        self.ensure_one()
        self.env.cr.execute(SQL("SELECT send_paused_until FROM spoki_account WHERE id = %s", self.id))
        row = self.env.cr.fetchone()
        until = row[0] if row else None
        return until if until and until > now else None

    def _pause_sending(self, until, auto_commit=True):
        """Pause the account's sending until ``until`` (never shortens a
        longer pause), in its own READ COMMITTED transaction, and wake the
        queue then."""
        self.ensure_one()
        Message = self.env["spoki.message"]
        Message._begin_read_committed(auto_commit)
        self.env.cr.execute(
            SQL(
                """UPDATE spoki_account SET send_paused_until = GREATEST(COALESCE(send_paused_until, %s), %s)
                    WHERE id = %s""",
                until,
                until,
                self.id,
            )
        )
        self.invalidate_recordset(["send_paused_until"])
        if auto_commit:
            self.env.cr.commit()
        _logger.info("WhatsApp: sending of %s paused until %s (provider rate limit)", self.display_name, until)
        self._spoki_trigger_send(at=until)

    # ------------------------------------------------------------
    # QUEUE WAKE-UPS
    # ------------------------------------------------------------

    def _spoki_send_queue_cron(self):
        return self.env.ref("spoki_whatsapp.ir_cron_spoki_message_send", raise_if_not_found=False)

    def _spoki_trigger_send(self, at=None):
        """Wake the send-queue job (now or at ``at``)."""
        cron = self._spoki_send_queue_cron()
        if not cron:
            return
        cron = cron.sudo()
        if at:
            # one pending wake-up is enough (the cron also runs every interval)
            pending = (
                self.env["ir.cron.trigger"]
                .sudo()
                .search_count(
                    [("cron_id", "=", cron.id), ("call_at", "<=", at), ("call_at", ">=", fields.Datetime.now())],
                    limit=1,
                )
            )
            if pending:
                return
        cron._trigger(at=at)
