"""Quality guard on ``spoki.account``: pause the running marketing campaigns
of a number when its quality rating drops to the account's threshold, or when
WhatsApp refuses messages for spam rate limit; tell the managers; clear itself
once the cause is gone (campaigns are resumed by hand).

Run by the tier tracking (``tier/spoki_account.py``), by the account's write
hook (a quality change) and by the send queue and status events
(``_on_provider_errors``).
"""

import logging
from datetime import timedelta

from odoo import SUPERUSER_ID, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

QUALITY_GUARD_THRESHOLDS = [
    ("low", "Low quality"),
    ("medium", "Medium or low quality"),
    ("off", "Off"),
]
#: qualities that trip the guard, per threshold setting
GUARD_QUALITIES = {"low": ("low",), "medium": ("medium", "low"), "off": ()}
#: error code of a message refused by WhatsApp for spam rate limit (the Meta
#: provider maps Graph error 131048 to it)
SPAM_ERROR_CODE = "spam_rate_limited"
SPAM_LOOKBACK = timedelta(hours=1)


class SpokiAccount(models.Model):
    _inherit = "spoki.account"

    # quality guard
    quality_guard_threshold = fields.Selection(
        QUALITY_GUARD_THRESHOLDS,
        "Pause marketing campaigns on",
        default="low",
        required=True,
        tracking=True,
        help="When the quality rating drops to this level, or WhatsApp refuses messages for spam "
        "rate limit, the running marketing campaigns of this number are paused and the managers "
        "get an activity; they resume the campaigns by hand.",
    )
    quality_guard_state = fields.Selection(
        [("ok", "OK"), ("tripped", "Campaigns paused")],
        "Quality guard",
        default="ok",
        required=True,
        readonly=True,
        copy=False,
    )
    quality_guard_reason = fields.Selection(
        [("quality", "Quality rating dropped"), ("spam", "Spam rate limit errors")],
        "Quality guard reason",
        readonly=True,
        copy=False,
    )
    quality_guard_at = fields.Datetime("Quality guard tripped at", readonly=True, copy=False)

    # ------------------------------------------------------------
    # QUALITY GUARD
    # ------------------------------------------------------------

    def _quality_guard_after_quality_change(self, old_qualities, now):
        """Entering the configured quality trips the guard at once."""
        tripping = self.filtered(
            lambda a: (
                a.quality in GUARD_QUALITIES[a.quality_guard_threshold]
                and old_qualities[a.id] not in GUARD_QUALITIES[a.quality_guard_threshold]
            )
        )
        if tripping:
            tripping._quality_guard_trip("quality", now)

    def _quality_guard_check(self, now=None):
        """Trip the guard on low quality (not tripped yet) or on spam-rate-limit
        errors newer than the last trip; clear it when the quality is back and
        no spam error happened in the last hour (paused campaigns stay paused)."""
        now = self._tier_now(now)
        spam = self._quality_guard_spam_errors(now)
        by_quality = self.browse()
        for account in self:
            guard_qualities = GUARD_QUALITIES[account.quality_guard_threshold]
            count, last = spam.get(account.id, (0, None))
            if guard_qualities and count and (not account.quality_guard_at or last > account.quality_guard_at):
                account._quality_guard_trip("spam", now, spam_count=count)
            elif account.quality in guard_qualities:
                if account.quality_guard_state != "tripped":
                    by_quality |= account
            elif account.quality_guard_state == "tripped" and not count and account.quality != "unknown":
                # an unknown quality says nothing about the cause: the guard stays
                account.with_context(spoki_tier_no_hook=True).write({"quality_guard_state": "ok"})
                account.sudo().message_post(
                    body=self.env._(
                        "Quality guard cleared: the quality rating is %(quality)s and no spam-rate-limit error "
                        "came in the last hour. Paused campaigns stay paused until a manager resumes them.",
                        quality=dict(self._fields["quality"]._description_selection(self.env)).get(account.quality),
                    ),
                    subtype_xmlid="mail.mt_note",
                )
        if by_quality:
            by_quality._quality_guard_trip("quality", now)

    def _quality_guard_spam_errors(self, now):
        """``{account id: (count, last error)}`` of messages refused for spam
        rate limit in the last hour, failed or waiting for a retry (partial
        index spoki_message_spam_error_idx)."""
        if not self.ids:
            return {}
        self.env["spoki.message"].flush_model(["account_id", "error_code", "failed_at", "attempt_at"])
        self.env.cr.execute(
            SQL(
                """
            SELECT account_id, COUNT(*), MAX(COALESCE(failed_at, attempt_at))
              FROM spoki_message
             WHERE error_code = %(code)s
               AND account_id = ANY(%(ids)s)
               AND COALESCE(failed_at, attempt_at) > %(since)s
               AND COALESCE(failed_at, attempt_at) <= %(now)s
             GROUP BY account_id
            """,
                code=SPAM_ERROR_CODE,
                ids=self.ids,
                since=now - SPAM_LOOKBACK,
                now=now,
            )
        )
        return {account_id: (count, last) for account_id, count, last in self.env.cr.fetchall()}

    def _on_provider_errors(self, error_codes):
        """The provider error codes a batch of sends or status events got on
        this account: a spam-rate-limit error trips the guard at once (not
        again within the hour for the same cause)."""
        if SPAM_ERROR_CODE in set(error_codes or ()):
            now = self._tier_now()
            accounts = self.sudo().filtered(
                lambda a: (
                    GUARD_QUALITIES[a.quality_guard_threshold]
                    and not (
                        a.quality_guard_state == "tripped"
                        and a.quality_guard_reason == "spam"
                        and a.quality_guard_at
                        and a.quality_guard_at > now - SPAM_LOOKBACK
                    )
                )
            )
            if accounts:
                accounts._quality_guard_trip("spam", now)
        return True

    def _quality_guard_campaigns(self):
        """Running marketing campaigns of these accounts."""
        return (
            self.env["spoki.campaign"]
            .sudo()
            .search(
                [("account_id", "in", self.ids), ("state", "=", "running"), ("template_id.category", "=", "marketing")]
            )
        )

    def _quality_guard_trip(self, reason, now=None, spam_count=0):
        """Pause the running marketing campaigns, tell the managers, remember it."""
        now = self._tier_now(now)
        for account in self.sudo():
            if reason == "spam" and spam_count:
                reason_text = self.env._(
                    "WhatsApp refused %(count)s messages of %(account)s for spam rate limit in the last hour.",
                    count=spam_count,
                    account=account.display_name,
                )
            elif reason == "spam":
                reason_text = self.env._(
                    "WhatsApp refused messages of %(account)s for spam rate limit.",
                    account=account.display_name,
                )
            else:
                reason_text = self.env._(
                    "The quality rating of %(account)s dropped to %(quality)s.",
                    account=account.display_name,
                    quality=dict(self._fields["quality"]._description_selection(self.env)).get(account.quality),
                )
            campaigns = account._quality_guard_campaigns()
            if campaigns:
                account._quality_guard_pause(campaigns, reason_text)
            account.with_context(spoki_tier_no_hook=True).write(
                {
                    "quality_guard_state": "tripped",
                    "quality_guard_reason": reason,
                    "quality_guard_at": now,
                }
            )
            if campaigns:
                body = self.env._(
                    "Quality guard: %(reason)s %(count)s running marketing campaigns paused (%(names)s); "
                    "resume them by hand when the cause is fixed.",
                    reason=reason_text,
                    count=len(campaigns),
                    names=", ".join(campaigns.mapped("display_name")),
                )
            else:
                body = self.env._(
                    "Quality guard: %(reason)s No running marketing campaign to pause.", reason=reason_text
                )
            account.message_post(body=body, subtype_xmlid="mail.mt_note")
            account._quality_guard_notify_managers(reason_text, campaigns)

    def _quality_guard_pause(self, campaigns, reason_text):
        campaigns.action_pause(reason=reason_text)

    def _quality_guard_notify_managers(self, reason_text, campaigns):
        self.ensure_one()
        group = self.env.ref("spoki_whatsapp.group_spoki_manager", raise_if_not_found=False)
        if not group:
            return
        managers = (
            self.env["res.users"]
            .sudo()
            .search(
                [
                    ("groups_id", "in", group.id),
                    ("share", "=", False),
                    ("company_ids", "in", self.company_id.id),
                    ("id", "!=", SUPERUSER_ID),
                ]
            )
        )
        summary = self.env._("WhatsApp quality guard: check %(account)s", account=self.display_name)
        note = reason_text
        if campaigns:
            note += " " + self.env._(
                "Paused campaigns: %(names)s. Resume them by hand when the cause is fixed.",
                names=", ".join(campaigns.mapped("display_name")),
            )
        open_for = self.activity_ids.filtered(lambda act: act.summary == summary).mapped("user_id")
        for manager in managers - open_for:
            self.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=summary,
                note=note,
                user_id=manager.id,
            )
