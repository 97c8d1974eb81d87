from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL
from odoo.tools.misc import format_date, formatLang

from odoo.addons.spoki_whatsapp.models.spoki_conversation import SESSION
from odoo.addons.spoki_whatsapp.tools.vocabulary import QUALITY_RATING_HELP_URL

from ..tools import periods
from .spoki_monthly_report import DELIVERED_STATES, FIGURES, SENT_STATES

# The chart: buckets in local time (zeros included), inbound vs outbound
# messages exchanged (same definition as the monthly report's). The messages
# are first counted per UTC slot of 15 minutes (1 minute for the minute chart)
# and only the slots are converted to local time: every timezone in use today
# is offset from UTC by a multiple of 15 minutes, so a slot never straddles a
# local hour/day boundary, and the conversion runs once per slot, not per row.
_CHART_SQL = """
    WITH buckets AS (
        SELECT generate_series(
                   date_trunc(%(period)s, %(first_local)s::timestamp),
                   date_trunc(%(period)s, %(last_local)s::timestamp),
                   %(step)s::interval) AS bucket
    ), slots AS (
        SELECT date_bin(%(slot)s::interval, m.message_date, TIMESTAMP '2000-01-01') AS slot,
               COUNT(*) FILTER (WHERE m.direction = 'incoming') AS incoming,
               COUNT(*) FILTER (WHERE m.direction = 'outgoing' AND m.state IN %(sent_states)s) AS outgoing
          FROM spoki_message m
         WHERE m.account_id = %(account_id)s
           AND m.message_date >= %(start)s AND m.message_date < %(stop)s
         GROUP BY 1
    ), counts AS (
        SELECT date_trunc(%(period)s, slot AT TIME ZONE 'UTC' AT TIME ZONE %(tz)s) AS bucket,
               SUM(incoming) AS incoming, SUM(outgoing) AS outgoing
          FROM slots
         GROUP BY 1
    )
    SELECT b.bucket, COALESCE(c.incoming, 0)::int, COALESCE(c.outgoing, 0)::int
      FROM buckets b
      LEFT JOIN counts c ON c.bucket = b.bucket
     ORDER BY b.bucket
"""


