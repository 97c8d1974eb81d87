"""``spoki.status.event``: status events waiting for their message.

Meta sends the ``sent`` status of a message within 1–3 seconds, sometimes
before the send queue has stored the message's provider id (the id comes back
with the provider's answer and is written after it). Such an event, and any
event whose provider id is not known yet, is kept here instead of being
dropped; ``spoki.message._apply_pending_status_events`` applies it once the
id is written (the send queue calls it after writing outcomes, the status
sync cron catches up the rest) and removes it. Events nobody claims (a
message sent by another system on the same number) expire after
``PENDING_EVENT_DAYS`` days.

Written and read only by the inbound code through SQL (bulk upserts): no
access for any user (``security/ir.model.access.csv``), no log-access
columns.
"""

from odoo import fields, models

from ..tools.vocabulary import STATUS_EVENT_STATES

#: days an unclaimed event is kept
PENDING_EVENT_DAYS = 7


class SpokiStatusEvent(models.Model):
    _name = "spoki.status.event"
    _description = "WhatsApp status event waiting for its message"
    _log_access = False
    _order = "id"

    account_id = fields.Many2one("spoki.account", required=True, ondelete="cascade")
    provider_message_id = fields.Char("Provider message ID", required=True)
    idempotency_key = fields.Char(index="btree_not_null")
    status = fields.Selection(STATUS_EVENT_STATES, required=True)
    event_time = fields.Datetime("Event time", required=True)
    error_code = fields.Char()
    error_message = fields.Char("Error")
    received_at = fields.Datetime("Received on", required=True, index=True)

    _sql_constraints = [
        (
            "event_uniq",
            "unique(account_id, provider_message_id, status)",
            "A status event is kept once per message and status.",
        ),
    ]
