from datetime import datetime, timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import SQL

from odoo.addons.spoki_whatsapp.tools.providers.base import AccountInfo

from .common import SpokiCommon

T0 = datetime(2025, 6, 2, 9, 0, 0)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class TierCase(SpokiCommon):
    """Accounts created before T0 (injected clock) and messages written
    straight into spoki_message: the tests don't go through the send queue."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tier1 = cls.env.ref("spoki_whatsapp.tier_guide_1")
        cls.tier2 = cls.env.ref("spoki_whatsapp.tier_guide_2")
        cls.tier4 = cls.env.ref("spoki_whatsapp.tier_guide_4")
        cls.meta_250 = cls.env.ref("spoki_whatsapp.tier_meta_250")
        cls.meta_2k = cls.env.ref("spoki_whatsapp.tier_meta_2k")
        cls.guide = cls._new_account("Guide number", "+390200000101")

    @classmethod
    def _new_account(cls, name, phone, **vals):
        return (
            cls.env["spoki.account"]
            .with_context(spoki_clock=T0 - 10 * DAY)
            .create(dict({"name": name, "phone": phone, "provider": "sandbox", "company_id": cls.company_a.id}, **vals))
            .with_context(spoki_clock=None)
        )

    def _send(
        self,
        account,
        count,
        at,
        start=0,
        prefix="+39333",
        counts=True,
        state="sent",
        direction="outgoing",
        error_code=None,
        failed_at=None,
    ):
        """``count`` messages to distinct numbers ``prefix + 7 digits`` from ``start``, in one INSERT."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
            INSERT INTO spoki_message (
                account_id, company_id, wa_phone, direction, kind, state, counts_for_limit, message_date,
                sent_at, error_code, failed_at, active, priority, attempt_count,
                create_uid, create_date, write_uid, write_date)
            SELECT %(account)s, %(company)s, %(prefix)s || lpad(n::text, 7, '0'), %(direction)s, 'template',
                   %(state)s, %(counts)s, %(at)s, %(at)s, %(error_code)s, %(failed_at)s, true, 0, 1,
                   %(uid)s, %(at)s, %(uid)s, %(at)s
              FROM generate_series(%(start)s, %(stop)s) AS n
            """,
                account=account.id,
                company=account.company_id.id,
                prefix=prefix,
                direction=direction,
                state=state,
                counts=counts,
                at=at,
                error_code=error_code,
                failed_at=failed_at,
                uid=self.env.uid,
                start=start,
                stop=start + count - 1,
            )
        )
        self.env["spoki.message"].invalidate_model()

    def _track(self, accounts, at):
        return accounts.with_context(spoki_clock=at)._track_tiers(at)

    def _reasons(self, account):
        return set(filter(None, (account.tier_blocked_reasons or "").split(",")))

    def _notes(self, account, text):
        return account.message_ids.filtered(lambda m: text in (m.body or ""))


@tagged("post_install", "-at_install")
class TestTierCounters(TierCase):
    def test_counters_exclude_window_replies_and_unsent(self):
        now = T0
        account = self.guide
        self._send(account, 5, now - HOUR)  # counted
        self._send(account, 5, now - 2 * HOUR)  # the same 5 numbers again: no new users
        self._send(account, 1, now - MINUTE, start=100, state="sending")  # reserved: counts
        self._send(account, 1, now - MINUTE, start=101, state="delivered")
        self._send(account, 1, now - MINUTE, start=102, state="read")
        # replies inside a customer-opened window don't count
        self._send(account, 3, now - HOUR, start=200, counts=False)
        # incoming, queued and failed messages don't count
        self._send(account, 2, now - HOUR, start=300, direction="incoming", state="received")
        self._send(account, 2, now - HOUR, start=400, state="queued")
        self._send(account, 2, now - HOUR, start=500, state="failed")
        # older than 24 h but within 7 days, older than 7 days, after now
        self._send(account, 1, now - 2 * DAY, start=600)
        self._send(account, 1, now - 8 * DAY, start=700)
        self._send(account, 1, now + MINUTE, start=800)
        # another account's messages don't count here
        self._send(self.account, 4, now - HOUR, start=900)

        account._compute_tier_snapshot(now)
        self.assertEqual(account.unique_users_24h, 8)
        self.assertEqual(account.unique_users_7d, 9)
        self.assertEqual(account.portfolio_users_24h, 8)
        self.assertEqual(account.tier_scope_size, 1)
        self.assertEqual(account.tier_checked_at, now)
        self.assertEqual(account.tier_threshold_7d, 2000)
        self.assertEqual(account.tier_needed_7d, 2000 - 9)
        self.assertEqual(self._reasons(account), {"limit_not_reached_yet", "threshold_not_met"})
        self.assertIn("1,991", account.tier_outlook_text)
        # the window bounds: (now - 24 h, now]
        account._compute_tier_snapshot(now - HOUR + 24 * HOUR)
        # (T0 - 1 h, T0 + 23 h]: the three sent a minute before T0 and the one after T0
        self.assertEqual(account.unique_users_24h, 4)

    def test_history_one_row_per_day(self):
        account = self.guide
        self._send(account, 30, T0 - HOUR)
        self._track(account, T0)
        self._send(account, 20, T0 + HOUR, start=30)
        self._track(account, T0 + 2 * HOUR)
        self._track(account, T0 + 3 * HOUR)
        History = self.env["spoki.tier.history"]
        rows = History.search([("account_id", "=", account.id)])
        self.assertEqual(len(rows), 1)
        self.assertEqual(
            (rows.date, rows.unique_users_24h, rows.max_users_24h, rows.unique_users_7d), (T0.date(), 50, 50, 50)
        )
        self.assertEqual(
            (rows.tier_level_id, rows.tier_limit, rows.quality, rows.phone_status),
            (self.tier1, 1000, "high", "connected"),
        )
        self._track(account, T0 + DAY + 30 * MINUTE)  # the first 30 left the 24 h window
        rows = History.search([("account_id", "=", account.id)], order="date")
        self.assertEqual(rows.mapped("unique_users_24h"), [50, 20])
        self.assertEqual(rows.mapped("unique_users_7d"), [50, 50])
        self.assertEqual(rows.company_id, self.company_a)
        # agents read their company's history, not another company's, and can't edit it
        self.assertEqual(History.with_user(self.agent).search([("account_id", "=", account.id)]), rows)
        self.assertFalse(History.with_user(self.agent_b).search([("account_id", "=", account.id)]))
        with self.assertRaises(AccessError):
            rows[0].with_user(self.manager).write({"unique_users_24h": 1})
        action = account.action_view_tier_history()
        self.assertEqual(action["res_model"], "spoki.tier.history")
        self.assertEqual(account.tier_history_count, 2)

    def test_cron_runs_for_all_accounts(self):
        self._send(self.guide, 10, T0 - HOUR)
        with freeze_time(T0):
            self.env["spoki.account"]._cron_track_tiers()
        self.assertEqual(self.guide.tier_checked_at, T0)
        self.assertEqual(self.guide.unique_users_24h, 10)
        self.assertEqual(self.account_b.tier_checked_at, T0)  # every company
        self.assertEqual(
            self.env["spoki.tier.history"].search_count([("account_id", "in", (self.guide | self.account_b).ids)]), 2
        )


@tagged("post_install", "-at_install")
class TestTierGuidePolicy(TierCase):
    def test_promotion_exactly_at_twice_the_limit(self):
        account = self.guide
        self._send(account, 1000, T0)
        self._track(account, T0 + MINUTE)
        self.assertEqual(account.limit_reached_at, T0 + MINUTE)
        self.assertEqual(account.tier_not_before, T0 + MINUTE + 48 * HOUR)
        self.assertEqual(self._reasons(account), {"wait_48h", "threshold_not_met"})
        self.assertEqual(account.tier_needed_7d, 1000)

        self._send(account, 999, T0 + DAY + 2 * MINUTE, start=1000)
        self._track(account, T0 + DAY + 3 * MINUTE)
        self.assertEqual(account.unique_users_7d, 1999)
        self.assertEqual(account.tier_needed_7d, 1)

        # 2x - 1 after the 48 hours: no promotion
        self._track(account, T0 + 2 * DAY + HOUR)
        self.assertEqual(account.tier_level_id, self.tier1)
        self.assertEqual(self._reasons(account), {"threshold_not_met"})
        self.assertEqual(account.tier_needed_7d, 1)
        self.assertFalse(account.tier_earliest_promotion)
        self.assertIn("1 more unique users", account.tier_outlook_text)

        # exactly 2x within 7 days: promoted to tier 2
        self._send(account, 1, T0 + 2 * DAY + HOUR, start=1999)
        self._track(account, T0 + 2 * DAY + HOUR + MINUTE)
        self.assertEqual(account.tier_level_id, self.tier2)
        self.assertEqual(account.tier_limit, 10000)
        self.assertEqual(account.level_since, T0 + 2 * DAY + HOUR + MINUTE)
        self.assertFalse(account.limit_reached_at)
        self.assertEqual(account.tier_threshold_7d, 20000)
        self.assertEqual(account.tier_needed_7d, 18000)
        self.assertTrue(self._notes(account, "raised from Tier 1 to Tier 2"))
        self.assertEqual(
            self.env["spoki.tier.history"]
            .search([("account_id", "=", account.id)], order="date desc", limit=1)
            .tier_level_id,
            self.tier2,
        )

    def test_no_promotion_before_48_hours(self):
        account = self.guide
        self._send(account, 1000, T0)
        reached = T0 + MINUTE
        self._track(account, reached)
        self._send(account, 1000, T0 + DAY + MINUTE, start=1000)
        self._track(account, T0 + DAY + 2 * MINUTE)
        # 2,000 unique users in 7 days: only time stands in the way
        self.assertEqual(account.unique_users_7d, 2000)
        self.assertEqual(self._reasons(account), {"wait_48h"})
        self.assertEqual(account.tier_earliest_promotion, reached + 48 * HOUR)
        self.assertIn("48 hours", account.tier_outlook_text)
        self._track(account, reached + 48 * HOUR - MINUTE)
        self.assertEqual(account.tier_level_id, self.tier1)
        self._track(account, reached + 48 * HOUR)
        self.assertEqual(account.tier_level_id, self.tier2)

    def test_send_queue_notes_limit_reached_at_once(self):
        account = self.guide
        self._send(account, 999, T0)
        self.assertEqual(account._limit_remaining(T0 + MINUTE), 1)
        self.assertFalse(account.limit_reached_at)
        self._send(account, 1, T0 + MINUTE, start=999)
        self.assertEqual(account._limit_remaining(T0 + 2 * MINUTE), 0)
        self.assertEqual(account.limit_reached_at, T0 + 2 * MINUTE)
        self.assertEqual(account._limit_remaining(T0 + 3 * MINUTE), 0)
        self._track(account, T0 + HOUR)
        self.assertEqual(account.limit_reached_at, T0 + 2 * MINUTE)  # the first time is kept
        self.assertEqual(account.tier_not_before, T0 + 2 * MINUTE + 48 * HOUR)

    def test_no_promotion_with_low_quality(self):
        account = self.guide
        self._send(account, 1000, T0)
        self._track(account, T0 + MINUTE)
        self._send(account, 1000, T0 + DAY + MINUTE, start=1000)
        account.with_context(spoki_clock=T0 + DAY + 2 * MINUTE).write({"quality": "low"})
        self.assertTrue(self._notes(account, "Quality rating dropped from High to Low"))
        self._track(account, T0 + 3 * DAY)
        self.assertEqual(account.tier_level_id, self.tier1)
        self.assertEqual(account.tier_outlook_action, "stay")
        self.assertEqual(self._reasons(account), {"quality_low"})
        self.assertIn("quality rating is low", account.tier_outlook_text)
        # quality back to medium: the promotion goes through at the next check
        account.with_context(spoki_clock=T0 + 3 * DAY + HOUR).write({"quality": "medium"})
        self._track(account, T0 + 3 * DAY + HOUR)
        self.assertEqual(account.tier_level_id, self.tier2)

    def test_demotion_low_quality_and_flagged_once_per_window(self):
        account = self.guide
        account.with_context(spoki_clock=T0).write({"tier_level_id": self.env.ref("spoki_whatsapp.tier_guide_3").id})
        account.with_context(spoki_clock=T0).write({"quality": "low", "phone_status": "flagged"})
        self.assertTrue(self._notes(account, "Phone status changed from Connected to Flagged"))
        self._track(account, T0 + HOUR)
        self.assertEqual(account.tier_level_id, self.tier2)
        self.assertTrue(self._notes(account, "lowered from Tier 3 to Tier 2"))
        self._track(account, T0 + 2 * HOUR)  # no second step within the window
        self.assertEqual(account.tier_level_id, self.tier2)
        self._track(account, T0 + HOUR + 7 * DAY)
        self.assertEqual(account.tier_level_id, self.tier1)

    def test_unlimited_tier_never_blocks(self):
        account = self.guide
        account.with_context(spoki_clock=T0).write({"tier_level_id": self.tier4.id})
        self.assertEqual(account.tier_limit, 0)
        self._send(account, 5000, T0 + HOUR)
        self._track(account, T0 + 2 * HOUR)
        self.assertEqual(account.unique_users_24h, 5000)
        self.assertEqual(account.tier_level_id, self.tier4)
        self.assertEqual(account.tier_outlook_action, "stay")
        self.assertEqual(self._reasons(account), {"top_level"})
        self.assertFalse(account.limit_reached_at)
        self.assertEqual(account.tier_usage_24h, 0)
        self.assertIsNone(account._limit_remaining(T0 + 2 * HOUR))  # the send queue's view: no limit
        self.assertIn("Unlimited tier", account.tier_outlook_text)
        # low quality alone doesn't demote, and nothing blocks sending
        account.with_context(spoki_clock=T0 + 3 * HOUR).write({"quality": "low"})
        self._track(account, T0 + 4 * HOUR)
        self.assertEqual(account.tier_level_id, self.tier4)
        self.assertIsNone(account._limit_remaining(T0 + 4 * HOUR))

    def test_provider_limit_wins_policy_only_forecasts(self):
        account = self._new_account("Meta number", "+390200000109", provider="meta")
        info = AccountInfo(quality="medium", phone_status="connected", tier_limit=10000, credit=None)
        self._send(account, 1000, T0)
        self._send(account, 1000, T0 + DAY + MINUTE, start=1000)
        with patch.object(type(account), "_tier_fetch_account_info", lambda self: info):
            self._track(account, T0 + MINUTE)
            self.assertEqual(account.provider_tier_limit, 10000)
            self.assertEqual(account.tier_limit, 10000)
            self.assertEqual(account.tier_level_id, self.tier2)  # moved to the reported step
            self.assertEqual(account.quality, "medium")
            self.assertTrue(self._notes(account, "provider reports a limit of 10,000"))
            self.assertIn("forecast", account.tier_outlook_text)
            # the provider says 1,000: the policy forecasts a promotion, but doesn't apply it
            info.tier_limit = 1000
            self._track(account, T0 + DAY + 2 * MINUTE)
            self.assertEqual(account.tier_level_id, self.tier1)
            self._track(account, T0 + 3 * DAY + HOUR)  # 48 h after reaching the 1,000 limit
            self.assertEqual(account.tier_outlook_action, "promote")
            self.assertEqual(account.tier_level_id, self.tier1)
            self.assertEqual(account.tier_limit, 1000)


@tagged("post_install", "-at_install")
class TestTierMetaPolicy(TierCase):
    def test_portfolio_half_the_limit_in_7_days(self):
        first = self._new_account("Portfolio 1", "+390200000102", tier_policy="meta", portfolio="BP-TEST")
        second = self._new_account("Portfolio 2", "+390200000103", tier_policy="meta", portfolio="BP-TEST")
        both = first | second
        self.assertEqual(both.tier_level_id, self.meta_250)
        # 70 users six days ago from the first number, 54 new + 10 of the same today from the second
        self._send(first, 70, T0 - 6 * DAY, prefix="+39340")
        self._send(second, 10, T0, prefix="+39340")
        self._send(second, 54, T0, prefix="+39341")
        self._track(first, T0 + MINUTE)
        for account in both:
            self.assertEqual(account.portfolio_users_7d, 124)
            self.assertEqual(account.tier_scope_size, 2)
            self.assertEqual(account.tier_threshold_7d, 125)
            self.assertEqual(account.tier_needed_7d, 1)
            self.assertFalse(account.threshold_met_at)
        self.assertEqual((first.unique_users_7d, second.unique_users_7d), (70, 64))
        self.assertEqual(second.portfolio_users_24h, 64)
        self.assertIn("shared by 2 numbers", first.tier_outlook_text)

        # the 125th user: half of 250 within 7 days, applied ~6 hours later
        met = T0 + HOUR + MINUTE
        self._send(second, 1, T0 + HOUR, start=54, prefix="+39341")
        self._track(second, met)
        for account in both:
            self.assertEqual(account.threshold_met_at, met)
            self.assertEqual(account.tier_outlook_action, "promote")
            self.assertEqual(account.tier_earliest_promotion, met + 6 * HOUR)
            self.assertEqual(account.tier_level_id, self.meta_250)
        self.assertIn("expected by", first.tier_outlook_text)
        self._track(both, met + 6 * HOUR - MINUTE)
        self.assertEqual(both.tier_level_id, self.meta_250)
        self._track(both, met + 6 * HOUR)
        self.assertEqual(first.tier_level_id, self.meta_2k)
        self.assertEqual(second.tier_level_id, self.meta_2k)
        self.assertEqual((first.tier_threshold_7d, first.tier_needed_7d), (1000, 1000 - 125))
        self.assertTrue(self._notes(second, "raised from 250 to 2,000"))

    def test_meta_quality_low_blocks_but_never_demotes(self):
        account = self._new_account("Meta low", "+390200000104", tier_policy="meta")
        account.with_context(spoki_clock=T0).write({"tier_level_id": self.meta_2k.id})
        self._send(account, 1000, T0)
        account.with_context(spoki_clock=T0).write({"quality": "low", "phone_status": "flagged"})
        self._track(account, T0 + HOUR)
        self._track(account, T0 + 8 * HOUR)
        self.assertEqual(account.tier_level_id, self.meta_2k)
        self.assertEqual(self._reasons(account), {"quality_low"})

    def test_done_when_guide_promotion_outlook_and_meta_forecast(self):
        """Sandbox number, the cron (frozen clock) over simulated days: the
        outlook shows the promotion before it happens, then tier 1 → tier 2;
        switching to the Meta policy changes the forecast."""
        account = self.guide
        Account = self.env["spoki.account"]
        day0 = T0
        self._send(account, 1000, day0 - 30 * MINUTE)
        with freeze_time(day0):
            Account._cron_track_tiers()
        self.assertEqual(account.tier_level_id, self.tier1)
        self.assertEqual((account.unique_users_24h, account.tier_needed_7d), (1000, 1000))
        self.assertEqual(account.limit_reached_at, day0)

        self._send(account, 1000, day0 + DAY + HOUR, start=1000)
        with freeze_time(day0 + DAY + 2 * HOUR):
            Account._cron_track_tiers()
        # the outlook before it happens: nothing but time, tier 2 from day 2 09:00
        self.assertEqual(account.tier_level_id, self.tier1)
        self.assertEqual(account.tier_needed_7d, 0)
        self.assertEqual(self._reasons(account), {"wait_48h"})
        self.assertEqual(account.tier_earliest_promotion, day0 + 2 * DAY)
        self.assertEqual(account.tier_next_level_id, self.tier2)
        self.assertIn("Earliest promotion", account.tier_outlook_text)

        with freeze_time(day0 + 2 * DAY):
            Account._cron_track_tiers()
        self.assertEqual(account.tier_level_id, self.tier2)
        self.assertEqual(account.tier_limit, 10000)
        guide_forecast = (account.tier_threshold_7d, account.tier_needed_7d)
        self.assertEqual(guide_forecast, (20000, 18000))

        # one click: the Meta rule (same limit step, half of it in 7 days)
        with freeze_time(day0 + 2 * DAY + HOUR):
            account.write({"tier_policy": "meta"})
        self.assertEqual(account.tier_level_id, self.env.ref("spoki_whatsapp.tier_meta_10k"))
        self.assertEqual((account.tier_threshold_7d, account.tier_needed_7d), (5000, 3000))
        self.assertEqual(account.tier_next_level_id, self.env.ref("spoki_whatsapp.tier_meta_100k"))
        self.assertEqual(self._reasons(account), {"threshold_not_met"})


@tagged("post_install", "-at_install")
class TestQualityGuard(TierCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Template = cls.env["spoki.template"]
        Campaign = cls.env["spoki.campaign"]
        cls.marketing = Template.create(
            {
                "name": "Promo",
                "account_id": cls.guide.id,
                "category": "marketing",
                "lang": "it_IT",
                "body": "Ciao, sconti!",
            }
        )
        cls.utility = Template.create(
            {
                "name": "Order",
                "account_id": cls.guide.id,
                "category": "utility",
                "lang": "it_IT",
                "body": "Il tuo ordine è pronto.",
            }
        )
        other = Template.create(
            {
                "name": "Promo A",
                "account_id": cls.account.id,
                "category": "marketing",
                "lang": "it_IT",
                "body": "Ciao, sconti!",
            }
        )
        cls.c_marketing = Campaign.create(
            {"name": "Summer", "account_id": cls.guide.id, "template_id": cls.marketing.id}
        )
        cls.c_utility = Campaign.create({"name": "Orders", "account_id": cls.guide.id, "template_id": cls.utility.id})
        cls.c_draft = Campaign.create({"name": "Later", "account_id": cls.guide.id, "template_id": cls.marketing.id})
        cls.c_other = Campaign.create({"name": "Other number", "account_id": cls.account.id, "template_id": other.id})
        # running (written directly: the guard only cares about the state)
        (cls.c_marketing | cls.c_utility | cls.c_other).write({"state": "running"})

    def _guard_activities(self, account):
        return account.activity_ids.filtered(lambda a: "quality guard" in (a.summary or ""))

    def test_quality_drop_pauses_marketing_campaigns(self):
        account = self.guide
        account.with_context(spoki_clock=T0).write({"quality": "low"})
        self.assertEqual(self.c_marketing.state, "paused")
        if "pause_reason" in self.c_marketing._fields:
            self.assertIn("dropped to Low", self.c_marketing.pause_reason or "")
        self.assertEqual(self.c_utility.state, "running")
        self.assertEqual(self.c_draft.state, "draft")
        self.assertEqual(self.c_other.state, "running")
        self.assertEqual(
            (account.quality_guard_state, account.quality_guard_reason, account.quality_guard_at),
            ("tripped", "quality", T0),
        )
        activities = self._guard_activities(account)
        self.assertIn(self.manager, activities.user_id)
        self.assertNotIn(self.agent, activities.user_id)
        self.assertTrue(self._notes(account, "1 running marketing campaigns paused"))
        # the manager resumes by hand; the cron doesn't pause again while nothing new happens
        self.c_marketing.write({"state": "running"})
        self._track(account, T0 + HOUR)
        self.assertEqual(self.c_marketing.state, "running")
        self.assertEqual(len(self._guard_activities(account)), len(activities))
        # quality back: the guard clears
        account.with_context(spoki_clock=T0 + 2 * HOUR).write({"quality": "high"})
        self._track(account, T0 + 2 * HOUR)
        self.assertEqual(account.quality_guard_state, "ok")
        self.assertTrue(self._notes(account, "Quality guard cleared"))

    def test_unknown_quality_neither_clears_the_guard_nor_reads_as_a_change_of_rank(self):
        """A provider that stops reporting the quality ('unknown') says nothing
        about the cause of the trip: the guard stays, the note says "changed"."""
        account = self.guide
        account.with_context(spoki_clock=T0).write({"quality": "low"})
        self.assertEqual(account.quality_guard_state, "tripped")
        account.with_context(spoki_clock=T0 + 2 * HOUR).write({"quality": "unknown"})
        self._track(account, T0 + 2 * HOUR)
        self.assertEqual(account.quality_guard_state, "tripped")
        self.assertFalse(self._notes(account, "Quality guard cleared"))
        self.assertTrue(self._notes(account, "Quality rating changed from Low to Unknown"))
        self.assertFalse(self._notes(account, "improved from Low to Unknown"))

    def test_medium_threshold_and_off(self):
        account = self.guide
        account.quality_guard_threshold = "medium"
        account.with_context(spoki_clock=T0).write({"quality": "medium"})
        self.assertEqual(self.c_marketing.state, "paused")
        self.c_marketing.write({"state": "running"})
        # already medium when the threshold is lowered to medium: trips at once
        account_c = self._new_account("Medium already", "+390200000105")
        account_c.with_context(spoki_clock=T0).write({"quality": "medium"})
        self.assertEqual(account_c.quality_guard_state, "ok")
        account_c.with_context(spoki_clock=T0).quality_guard_threshold = "medium"
        self.assertEqual((account_c.quality_guard_state, account_c.quality_guard_at), ("tripped", T0))
        other = self.account
        other.quality_guard_threshold = "off"
        other.with_context(spoki_clock=T0).write({"quality": "low"})
        self._track(other, T0 + HOUR)
        self.assertEqual(self.c_other.state, "running")
        self.assertEqual(other.quality_guard_state, "ok")

    def test_quality_set_without_write_hook_is_caught_by_cron(self):
        account = self.guide
        self.env.cr.execute("UPDATE spoki_account SET quality = 'low' WHERE id = %s", [account.id])
        account.invalidate_recordset(["quality"])
        self._track(account, T0)
        self.assertEqual(self.c_marketing.state, "paused")
        self.assertEqual(account.quality_guard_state, "tripped")

    def test_spam_rate_limit_errors_pause_campaigns(self):
        account = self.guide
        # an old error (more than an hour ago) doesn't trip anything
        self._send(account, 1, T0 - 2 * HOUR, state="failed", error_code="spam_rate_limited", failed_at=T0 - 2 * HOUR)
        self._track(account, T0)
        self.assertEqual(self.c_marketing.state, "running")
        self._send(
            account,
            3,
            T0 - 10 * MINUTE,
            start=10,
            state="failed",
            error_code="spam_rate_limited",
            failed_at=T0 - 10 * MINUTE,
        )
        self._track(account, T0)
        self.assertEqual(self.c_marketing.state, "paused")
        self.assertEqual(self.c_utility.state, "running")
        self.assertEqual((account.quality_guard_state, account.quality_guard_reason), ("tripped", "spam"))
        self.assertTrue(self._notes(account, "refused 3 messages"))
        activities = self._guard_activities(account)
        self.assertTrue(activities)
        # resumed by hand: the same errors don't pause it again; new ones do
        self.c_marketing.write({"state": "running"})
        self._track(account, T0 + 5 * MINUTE)
        self.assertEqual(self.c_marketing.state, "running")
        self._send(
            account,
            1,
            T0 + 20 * MINUTE,
            start=20,
            state="failed",
            error_code="spam_rate_limited",
            failed_at=T0 + 20 * MINUTE,
        )
        self._track(account, T0 + 25 * MINUTE)
        self.assertEqual(self.c_marketing.state, "paused")
        self.assertEqual(self._guard_activities(account), activities)  # still one open activity per manager

    def test_send_queue_hook_trips_at_once(self):
        account = self.guide
        account.with_context(spoki_clock=T0)._on_provider_errors({"rate_limited"})
        self.assertEqual(self.c_marketing.state, "running")
        account.with_context(spoki_clock=T0)._on_provider_errors({"spam_rate_limited"})
        self.assertEqual(self.c_marketing.state, "paused")
        self.assertEqual(account.quality_guard_reason, "spam")
        # the next batch within the hour doesn't post again
        notes = len(account.message_ids)
        account.with_context(spoki_clock=T0 + MINUTE)._on_provider_errors({"spam_rate_limited"})
        self.assertEqual(len(account.message_ids), notes)