class SpokiDashboard(models.AbstractModel):
    """Server side of the WhatsApp dashboard (OWL client action
    ``spoki_whatsapp_reports.dashboard``): everything is computed here, in a
    handful of SQL aggregates, and returned by one RPC."""

    _name = "spoki.dashboard"
    _description = "WhatsApp dashboard"

    # ------------------------------------------------------------
    # PUBLIC (RPC)
    # ------------------------------------------------------------

    @api.model
    def get_dashboard_data(self, account_id=None, period="day", date_from=None, date_to=None, now=None, month=None):
        """Everything the dashboard shows for one account (the first accessible
        one when ``account_id`` is empty): accounts for the switcher, credit,
        WhatsApp status, tier outlook, the KPIs of ``month`` ("YYYY-MM", last
        month by default), the messages chart, campaigns paused by the quality
        guard, help links."""
        now = fields.Datetime.to_datetime(now) if now else fields.Datetime.now()
        accounts = self._get_accounts()
        account = self._get_account(account_id, accounts)
        company = account.company_id if account else self.env.company
        data = {
            "accounts": [{"id": acc.id, "name": acc.name, "phone": acc.phone or ""} for acc in accounts],
            "account_id": account.id if account else False,
            "tz": self._tz(),
            "help": {
                "training": company.spoki_help_training_url or "",
                "rules": company.spoki_help_rules_url or "",
                "videos": company.spoki_help_videos_url or "",
            },
            "periods": self._period_options(),
            "is_manager": self.env.user.has_group("spoki_whatsapp.group_spoki_manager"),
        }
        if not account:
            return data
        live, outlook = self._live_tier(account, now)
        data.update(
            account=self._account_header(account),
            status=self._get_status(account, live),
            outlook=self._get_outlook(live, outlook),
            last_month=self._get_month(account, now, month),
            chart=self._chart_data(account, period, date_from, date_to, now),
            paused_campaigns=self._get_paused_campaigns(account),
            tier_history=self._get_tier_history(account, now),
        )
        return data

    @api.model
    def get_month_data(self, account_id, month=None, now=None):
        """The figures block alone, for the month ``month`` ("YYYY-MM") picked
        on the dashboard."""
        now = fields.Datetime.to_datetime(now) if now else fields.Datetime.now()
        account = self._get_account(account_id, self._get_accounts())
        if not account:
            raise AccessError(self.env._("You don't have access to this WhatsApp account."))
        return self._get_month(account, now, month)

    @api.model
    def get_chart_data(self, account_id, period="day", date_from=None, date_to=None, now=None):
        """The messages chart alone (period or range changed)."""
        now = fields.Datetime.to_datetime(now) if now else fields.Datetime.now()
        account = self._get_account(account_id, self._get_accounts())
        if not account:
            raise AccessError(self.env._("You don't have access to this WhatsApp account."))
        return self._chart_data(account, period, date_from, date_to, now)

    # ------------------------------------------------------------
    # ACCESS
    # ------------------------------------------------------------

    @api.model
    def _get_accounts(self):
        if not self.env.user.has_group("spoki_whatsapp.group_spoki_user"):
            raise AccessError(self.env._("Only WhatsApp users can open the WhatsApp dashboard."))
        return self.env["spoki.account"].search([])

    @api.model
    def _get_account(self, account_id, accounts):
        """The requested account, checked against the user's companies (the
        aggregates below read SQL directly, bypassing record rules)."""
        if not account_id:
            return accounts[:1]
        account = self.env["spoki.account"].browse(int(account_id)).exists()
        if not account:
            raise UserError(self.env._("This WhatsApp account doesn't exist any more."))
        account.check_access("read")
        if account not in accounts:  # archived, or not in the selected companies
            raise AccessError(self.env._("You don't have access to this WhatsApp account."))
        return account

    @api.model
    def _tz(self):
        return self.env["spoki.monthly.report"]._user_tz()

    # ------------------------------------------------------------
    # SECTIONS
    # ------------------------------------------------------------

    @api.model
    def _period_options(self):
        _ = self.env._
        labels = {
            "minute": _("Minute"),
            "hour": _("Hour"),
            "day": _("Day"),
            "month": _("Month"),
            "quarter": _("Quarter"),
            "year": _("Year"),
        }
        return [{"key": key, "label": labels[key]} for key in periods.PERIODS]

    @api.model
    def _selection_label(self, record, field_name):
        field = record._fields[field_name]
        return dict(field._description_selection(self.env)).get(record[field_name], record[field_name] or "")

    @api.model
    def _account_header(self, account):
        return {
            "id": account.id,
            "name": account.name,
            "phone": account.phone or "",
            "provider": self._selection_label(account, "provider"),
            **self._credit(account),
        }

    @api.model
    def _credit(self, account):
        """The credit card: a real balance, the sandbox's simulated one, or
        none (the provider reports none: the card says so, no number)."""
        figure = account._credit_figure()
        value = figure["value"]
        return {
            "credit": value if value is not None else False,
            "credit_display": formatLang(self.env, value, currency_obj=account.currency_id)
            if value is not None
            else self.env._("Not reported"),
            "credit_real": figure["real"],
            "credit_note": figure["note"],
        }

    @api.model
    def _live_tier(self, account, now):
        """The tier tracking's snapshot of ``account`` at ``now``, live (not the
        cron's stored one): ``(copy of the account holding it, Outlook)``."""
        account = account.sudo()
        ((_scope, outlook, values),) = account._tier_evaluate(now).values()
        return account.new(values[account.id], origin=account), outlook

    @api.model
    def _get_status(self, account, live):
        """Unique users reached by business-initiated messages in the last 24 h
        and 7 days (own, and "shared" over the numbers sharing the limit: the
        business portfolio under Meta's rule), quality, tier and limit."""
        limit = account.sudo()._limit_value()  # 0 = unlimited
        shared_24h = live.portfolio_users_24h
        status = {
            "unique_24h": live.unique_users_24h,
            "unique_7d": live.unique_users_7d,
            "shared_24h": shared_24h,
            "shared_7d": live.portfolio_users_7d,
            "shared_numbers": live.tier_scope_size,
            "quality": account.quality,
            "quality_label": self._selection_label(account, "quality"),
            "quality_help_url": QUALITY_RATING_HELP_URL,
            "phone_status": account.phone_status,
            "phone_status_label": self._selection_label(account, "phone_status"),
            "policy_label": self._selection_label(account, "tier_policy"),
            "tier_name": account.tier_level_id.name or "",
            "tier_limit": limit,
            "tier_limit_display": account._tier_fmt(limit) if limit else self.env._("Unlimited"),
            "usage_percent": round(100.0 * shared_24h / limit, 1) if limit else 0.0,
            "remaining": max(0, limit - shared_24h) if limit else None,
            "limit_from_provider": account.provider_tier_limit >= 0,
            "quality_guard": False,
        }
        if account.quality_guard_state == "tripped":
            status["quality_guard"] = {
                "reason": self._selection_label(account, "quality_guard_reason"),
                "at": account._tier_fmt_datetime(account.quality_guard_at),
            }
        return status

    @api.model
    def _get_outlook(self, live, outlook):
        """Promotion outlook under the account's tier policy, told by the tier
        tracking's own outlook text."""
        return {
            "available": True,
            "policy": outlook.policy_key,
            "action": outlook.action,
            "summary": live._tier_outlook_text(),
            "next_limit": outlook.next_limit,
            "threshold_7d": outlook.threshold_7d,
            "needed_7d": outlook.needed_7d,
            "earliest_promotion": fields.Datetime.to_string(outlook.earliest_promotion)
            if outlook.earliest_promotion
            else False,
            "earliest_promotion_display": live._tier_fmt_datetime(outlook.earliest_promotion),
            "not_before_display": live._tier_fmt_datetime(outlook.not_before),
        }

    @api.model
    def _get_last_month(self, account, now):
        return self._get_month(account, now)

    @api.model
    def _get_month(self, account, now, month=None):
        """Figures of a calendar month (``"YYYY-MM"``; last month when empty)
        and the months the picker offers: the current one and the 23 before."""
        tz = self._tz()
        today = periods.local_today(now, tz)
        options = periods.month_options(today)
        if month:
            try:
                year, month = periods.parse_month(month)
            except ValueError:
                raise UserError(self.env._("Choose a month from the list.")) from None
            if (year, month) not in options:
                raise UserError(self.env._("Choose a month from the list."))
        else:
            year, month = periods.previous_month(today)
        date_from, date_to = periods.month_range(year, month)
        Report = self.env["spoki.monthly.report"]
        totals, _daily = Report._compute_figures(account, date_from, date_to, tz, daily=False)
        labels = Report._figure_labels()
        helps = {name: Report._fields[name].help or "" for name in FIGURES}
        return {
            "year": year,
            "month": month,
            "label": format_date(self.env, date_from, date_format="MMMM y"),
            "value": f"{year}-{month:02d}",
            "is_current": (year, month) == (today.year, today.month),
            "options": [
                {
                    "value": f"{y}-{m:02d}",
                    "label": format_date(self.env, periods.month_range(y, m)[0], date_format="MMMM y"),
                }
                for y, m in options
            ],
            "figures": [
                {"key": name, "label": label, "value": totals[name], "help": helps[name]}
                for name, label in zip(FIGURES, labels)
            ],
            "note": Report._read_receipts_note(),
        }

    @api.model
    def _get_tier_history(self, account, now, days=30):
        """The tier tracking's daily history (spoki.tier.history) of the last
        ``days`` days: peak unique users in 24 h, unique users in 7 days and
        the limit in force, for the dashboard's history chart."""
        today = periods.local_today(now, self._tz())
        rows = self.env["spoki.tier.history"].search_read(
            [("account_id", "=", account.id), ("date", ">", today - timedelta(days=days)), ("date", "<=", today)],
            ["date", "max_users_24h", "unique_users_7d", "tier_limit"],
            order="date",
        )
        if not rows:
            return False
        return {
            "labels": [fields.Date.to_string(row["date"]) for row in rows],
            "peak_24h": [row["max_users_24h"] for row in rows],
            "unique_7d": [row["unique_users_7d"] for row in rows],
            "limit": [row["tier_limit"] or None for row in rows],
        }

    @api.model
    def _get_paused_campaigns(self, account):
        """Campaigns paused by the quality guard."""
        campaigns = self.env["spoki.campaign"].search(
            [("account_id", "=", account.id), ("state", "=", "paused"), ("pause_reason", "!=", False)], limit=20
        )
        return [
            {"id": campaign.id, "name": campaign.display_name, "reason": campaign.pause_reason or ""}
            for campaign in campaigns
        ]

    # ------------------------------------------------------------
    # CHART
    # ------------------------------------------------------------

    @api.model
    def _chart_data(self, account, period, date_from, date_to, now):
        _ = self.env._
        if period not in periods.PERIODS:
            raise UserError(_("Unknown period: %(period)s", period=period))
        tz = self._tz()
        today = periods.local_today(now, tz)
        default_from, default_to = periods.default_range(period, today)
        date_from = fields.Date.to_date(date_from) if date_from else default_from
        date_to = fields.Date.to_date(date_to) if date_to else default_to
        if date_to < date_from:
            raise UserError(_("The end of the range is before its start."))
        buckets = periods.bucket_count(period, date_from, date_to)
        if buckets > periods.MAX_BUCKETS:
            raise UserError(
                _(
                    "%(count)s points are too many for one chart (at most %(max)s): choose a shorter range "
                    "or a longer period.",
                    count=buckets,
                    max=periods.MAX_BUCKETS,
                )
            )
        start, stop = periods.day_range_utc(date_from, date_to, tz)
        self.env["spoki.message"].flush_model(["account_id", "message_date", "direction", "state"])
        rows = self.env.execute_query(
            SQL(
                _CHART_SQL,
                period=period,
                step=periods.PERIOD_STEP[period],
                slot="1 minute" if period == "minute" else "15 minutes",
                first_local=date_from,
                last_local=periods.to_local(stop, tz) - timedelta(microseconds=1),
                tz=tz,
                account_id=account.id,
                start=start,
                stop=stop,
                sent_states=SENT_STATES,
            )
        )
        return {
            "account_id": account.id,
            "period": period,
            "date_from": fields.Date.to_string(date_from),
            "date_to": fields.Date.to_string(date_to),
            "tz": tz,
            "buckets": [fields.Datetime.to_string(row[0]) for row in rows],
            "labels": [periods.bucket_label(period, row[0]) for row in rows],
            "incoming": [row[1] for row in rows],
            "outgoing": [row[2] for row in rows],
            "total_incoming": sum(row[1] for row in rows),
            "total_outgoing": sum(row[2] for row in rows),
        }

    @api.model
    def _chart_export_sheet(self, chart):
        _ = self.env._
        header = [_("Period start"), _("Incoming"), _("Outgoing"), _("Total")]
        rows = [
            [fields.Datetime.to_datetime(bucket), incoming, outgoing, incoming + outgoing]
            for bucket, incoming, outgoing in zip(chart["buckets"], chart["incoming"], chart["outgoing"])
        ]
        title = _(
            "Messages by %(period)s",
            period=dict((option["key"], option["label"]) for option in self._period_options())[chart["period"]].lower(),
        )
        return title, header, rows

    @api.model
    def _chart_filename(self, account, chart, extension):
        name = "".join(ch if ch.isalnum() else "_" for ch in (account.name or "whatsapp")).strip("_")
        return f"whatsapp_messages_{name}_{chart['period']}_{chart['date_from']}_{chart['date_to']}.{extension}"

    # ------------------------------------------------------------
    # SAMPLE DATA (demo data and bench/bench_reports.py)
    # ------------------------------------------------------------

    @api.model
    def _generate_sample_history(self, account, count, days=90, numbers=5000, now=None, prefix="+39347"):
        """Insert ``count`` messages of ``account`` spread over the last
        ``days`` days (one SQL statement), plus about one conversation for
        every three messages. Deterministic: message ``g`` of the series is
        incoming when g % 4 = 0 (a customer reply), a free text when g % 4 = 1
        (an answer inside the window), a template otherwise (business-initiated,
        counting for the limit); outgoing states cycle through
        read/delivered/sent/failed. Rows are inserted in date order, as a
        ledger grows. For demo data and benchmarks only."""
        now = now or fields.Datetime.now()
        self.env.flush_all()
        params = {
            "account_id": account.id,
            "company_id": account.company_id.id,
            "count": int(count),
            "numbers": max(1, int(numbers)),
            "span": max(1, int(days * 86400)),
            "now": now,
            "prefix": prefix,
            "uid": self.env.uid,
        }
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO spoki_message (account_id, company_id, wa_phone, direction, kind, state,
                                           counts_for_limit, message_date, sent_at, delivered_at, read_at,
                                           failed_at, received_at, active, priority, attempt_count,
                                           create_uid, create_date, write_uid, write_date)
                SELECT %(account_id)s, %(company_id)s, s.phone, s.direction, s.kind, s.state,
                       s.direction = 'outgoing' AND s.kind = 'template',
                       s.at,
                       CASE WHEN s.state IN %(sent_states)s THEN s.at END,
                       CASE WHEN s.state IN %(delivered_states)s THEN s.at + interval '2 seconds' END,
                       CASE WHEN s.state = 'read' THEN s.at + interval '1 minute' END,
                       CASE WHEN s.state = 'failed' THEN s.at END,
                       CASE WHEN s.state = 'received' THEN s.at END,
                       TRUE, 0, 0,
                       %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM (
                        SELECT %(prefix)s || lpad(mod(g::bigint * 7919, %(numbers)s)::text, 7, '0') AS phone,
                               CASE WHEN mod(g, 4) = 0 THEN 'incoming' ELSE 'outgoing' END AS direction,
                               CASE WHEN mod(g, 4) IN (0, 1) THEN 'text' ELSE 'template' END AS kind,
                               CASE WHEN mod(g, 4) = 0 THEN 'received'
                                    WHEN mod(g, 10) < 4 THEN 'read'
                                    WHEN mod(g, 10) < 7 THEN 'delivered'
                                    WHEN mod(g, 10) < 9 THEN 'sent'
                                    ELSE 'failed' END AS state,
                               %(now)s::timestamp - make_interval(
                                   secs => mod(g::bigint * 2654435761, %(span)s)::double precision) AS at
                          FROM generate_series(1, %(count)s) AS g
                       ) s
                 ORDER BY s.at
                """,
                sent_states=SENT_STATES,
                delivered_states=DELIVERED_STATES,
                **params,
            )
        )
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO spoki_conversation (account_id, company_id, wa_phone, start_at, end_at, opened_by,
                                                create_uid, create_date, write_uid, write_date)
                SELECT %(account_id)s, %(company_id)s,
                       %(prefix)s || lpad(mod(g::bigint * 7919, %(numbers)s)::text, 7, '0'),
                       s.at, s.at + %(session)s,
                       CASE WHEN mod(g, 3) = 0 THEN 'customer' ELSE 'business' END,
                       %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM generate_series(1, GREATEST(1, %(count)s / 3)) AS g,
                       LATERAL (SELECT %(now)s::timestamp - make_interval(
                           secs => mod(g::bigint * 2654435761 * 3, %(span)s)::double precision) AS at) s
                 ORDER BY s.at
                """,
                session=SESSION,
                **params,
            )
        )
        self.env["spoki.message"].invalidate_model()
        self.env["spoki.conversation"].invalidate_model()
        return True

    @api.model
    def _demo_generate_history(self):
        """Demo data: three months of messages on the demo sandbox account."""
        account = self.env.ref("spoki_whatsapp.demo_account_sandbox", raise_if_not_found=False)
        if account and not self.env["spoki.message"].search_count([("account_id", "=", account.id)], limit=1):
            self._generate_sample_history(account, 3000, days=100, numbers=400)
            self._demo_tier_history(account)
        return True

    @api.model
    def _demo_tier_history(self, account, days=30):
        """Demo data: the daily tier history of the last ``days`` days, counted
        from the generated messages as the tier-tracking cron would have."""
        account = account.sudo()
        now = fields.Datetime.now()
        for back in range(days, -1, -1):
            at = now - timedelta(days=back)
            account._compute_tier_snapshot(at)
            account._tier_record_history(at)
