from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL
from odoo.tools.misc import format_date

from odoo.addons.base.models.res_partner import _tz_get
from odoo.addons.spoki_whatsapp.tools.vocabulary import STATE_RANK

from ..tools import export, periods

#: outgoing states that mean "the provider accepted it" (sent ⊇ delivered ⊇ read),
#: by the progress rank of the message states
SENT_STATES = tuple(state for state, rank in STATE_RANK.items() if rank >= STATE_RANK["sent"])
DELIVERED_STATES = tuple(state for state, rank in STATE_RANK.items() if rank >= STATE_RANK["delivered"])

#: figures of a month/day, in display order
FIGURES = (
    "contact_count",
    "conversation_count",
    "message_count",
    "template_count",
    "text_count",
    "received_count",
    "sent_count",
    "delivered_count",
    "read_count",
    "failed_count",
)

# One query per figure family, over the (account_id, message_date) index; the
# same query gives the daily rows and the month's totals (GROUPING SETS), so
# daily and total figures can never disagree. ``exchanged`` = received, or sent
# and accepted by the provider (queued and failed messages were not exchanged).
# People contacted are counted on a 64-bit hash of the number, not on the text:
# the distinct count sorts every number of the month, and numbers share their
# first 8 bytes ("+39347…"), which defeats PostgreSQL's abbreviated keys, so
# the sort of the text costs 3-4 times the sort of the bigint (the whole report
# 1.5-2× faster over 1,000,000 messages, see bench/README.md). Two different
# numbers of the same month would have to collide on 64 bits for the figure to
# be off by one: with n numbers the chance is about n² / 2⁶⁵ (3·10⁻⁸ for 10⁶).
_MESSAGES_SQL = """
    SELECT %(day)s AS day, %(grouping)s AS is_total,
           COUNT(DISTINCT phone_key) FILTER (WHERE exchanged) AS contact_count,
           COUNT(*) FILTER (WHERE exchanged) AS message_count,
           COUNT(*) FILTER (WHERE sent AND kind = 'template') AS template_count,
           COUNT(*) FILTER (WHERE sent AND kind = 'text') AS text_count,
           COUNT(*) FILTER (WHERE direction = 'incoming') AS received_count,
           COUNT(*) FILTER (WHERE sent) AS sent_count,
           COUNT(*) FILTER (WHERE direction = 'outgoing' AND state IN %(delivered_states)s) AS delivered_count,
           COUNT(*) FILTER (WHERE direction = 'outgoing' AND state = 'read') AS read_count,
           COUNT(*) FILTER (WHERE direction = 'outgoing' AND state = 'failed') AS failed_count
      FROM (
            SELECT (m.message_date AT TIME ZONE 'UTC' AT TIME ZONE %(tz)s)::date AS day,
                   hashtextextended(m.wa_phone, 0) AS phone_key, m.direction, m.kind, m.state,
                   (m.direction = 'outgoing' AND m.state IN %(sent_states)s) AS sent,
                   (m.direction = 'incoming' OR m.state IN %(sent_states)s) AS exchanged
              FROM spoki_message m
             WHERE m.account_id = %(account_id)s
               AND m.message_date >= %(start)s AND m.message_date < %(stop)s
           ) msg
     GROUP BY %(group_by)s
"""

_CONVERSATIONS_SQL = """
    SELECT %(day)s AS day, %(grouping)s AS is_total, COUNT(*) AS conversation_count
      FROM (
            SELECT (c.start_at AT TIME ZONE 'UTC' AT TIME ZONE %(tz)s)::date AS day
              FROM spoki_conversation c
             WHERE c.account_id = %(account_id)s
               AND c.start_at >= %(start)s AND c.start_at < %(stop)s
           ) conv
     GROUP BY %(group_by)s
"""


MONTHS = [
    ("1", "January"),
    ("2", "February"),
    ("3", "March"),
    ("4", "April"),
    ("5", "May"),
    ("6", "June"),
    ("7", "July"),
    ("8", "August"),
    ("9", "September"),
    ("10", "October"),
    ("11", "November"),
    ("12", "December"),
]


