from odoo import fields, models

MESSAGE_STATES = [
    ("queued", "Queued"),
    ("sending", "Sending"),
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("read", "Read"),
    ("failed", "Failed"),
    ("received", "Received"),
]


class SpokiMessage(models.Model):
    """One WhatsApp message, outgoing or incoming: the permanent ledger reports
    and tier counters read (never deleted by a cron)."""

    _name = "spoki.message"
    _description = "WhatsApp message"
    _order = "message_date desc, id desc"
    _rec_name = "wa_phone"

    account_id = fields.Many2one("spoki.account", required=True, ondelete="restrict", index=True)
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
    state = fields.Selection(MESSAGE_STATES, required=True, default="queued", index=True)
    error_code = fields.Char()
    error_message = fields.Char("Error")
    provider_message_id = fields.Char("Provider message ID", copy=False)
    idempotency_key = fields.Char(copy=False, readonly=True)
    campaign_id = fields.Many2one("spoki.campaign", ondelete="set null", index="btree_not_null")
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
