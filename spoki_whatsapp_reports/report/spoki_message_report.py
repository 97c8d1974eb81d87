from odoo import fields, models, tools
from odoo.tools import SQL
from odoo.tools.sql import drop_index

from odoo.addons.spoki_whatsapp.tools.vocabulary import MESSAGE_STATES

from ..models.spoki_monthly_report import DELIVERED_STATES, SENT_STATES


class SpokiMessageReport(models.Model):
    """Messages analysis: one row per message with 0/1 measures, for the pivot
    and graph views (slice by account, campaign, template, state, direction,
    kind and date)."""

    _name = "spoki.message.report"
    _description = "WhatsApp messages analysis"
    _auto = False
    _order = "message_date desc"
    _rec_name = "wa_phone"

    message_date = fields.Datetime("Date", readonly=True)
    account_id = fields.Many2one("spoki.account", "WhatsApp account", readonly=True)
    company_id = fields.Many2one("res.company", "Company", readonly=True)
    partner_id = fields.Many2one("res.partner", "Contact", readonly=True)
    wa_phone = fields.Char("Number", readonly=True)
    campaign_id = fields.Many2one("spoki.campaign", "Campaign", readonly=True)
    template_id = fields.Many2one("spoki.template", "Template", readonly=True)
    conversation_id = fields.Many2one("spoki.conversation", "Conversation", readonly=True)
    direction = fields.Selection([("outgoing", "Outgoing"), ("incoming", "Incoming")], readonly=True)
    kind = fields.Selection([("template", "Template"), ("text", "Free text")], readonly=True)
    state = fields.Selection(MESSAGE_STATES, readonly=True)
    counts_for_limit = fields.Boolean("Counts for the messaging limit", readonly=True)
    message_count = fields.Integer("Messages", readonly=True, aggregator="sum")
    exchanged_count = fields.Integer(
        "Exchanged", readonly=True, aggregator="sum", help="Received, or sent and accepted by WhatsApp."
    )
    sent_count = fields.Integer("Messages sent", readonly=True, aggregator="sum")
    delivered_count = fields.Integer("Messages delivered", readonly=True, aggregator="sum")
    read_count = fields.Integer(
        "Messages read", readonly=True, aggregator="sum", help="Only users with read receipts enabled are counted."
    )
    failed_count = fields.Integer("Failed messages", readonly=True, aggregator="sum")
    received_count = fields.Integer("Messages received", readonly=True, aggregator="sum")

    def _select(self):
        return SQL(
            """
            SELECT m.id AS id,
                   m.message_date,
                   m.account_id,
                   m.company_id,
                   m.partner_id,
                   m.wa_phone,
                   m.campaign_id,
                   m.template_id,
                   m.conversation_id,
                   m.direction,
                   m.kind,
                   m.state,
                   COALESCE(m.counts_for_limit, FALSE) AS counts_for_limit,
                   1 AS message_count,
                   CASE WHEN m.direction = 'incoming' OR m.state IN %(sent)s THEN 1 ELSE 0 END AS exchanged_count,
                   CASE WHEN m.direction = 'outgoing' AND m.state IN %(sent)s THEN 1 ELSE 0 END AS sent_count,
                   CASE WHEN m.direction = 'outgoing' AND m.state IN %(delivered)s THEN 1 ELSE 0 END AS delivered_count,
                   CASE WHEN m.direction = 'outgoing' AND m.state = 'read' THEN 1 ELSE 0 END AS read_count,
                   CASE WHEN m.direction = 'outgoing' AND m.state = 'failed' THEN 1 ELSE 0 END AS failed_count,
                   CASE WHEN m.direction = 'incoming' THEN 1 ELSE 0 END AS received_count
            """,
            sent=SENT_STATES,
            delivered=DELIVERED_STATES,
        )

    def _from(self):
        return SQL("FROM spoki_message m")

    def init(self):
        cr = self.env.cr
        tools.drop_view_if_exists(cr, self._table)
        cr.execute(
            SQL("CREATE OR REPLACE VIEW %s AS (%s %s)", SQL.identifier(self._table), self._select(), self._from())
        )
        self._ensure_message_indexes()

    def _ensure_message_indexes(self):
        """Covering index of the report aggregates: every figure of the
        dashboard, the monthly report and the chart filters spoki_message by
        (account_id, message_date) and reads only direction, state, kind and
        wa_phone, so PostgreSQL answers from the index alone (index-only scan)
        without visiting the table; and one for the conversations."""
        cr = self.env.cr
        cr.execute(
            SQL(
                """
                CREATE INDEX IF NOT EXISTS spoki_message_report_idx
                    ON spoki_message (account_id, message_date)
                    INCLUDE (direction, state, kind, wa_phone)
                """
            )
        )
        # core's (account_id, message_date) index is this one without INCLUDE:
        # one index less to write for every message
        drop_index(cr, "spoki_message_account_date_idx", "spoki_message")
        if not self.env["spoki.message"]._spoki_has_index("spoki_conversation", ["account_id", "start_at"]):
            tools.create_index(
                cr, "spoki_conversation_account_start_idx", "spoki_conversation", ["account_id", "start_at"]
            )
