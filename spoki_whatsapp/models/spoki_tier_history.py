from odoo import api, fields, models
from odoo.tools import SQL, create_index
from odoo.tools.sql import column_exists, table_exists

from .spoki_account import PHONE_STATUS, QUALITY


class SpokiTierHistory(models.Model):
    """One row per WhatsApp account and day: the tier and the unique-user
    counters as the tier-tracking cron last saw them that day (upserted), for
    the dashboard chart and to audit promotions."""

    _name = "spoki.tier.history"
    _description = "WhatsApp tier history"
    _order = "date desc, account_id"

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    account_id = fields.Many2one("spoki.account", "Account", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="account_id.company_id", store=True, index=True)
    date = fields.Date(required=True, index=True)
    tier_policy = fields.Selection([("guide", "Spoki guide"), ("meta", "Meta (October 2025)")], "Tier policy")
    tier_level_id = fields.Many2one("spoki.tier.level", "Messaging tier", ondelete="set null")
    tier_limit = fields.Integer("Unique users / 24 h", help="Limit in force; 0 means unlimited.")
    unique_users_24h = fields.Integer("Unique users (24 h)", help="At the last check of the day.")
    max_users_24h = fields.Integer("Peak unique users (24 h)", help="Highest 24-hour count seen that day.")
    unique_users_7d = fields.Integer("Unique users (7 days)", help="At the last check of the day.")
    quality = fields.Selection(QUALITY, "Quality rating")
    phone_status = fields.Selection(PHONE_STATUS, "Phone status")

    _sql_constraints = [
        ("account_date_uniq", "unique(account_id, date)", "One history row per account and day."),
    ]

    # ------------------------------------------------------------
    # SCHEMA
    # ------------------------------------------------------------

    def init(self):
        # spoki.message is created before this model (models/__init__ order);
        # the guards keep a partial upgrade safe.
        # The unique-user counters use spoki.message's own partial index
        # spoki_message_limit_idx. This tiny one finds the spam-rate-limit
        # errors of the quality guard (failed, or waiting for a retry).
        cr = self.env.cr
        if not table_exists(cr, "spoki_message"):
            return
        if all(column_exists(cr, "spoki_message", column) for column in ("error_code", "failed_at", "attempt_at")):
            create_index(
                cr,
                "spoki_message_spam_error_idx",
                "spoki_message",
                ["account_id", "(COALESCE(failed_at, attempt_at))"],
                where="error_code = 'spam_rate_limited'",
            )

    # ------------------------------------------------------------
    # COMPUTE
    # ------------------------------------------------------------

    @api.depends("account_id", "date")
    def _compute_display_name(self):
        for row in self:
            row.display_name = f"{row.account_id.display_name} – {row.date or ''}"

    # ------------------------------------------------------------
    # PRIVATE
    # ------------------------------------------------------------

    @api.model
    def _upsert(self, rows):
        """Insert or update today's rows in one statement.

        ``rows``: list of dicts with account_id, company_id, date, tier_policy,
        tier_level_id, tier_limit, unique_users_24h, unique_users_7d, quality,
        phone_status. The peak of the day keeps the highest 24 h count.
        """
        if not rows:
            return
        uid = self.env.uid
        now = fields.Datetime.now()
        values = [
            SQL(
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                row["account_id"],
                row["company_id"],
                row["date"],
                row["tier_policy"],
                row["tier_level_id"] or None,
                row["tier_limit"],
                row["unique_users_24h"],
                row["unique_users_24h"],
                row["unique_users_7d"],
                row["quality"],
                row["phone_status"],
                uid,
                now,
                uid,
                now,
            )
            for row in rows
        ]
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
            INSERT INTO spoki_tier_history (
                account_id, company_id, date, tier_policy, tier_level_id, tier_limit,
                unique_users_24h, max_users_24h, unique_users_7d, quality, phone_status,
                create_uid, create_date, write_uid, write_date)
            VALUES %s
            ON CONFLICT (account_id, date) DO UPDATE SET
                company_id = EXCLUDED.company_id,
                tier_policy = EXCLUDED.tier_policy,
                tier_level_id = EXCLUDED.tier_level_id,
                tier_limit = EXCLUDED.tier_limit,
                unique_users_24h = EXCLUDED.unique_users_24h,
                max_users_24h = GREATEST(spoki_tier_history.max_users_24h, EXCLUDED.max_users_24h),
                unique_users_7d = EXCLUDED.unique_users_7d,
                quality = EXCLUDED.quality,
                phone_status = EXCLUDED.phone_status,
                write_uid = EXCLUDED.write_uid,
                write_date = EXCLUDED.write_date
            """,
                SQL(", ").join(values),
            )
        )
        self.invalidate_model()