class SpokiMonthlyReport(models.Model):
    """Figures of one calendar month (in a timezone) for one WhatsApp account:
    the guide's "Reports" section. Stored, so it can be reopened, printed and
    downloaded; "Refresh" recomputes it from the messages."""

    _name = "spoki.monthly.report"
    _description = "WhatsApp monthly report"
    _order = "date_from desc, account_id, id desc"

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    name = fields.Char(compute="_compute_name", store=True)
    account_id = fields.Many2one(
        "spoki.account",
        "WhatsApp account",
        required=True,
        ondelete="cascade",
        index=True,
        default=lambda self: self.env["spoki.account"].search([], limit=1),
    )
    company_id = fields.Many2one(related="account_id.company_id", store=True, index=True)
    year = fields.Integer(required=True, default=lambda self: self._default_year_month()[0])
    month = fields.Selection(MONTHS, required=True, default=lambda self: str(self._default_year_month()[1]))
    tz = fields.Selection(
        _tz_get,
        "Timezone",
        required=True,
        default=lambda self: self.env.context.get("tz") or self.env.user.tz or "UTC",
        help="Days and months start at midnight in this timezone.",
    )
    date_from = fields.Date("From", compute="_compute_dates", store=True)
    date_to = fields.Date("To", compute="_compute_dates", store=True)
    computed_at = fields.Datetime("Computed on", readonly=True)
    contact_count = fields.Integer(
        "People contacted", readonly=True, help="Unique phone numbers with which messages were exchanged."
    )
    conversation_count = fields.Integer(
        "Conversations",
        readonly=True,
        help="24-hour sessions started in the month (first message exchanged with a number when no session was open).",
    )
    message_count = fields.Integer(
        "Messages exchanged", readonly=True, help="Messages received plus messages sent (accepted by WhatsApp)."
    )
    template_count = fields.Integer("Templates sent", readonly=True)
    text_count = fields.Integer("Free messages sent", readonly=True)
    received_count = fields.Integer("Messages received", readonly=True)
    sent_count = fields.Integer(
        "Messages sent", readonly=True, help="Outgoing messages accepted by WhatsApp (sent, delivered or read)."
    )
    delivered_count = fields.Integer(
        "Messages delivered", readonly=True, help="Outgoing messages delivered to the phone (delivered or read)."
    )
    read_count = fields.Integer(
        "Messages read",
        readonly=True,
        help="Only users who enabled read receipts on WhatsApp are counted: messages actually read are more.",
    )
    failed_count = fields.Integer("Failed messages", readonly=True)
    line_ids = fields.One2many("spoki.monthly.report.line", "report_id", "Daily figures", readonly=True)

    _sql_constraints = [
        ("year_range", "CHECK(year BETWEEN 2000 AND 2999)", "The year must be between 2000 and 2999."),
    ]

    # ------------------------------------------------------------
    # DEFAULTS / COMPUTE
    # ------------------------------------------------------------

    @api.model
    def _user_tz(self):
        tz = self.env.context.get("tz") or self.env.user.tz or "UTC"
        try:
            return periods.check_tz(tz)
        except ValueError:
            return "UTC"

    @api.model
    def _default_year_month(self):
        today = periods.local_today(fields.Datetime.now(), self._user_tz())
        return periods.previous_month(today)

    @api.depends("year", "month")
    def _compute_dates(self):
        for report in self:
            if report.year and report.month and 2000 <= report.year <= 2999:
                report.date_from, report.date_to = periods.month_range(report.year, int(report.month))
            else:
                report.date_from = report.date_to = False

    @api.depends("account_id.name", "date_from")
    def _compute_name(self):
        for report in self:
            if report.date_from:
                month = format_date(self.env, report.date_from, date_format="MMMM y")
                report.name = f"{report.account_id.name or ''} – {month}"
            else:
                report.name = report.account_id.name or False

    @api.constrains("year")
    def _check_year(self):
        for report in self:
            if not 2000 <= report.year <= 2999:
                raise ValidationError(self.env._("The year must be between 2000 and 2999."))

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        reports = super().create(vals_list)
        reports._refresh()
        return reports

    def write(self, vals):
        res = super().write(vals)
        if {"account_id", "year", "month", "tz"} & set(vals):
            self._refresh()
        return res

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_refresh(self):
        self._refresh()
        return True

    def action_download_xlsx(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_url",
            "url": f"/spoki_whatsapp_reports/monthly/{self.id}/xlsx",
            "target": "download",
        }

    def action_download_csv(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_url",
            "url": f"/spoki_whatsapp_reports/monthly/{self.id}/csv",
            "target": "download",
        }

    def action_print_pdf(self):
        return self.env.ref("spoki_whatsapp_reports.spoki_monthly_report_action_pdf").report_action(self)

    @api.model
    def action_open_month(self, account_id, year=None, month=None):
        """Open (creating it when missing) the report of a month, refreshed;
        the dashboard's "Monthly report" button."""
        account = self.env["spoki.account"].browse(int(account_id)).exists()
        account.check_access("read")
        if not (year and month):
            year, month = self._default_year_month()
        tz = self._user_tz()
        report = self.search(
            [("account_id", "=", account.id), ("year", "=", int(year)), ("month", "=", str(month)), ("tz", "=", tz)],
            limit=1,
        )
        if report:
            report._refresh()
        else:
            report = self.create({"account_id": account.id, "year": int(year), "month": str(month), "tz": tz})
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": report.id,
            "views": [(False, "form")],
            "target": "current",
        }

    # ------------------------------------------------------------
    # FIGURES
    # ------------------------------------------------------------

    def _refresh(self):
        """Recompute totals and daily lines from the messages (two SQL queries)."""
        if not self:
            return
        self.check_access("write")
        Line = self.env["spoki.monthly.report.line"].sudo()
        Line.search([("report_id", "in", self.ids)]).unlink()
        line_vals = []
        now = fields.Datetime.now()
        for report in self:
            totals, daily = self._compute_figures(
                report.account_id, report.date_from, report.date_to, report.tz, daily=True
            )
            super(SpokiMonthlyReport, report).write(dict(totals, computed_at=now))
            line_vals += [dict(figures, report_id=report.id, day=day) for day, figures in daily]
        Line.create(line_vals)

    @api.model
    def _compute_figures(self, account, date_from, date_to, tz, daily=False):
        """Figures of ``account`` for local days ``date_from``..``date_to``
        (included) in ``tz``: ``(totals, [(day, figures), …])``; the daily list
        has every day of the range (zeros included) when ``daily`` is set.

        No access check: callers check the account (the queries bypass record rules).
        """
        start, stop = periods.day_range_utc(date_from, date_to, tz)
        self.env["spoki.message"].flush_model(["account_id", "message_date", "wa_phone", "direction", "kind", "state"])
        self.env["spoki.conversation"].flush_model(["account_id", "start_at"])
        params = {
            "tz": periods.check_tz(tz),
            "account_id": account.id,
            "start": start,
            "stop": stop,
        }
        if daily:
            shape = {"day": SQL("day"), "grouping": SQL("GROUPING(day)"), "group_by": SQL("GROUPING SETS ((day), ())")}
        else:
            shape = {"day": SQL("NULL::date"), "grouping": SQL("1"), "group_by": SQL("()")}
        zero = dict.fromkeys(FIGURES, 0)
        totals = dict(zero)
        days = {}
        queries = (
            SQL(_MESSAGES_SQL, sent_states=SENT_STATES, delivered_states=DELIVERED_STATES, **shape, **params),
            SQL(_CONVERSATIONS_SQL, **shape, **params),
        )
        for query in queries:
            for values in self.env.execute_query_dict(query):
                day, is_total = values.pop("day"), values.pop("is_total")
                target = totals if is_total else days.setdefault(day, dict(zero))
                target.update(values)
        daily_rows = []
        if daily:
            day = date_from
            while day <= date_to:
                daily_rows.append((day, days.get(day, dict(zero))))
                day += timedelta(days=1)
        return totals, daily_rows

    # ------------------------------------------------------------
    # EXPORTS
    # ------------------------------------------------------------

    @api.model
    def _figure_labels(self):
        """Translated column titles of ``FIGURES``, in order."""
        return [self._fields[name].get_description(self.env)["string"] for name in FIGURES]

    def _export_sheets(self):
        """``[(title, header, rows)]``: the month's totals and one row per day."""
        self.ensure_one()
        _ = self.env._
        labels = self._figure_labels()
        totals_rows = [
            [_("WhatsApp account"), self.account_id.display_name],
            [_("Month"), f"{self.year}-{int(self.month):02d}"],
            [_("From"), self.date_from],
            [_("To"), self.date_to],
            [_("Timezone"), self.tz],
        ]
        totals_rows += [[label, self[name]] for name, label in zip(FIGURES, labels)]
        totals_rows.append([_("Note"), self._read_receipts_note()])
        daily_rows = [[line.day] + [line[name] for name in FIGURES] for line in self.line_ids.sorted("day")]
        return [
            (_("Totals"), [_("Figure"), _("Value")], totals_rows),
            (_("Daily"), [_("Day")] + labels, daily_rows),
        ]

    def _export_csv(self):
        """The daily rows, then a "Total" row (people contacted in the total row
        are the month's unique numbers, not the sum of the days)."""
        self.ensure_one()
        _title, header, rows = self._export_sheets()[1]
        rows = rows + [[self.env._("Total")] + [self[name] for name in FIGURES]]
        return export.csv_bytes(header, rows)

    def _export_xlsx(self):
        self.ensure_one()
        return export.xlsx_bytes(self._export_sheets())

    def _export_filename(self, extension):
        self.ensure_one()
        account = "".join(ch if ch.isalnum() else "_" for ch in (self.account_id.name or "whatsapp")).strip("_")
        return f"whatsapp_report_{account}_{self.year}-{int(self.month):02d}.{extension}"

    @api.model
    def _read_receipts_note(self):
        return self.env._(
            "Read messages only count users who enabled read receipts on WhatsApp: "
            "the messages actually read are more than those shown."
        )
