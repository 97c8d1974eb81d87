"""Automation rules: matching incoming texts and naming occurrences (plain
Python, no Odoo import).

An *occurrence* is what a rule fires for once per contact: the entry into a
list at a moment, a reminder's moment, an incoming message, a webhook call.
``spoki.automation.run`` is unique on (rule, contact, occurrence), so the
same occurrence never fires twice (cron late or run twice, two servers, a
retried webhook)."""

import hashlib
import json
import re
import unicodedata

#: Trigger codes added to base_automation (labels translated by Odoo).
TRIGGERS = [
    ("on_spoki_list_entry", "WhatsApp: contact enters a list"),
    ("on_spoki_date", "WhatsApp: date of a dynamic field"),
    ("on_spoki_incoming", "WhatsApp: incoming message"),
]
TRIGGER_CODES = tuple(code for code, _label in TRIGGERS)

#: Server action types added to ir.actions.server.
ACTION_TYPES = [
    ("spoki_template", "Send WhatsApp template"),
    ("spoki_text", "Send WhatsApp reply"),
    ("spoki_tags", "WhatsApp tags"),
    ("spoki_list", "WhatsApp list"),
    ("spoki_assign", "Assign WhatsApp chat"),
]
ACTION_CODES = tuple(code for code, _label in ACTION_TYPES)

#: Offsets of date rules: unit → (SQL interval unit, wall-clock arithmetic).
#: Days move the local date (09:00 stays 09:00 across a DST change); minutes
#: and hours are absolute ("1 hour before" is 60 real minutes).
OFFSET_UNITS = {"minutes": ("mins", False), "hours": ("hours", False), "days": ("days", True)}

_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"\w+", re.UNICODE)


def normalize_text(text):
    """Casefolded text without accents, surrounding spaces or repeated
    spaces: "  Sono  Interessato " and "sono interessato" compare equal."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(char for char in text if not unicodedata.combining(char))
    return _SPACES.sub(" ", text).strip().casefold()


def parse_keywords(spec):
    """Keywords of a rule: comma or newline separated, normalised, unique."""
    seen = []
    for part in re.split(r"[,\n]", spec or ""):
        keyword = normalize_text(part)
        if keyword and keyword not in seen:
            seen.append(keyword)
    return seen


def text_matches(text, mode, expected):
    """Whether an incoming ``text`` fires a rule: ``mode`` 'equals' (a quick
    reply button's text: the whole message, normalised) or 'keywords' (any
    keyword as whole words of the message)."""
    body = normalize_text(text)
    if not body:
        return False
    if mode == "equals":
        return body == normalize_text(expected)
    words = " " + " ".join(_WORD.findall(body)) + " "
    return any(" " + " ".join(_WORD.findall(keyword)) + " " in words for keyword in parse_keywords(expected))


def webhook_occurrence(payload, raw=b""):
    """Occurrence of a webhook call: the caller's idempotency key (``id`` or
    ``idempotency_key`` in the payload), else a digest of the body, so a
    retried call (same body) is the same occurrence."""
    if isinstance(payload, dict):
        for key in ("idempotency_key", "id"):
            if payload.get(key) not in (None, ""):
                return f"webhook:{str(payload[key])[:200]}"
    if not raw:
        raw = json.dumps(payload, sort_keys=True, default=str).encode()
    return "webhook:" + hashlib.sha256(raw).hexdigest()
