"""The product's shared terms, defined once (plain Python, no Odoo import).

Models, the send queue, the tier tracking and the reports addon all read these;
nobody redefines them. Labels are English source strings: Odoo translates the
selections built from them.
"""

from datetime import timedelta

# -- messages -------------------------------------------------------------------

#: States of a ``spoki.message``: queued → sending → sent → delivered → read;
#: failed; received (incoming).
MESSAGE_STATES = [
    ("queued", "Queued"),
    ("sending", "Sending"),
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("read", "Read"),
    ("failed", "Failed"),
    ("received", "Received"),
]
#: Statuses a provider reports for an outgoing message (status events).
STATUS_EVENT_STATES = [
    (code, label) for code, label in MESSAGE_STATES if code in ("sent", "delivered", "read", "failed")
]
#: Progress rank of outgoing states: a status event never moves a message back.
STATE_RANK = {"queued": 0, "sending": 0, "sent": 1, "delivered": 2, "read": 3}
#: Ticks shown in the chat (WhatsApp style).
STATE_TICKS = {
    "queued": "🕓",
    "sending": "🕓",
    "sent": "✓",
    "delivered": "✓✓",
    "read": "✓✓",
    "failed": "⚠",
    "received": "",
}
#: States that count for the messaging limit: reserved (``sending``) or reached
#: the provider. Failed messages never reached anybody.
COUNTED_STATES = ("sending", "sent", "delivered", "read")

# -- windows ----------------------------------------------------------------------

#: The customer-service window: free text is allowed for 24 hours after the
#: customer's last message, and replies inside it don't count for the limit.
SERVICE_WINDOW = timedelta(hours=24)
#: The messaging limit counts unique numbers over the rolling 24 hours.
LIMIT_WINDOW = timedelta(hours=24)

# -- account status -----------------------------------------------------------------

#: 'unknown': the provider didn't say (a new number, a value we don't know) —
#: never assumed good: it blocks tier promotions but demotes nothing.
QUALITY = [("high", "High"), ("medium", "Medium"), ("low", "Low"), ("unknown", "Unknown")]
#: Higher is worse; a portfolio shows its worst member (unknown hides a good
#: rating, not a known bad one).
QUALITY_RANK = {"high": 0, "unknown": 1, "medium": 2, "low": 3}
#: WhatsApp's own explanation of the quality rating (shown next to the badge).
QUALITY_RATING_HELP_URL = "https://www.facebook.com/business/help/896873687365001"
PHONE_STATUS = [
    ("connected", "Connected"),
    ("flagged", "Flagged"),
    ("restricted", "Restricted"),
    ("unknown", "Unknown"),
]
PHONE_STATUS_RANK = {"connected": 0, "unknown": 1, "restricted": 2, "flagged": 3}


def worst_quality(qualities):
    """The worst of several quality ratings (a shared limit shows the worst)."""
    return max(qualities, key=lambda q: QUALITY_RANK.get(q, 0), default="high")


def worst_phone_status(statuses):
    return max(statuses, key=lambda s: PHONE_STATUS_RANK.get(s, 0), default="connected")
