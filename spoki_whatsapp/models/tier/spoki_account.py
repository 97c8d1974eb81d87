"""WhatsApp status and tier tracking on ``spoki.account``.

Counters of unique users (24 h / 7 days, per number and per business portfolio),
the promotion outlook of the account's tier policy (rules in
``tools/tier_policy.py``, steps as ``spoki.tier.level`` records), the daily
history, the tier-tracking cron, the provider read-back and the change hooks
that post tier, quality and status changes (the quality guard they trigger
lives in ``quality_guard/spoki_account.py``).

~750 lines in one file on purpose: ``_track_tiers`` is one pass (read-back,
snapshot, outlook, promotion, history) whose steps share the snapshot's
invariants; the rules themselves are plain Python in ``tools/tier_policy.py``.

Every method takes ``now`` or reads the injectable clock
``self.env.context['spoki_clock']`` (a datetime or a zero-argument callable
returning a naive UTC datetime), so that tests never sleep; outside tests the
context clock is ignored (``spoki_message.context_clock``).
"""

import logging
from datetime import datetime, timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL
from odoo.tools.misc import format_datetime, formatLang

from ...tools import tier_policy
from ...tools.providers import ProviderError
from ...tools.vocabulary import (
    COUNTED_STATES,
    PHONE_STATUS_RANK,
    QUALITY_RANK,
    worst_phone_status,
    worst_quality,
)
from ..spoki_message import context_clock

_logger = logging.getLogger(__name__)

DAY = timedelta(hours=24)
#: the promotion rules count unique users over the last 7 days
PROMOTION_WINDOW = max(policy.rules.window for policy in tier_policy.POLICIES.values())

# Fields written by the snapshot (never trigger the change hooks).
_WATCHED = {"quality", "phone_status", "tier_level_id", "tier_policy", "provider_tier_limit"}


class SpokiAccount(models.Model):
    _name = "spoki.account"
    _inherit = ["spoki.account", "mail.activity.mixin"]

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    # counters (snapshot refreshed by the cron, or on demand)
    unique_users_24h = fields.Integer(
        "Unique users (24 h)",
        readonly=True,
        copy=False,
        help="Distinct numbers reached by business-initiated messages in the last 24 hours "
        "(replies inside a customer-opened window don't count).",
    )
    unique_users_7d = fields.Integer("Unique users (7 days)", readonly=True, copy=False)
    portfolio_users_24h = fields.Integer(
        "Unique users sharing the limit (24 h)",
        readonly=True,
        copy=False,
        help="Under Meta's rule the limit is shared by all the numbers of the business portfolio: "
        "distinct users over all of them. Equal to this number's own count otherwise.",
    )
    portfolio_users_7d = fields.Integer("Unique users sharing the limit (7 days)", readonly=True, copy=False)
    tier_scope_size = fields.Integer(
        "Numbers sharing the limit",
        readonly=True,
        copy=False,
        default=1,
    )
    # the same counters, live (what the dashboard shows): the form reads these
    live_users_24h = fields.Integer(
        "Unique users now (24 h)",
        compute="_compute_live_users",
        help="Distinct numbers reached by business-initiated messages in the last 24 hours "
        "(replies inside a customer-opened window don't count). Counted now, like the dashboard.",
    )
    live_users_7d = fields.Integer("Unique users now (7 days)", compute="_compute_live_users")
    live_portfolio_users_24h = fields.Integer(
        "Unique users sharing the limit now (24 h)", compute="_compute_live_users"
    )
    live_portfolio_users_7d = fields.Integer(
        "Unique users sharing the limit now (7 days)", compute="_compute_live_users"
    )
    tier_usage_24h = fields.Float("Limit used (24 h)", compute="_compute_tier_usage_24h")
    limit_reached_at = fields.Datetime(
        "Daily limit first reached",
        readonly=True,
        copy=False,
        help="First time the unique users of 24 hours reached the limit at the current tier "
        "(reset at every tier change). The guide's promotion can't happen earlier than 48 hours after.",
    )
    level_since = fields.Datetime(
        "On this tier since",
        readonly=True,
        copy=False,
        default=lambda self: self._tier_now(),
    )
    threshold_met_at = fields.Datetime(
        "Promotion threshold met",
        readonly=True,
        copy=False,
        help="When the unique users of 7 days first reached the promotion threshold (Meta applies "
        "the new limit about 6 hours later).",
    )
    tier_demoted_at = fields.Datetime("Last demotion", readonly=True, copy=False)
    tier_checked_at = fields.Datetime("Tier checked at", readonly=True, copy=False)
    # outlook
    tier_outlook_action = fields.Selection(
        [("promote", "Promotion due"), ("demote", "Demotion due"), ("stay", "No change")],
        "Tier outlook",
        readonly=True,
        copy=False,
    )
    tier_next_level_id = fields.Many2one("spoki.tier.level", "Next tier", compute="_compute_tier_next_level_id")
    tier_threshold_7d = fields.Integer(
        "Unique users needed in 7 days",
        readonly=True,
        copy=False,
        help="Unique users to reach within 7 days to qualify for the next tier.",
    )
    tier_needed_7d = fields.Integer("Still needed in 7 days", readonly=True, copy=False)
    tier_earliest_promotion = fields.Datetime(
        "Earliest promotion",
        readonly=True,
        copy=False,
        help="When the next tier can start if nothing but time stands in the way.",
    )
    tier_not_before = fields.Datetime("Promotion not before", readonly=True, copy=False)
    tier_blocked_reasons = fields.Char(
        "Blocking reasons",
        readonly=True,
        copy=False,
        help="Codes: top_level, quality_low, phone_flagged, limit_not_reached_yet, wait_48h, threshold_not_met, "
        "status_unknown.",
    )
    tier_outlook_text = fields.Text("Outlook", compute="_compute_tier_outlook_text")
    tier_history_count = fields.Integer(compute="_compute_tier_history_count")

    # ------------------------------------------------------------
    # COMPUTE
    # ------------------------------------------------------------

    @api.depends("portfolio_users_24h", "tier_limit")
    def _compute_tier_usage_24h(self):
        for account in self:
            limit = account.tier_limit
            account.tier_usage_24h = min(100.0, 100.0 * account.live_portfolio_users_24h / limit) if limit else 0.0

    def _compute_live_users(self):
        """The unique-user counters at this instant, from the tier tracking's
        own evaluation (``_tier_evaluate``, the dashboard's source): the form
        never lags behind the dashboard until the next "Compute now"."""
        saved = self.filtered("id")
        values = {}
        if saved:
            for _members, _outlook, member_values in saved.sudo()._tier_evaluate().values():
                values.update(member_values)
        for account in self:
            live = values.get(account.id, {})
            account.live_users_24h = live.get("unique_users_24h", 0)
            account.live_users_7d = live.get("unique_users_7d", 0)
            account.live_portfolio_users_24h = live.get("portfolio_users_24h", 0)
            account.live_portfolio_users_7d = live.get("portfolio_users_7d", 0)

    @api.depends("tier_level_id", "tier_policy")
    def _compute_tier_next_level_id(self):
        for account in self:
            level = account.tier_level_id
            account.tier_next_level_id = level._next_level() if level else False

    def _compute_tier_history_count(self):
        counts = dict(
            self.env["spoki.tier.history"]._read_group([("account_id", "in", self.ids)], ["account_id"], ["__count"])
        )
        for account in self:
            account.tier_history_count = counts.get(account, 0)

    @api.depends(
        "tier_checked_at",
        "tier_outlook_action",
        "tier_blocked_reasons",
        "tier_needed_7d",
        "tier_threshold_7d",
        "tier_earliest_promotion",
        "tier_not_before",
        "portfolio_users_7d",
        "tier_limit",
        "tier_level_id",
        "provider_tier_limit",
        "provider",
    )
    def _compute_tier_outlook_text(self):
        for account in self:
            account.tier_outlook_text = account._tier_outlook_text()

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_tier_compute_now(self):
        """Run the tier tracking now for these numbers (and the numbers sharing
        their limit): counters, outlook, promotion, quality guard, history."""
        self._check_manage_access()
        accounts = self.env["spoki.account"]
        for account in self:
            accounts |= account._tier_scope_accounts()
        accounts._track_tiers()
        return True

    def action_view_tier_history(self):
        self.ensure_one()
        self.check_access("read")
        action = self.env["ir.actions.act_window"]._for_xml_id("spoki_whatsapp.spoki_tier_history_action")
        action["domain"] = [("account_id", "in", self._tier_scope_accounts().ids)]
        action["context"] = {"search_default_groupby_account": 1} if self.tier_scope_size > 1 else {}
        action["display_name"] = self.env._("Tier history of %(account)s", account=self.display_name)
        return action

    # ------------------------------------------------------------
    # CRON
    # ------------------------------------------------------------

    @api.model
    def _cron_track_tiers(self):
        """Hourly: provider read-back, counters, outlook, promotions (sandbox),
        quality guard, daily history of every active account."""
        accounts = self.sudo().search([])
        accounts._track_tiers()
        self.env["ir.cron"]._notify_progress(done=len(accounts), remaining=0)

    def _track_tiers(self, now=None):
        """The whole tier-tracking pass on ``self`` at ``now``; returns the
        outlooks ``{scope key: (accounts, Outlook)}`` of the final snapshot."""
        now = self._tier_now(now)
        accounts = self.sudo().with_context(spoki_clock=now)
        accounts._tier_read_provider_status()
        results = accounts._compute_tier_snapshot(now)
        changed = accounts._tier_apply_outlook(results, now)
        if changed:
            results.update(changed._compute_tier_snapshot(now))
        accounts._quality_guard_check(now)
        accounts._tier_record_history(now)
        return results

    # ------------------------------------------------------------
    # SNAPSHOT
    # ------------------------------------------------------------

    def _compute_tier_snapshot(self, now=None):
        """Count the unique users of ``self`` (and of the numbers sharing their
        limit) at ``now``, update the limit/threshold markers, evaluate the
        tier policy and store the snapshot.

        Returns ``{scope key: (accounts sharing the limit, Outlook)}``.
        """
        results = {}
        for key, (members, outlook, values) in self._tier_evaluate(now).items():
            for member in members:
                member.with_context(spoki_tier_no_hook=True).write(values[member.id])
            results[key] = (members, outlook)
        return results

    def _tier_evaluate(self, now=None):
        """The snapshot of ``_compute_tier_snapshot`` without storing it (the
        dashboard shows it live): ``{scope key: (accounts sharing the limit,
        Outlook, {account id: its snapshot values})}``."""
        now = self._tier_now(now)
        if not self:
            return {}
        groups = self.sudo()._tier_scope_groups()
        members_all = self.browse().sudo()
        for members in groups.values():
            members_all |= members
        count_groups = {("account", account.id): [account.id] for account in members_all}
        count_groups.update({key: members.ids for key, members in groups.items()})
        counts = self._tier_count_unique_users(count_groups, now)
        level_cache = {}
        results = {}
        for key, members in groups.items():
            scope_24h, scope_7d = counts[key]
            lead, index = members._tier_lead(level_cache)
            policy = tier_policy.get_policy(lead.tier_policy)
            limit = lead.tier_limit
            level_since = lead.level_since
            # daily limit first reached at this tier (the earliest among the members)
            reached = [
                m.limit_reached_at
                for m in members
                if m.limit_reached_at
                and (not m.level_since or m.limit_reached_at >= m.level_since)
                and m.tier_level_id == lead.tier_level_id
            ]
            limit_reached_at = min(reached) if reached else False
            if not limit_reached_at and limit and scope_24h >= limit:
                limit_reached_at = now
            # promotion threshold first met (Meta: applied ~6 h later)
            threshold = tier_policy.threshold_7d(policy.key, index)
            met = [m.threshold_met_at for m in members if m.threshold_met_at and m.threshold_met_at <= now]
            if threshold is not None and scope_7d >= threshold:
                threshold_met_at = min(met) if met else now
            else:
                threshold_met_at = False
            outlook = tier_policy.evaluate(
                policy.key,
                tier_policy.Snapshot(
                    now=now,
                    level_index=index,
                    quality=worst_quality(members.mapped("quality")),
                    phone_status=worst_phone_status(members.mapped("phone_status")),
                    unique_24h=scope_24h,
                    unique_7d=scope_7d,
                    limit_reached_at=limit_reached_at or None,
                    level_since=level_since or None,
                    threshold_met_at=threshold_met_at or None,
                ),
            )
            shared = {
                "portfolio_users_24h": scope_24h,
                "portfolio_users_7d": scope_7d,
                "tier_scope_size": len(members),
                "tier_checked_at": now,
                "tier_outlook_action": outlook.action,
                "tier_threshold_7d": outlook.threshold_7d or 0,
                "tier_needed_7d": outlook.needed_7d or 0,
                "tier_earliest_promotion": outlook.earliest_promotion or False,
                "tier_not_before": outlook.not_before or False,
                "tier_blocked_reasons": ",".join(outlook.blocked_reasons),
                "threshold_met_at": threshold_met_at,
            }
            values = {}
            for member in members:
                own_24h, own_7d = counts[("account", member.id)]
                values[member.id] = dict(shared, unique_users_24h=own_24h, unique_users_7d=own_7d)
                if member.tier_level_id == lead.tier_level_id:
                    values[member.id]["limit_reached_at"] = limit_reached_at
            results[key] = (members, outlook, values)
        return results

    @api.model
    def _tier_count_unique_users(self, groups, now):
        """Distinct numbers reached by business-initiated messages, per group of
        accounts, in (now − 24 h, now] and (now − 7 days, now].

        ``groups``: ``{key: [account ids]}`` → ``{key: (unique_24h, unique_7d)}``.
        Counted like the send queue counts (``send_queue/spoki_account.py``): outgoing,
        ``counts_for_limit``, state in ``COUNTED_STATES`` ('sending' included:
        the number is reserved while the provider is called; queued and failed
        messages reached nobody). One query for all the groups, on the partial
        index ``spoki_message_limit_idx`` (account_id, message_date, wa_phone).
        """
        result = {key: (0, 0) for key in groups}
        keys = list(groups)
        grp, ids = [], []
        for position, key in enumerate(keys):
            for account_id in groups[key]:
                grp.append(position)
                ids.append(account_id)
        if not ids:
            return result
        self.env["spoki.message"].flush_model(
            ["account_id", "wa_phone", "direction", "counts_for_limit", "state", "message_date"]
        )
        self.env.cr.execute(
            SQL(
                """
            SELECT s.grp,
                   COUNT(DISTINCT m.wa_phone) FILTER (WHERE m.message_date > %(since_24h)s),
                   COUNT(DISTINCT m.wa_phone)
              FROM unnest(%(grp)s::int[], %(ids)s::int[]) AS s(grp, account_id)
              JOIN spoki_message m ON m.account_id = s.account_id
             WHERE m.counts_for_limit
               AND m.direction = 'outgoing'
               AND m.state IN %(counted)s
               AND m.message_date > %(since_7d)s
               AND m.message_date <= %(now)s
             GROUP BY s.grp
            """,
                grp=grp,
                ids=ids,
                counted=COUNTED_STATES,
                since_24h=now - DAY,
                since_7d=now - PROMOTION_WINDOW,
                now=now,
            )
        )
        for position, unique_24h, unique_7d in self.env.cr.fetchall():
            result[keys[position]] = (unique_24h, unique_7d)
        return result

    def _tier_scope_key(self):
        """Accounts with the same key share one messaging limit (the same
        grouping as the send queue's ``_limit_group``)."""
        self.ensure_one()
        if self.tier_policy == "meta" and self.portfolio:
            return ("portfolio", self.company_id.id, self.portfolio)
        return ("account", self.id)

    def _tier_scope_accounts(self):
        """The accounts sharing this account's messaging limit (itself
        included): the numbers of its business portfolio under Meta's rule."""
        self.ensure_one()
        return (self | self._limit_group()).with_env(self.env)

    def _tier_scope_groups(self):
        groups = {}
        for account in self:
            key = account._tier_scope_key()
            if key not in groups:
                groups[key] = account._tier_scope_accounts()
        return groups

    def _tier_levels(self, policy_key, cache=None):
        if cache is not None and policy_key in cache:
            return cache[policy_key]
        levels = self.env["spoki.tier.level"].sudo().search([("policy", "=", policy_key)], order="sequence, id")
        if cache is not None:
            cache[policy_key] = levels
        return levels

    def _tier_level_index(self, cache=None):
        """Position of the account's tier within its policy (0 = first step),
        clamped to the steps ``tools/tier_policy.py`` knows."""
        self.ensure_one()
        policy = tier_policy.get_policy(self.tier_policy)
        levels = self._tier_levels(policy.key, cache)
        level = self.tier_level_id
        if level and level in levels:
            index = list(levels).index(level)
        elif level:
            index = tier_policy.level_index_for_limit(policy.key, level.max_users or None)
        else:
            index = policy.start_index
        return min(max(index, 0), policy.top_index)

    def _tier_lead(self, cache=None):
        """(account, level index) of the highest tier among ``self``."""
        indexed = [(account._tier_level_index(cache), account) for account in self]
        index, lead = max(indexed, key=lambda pair: (pair[0], -pair[1].id))
        return lead, index

    def _tier_level_at(self, policy_key, index, cache=None):
        levels = self._tier_levels(policy_key, cache)
        return levels[min(index, len(levels) - 1)] if levels else levels

    def _tier_note_limit_reached(self, now=None):
        """The daily limit has just been hit: remember the first time at the
        current tier (the guide's 48 hours run from it)."""
        now = self._tier_now(now)
        for account in self.sudo():
            for member in account._tier_scope_accounts():
                if not member.limit_reached_at or (member.level_since and member.limit_reached_at < member.level_since):
                    member.with_context(spoki_tier_no_hook=True).write({"limit_reached_at": now})

    # ------------------------------------------------------------
    # PROMOTION / DEMOTION
    # ------------------------------------------------------------

    def _tier_apply_outlook(self, results, now):
        """Apply due promotions/demotions to the sandbox accounts (real providers
        report their limit: for them the policy only forecasts). Returns the
        accounts whose tier changed."""
        changed = self.browse()
        level_cache = {}
        for members, outlook in results.values():
            sandbox = members.filtered(lambda a: a._provider_class().simulated and a.provider_tier_limit < 0)
            if not sandbox:
                continue
            lead, index = members._tier_lead(level_cache)
            policy = tier_policy.get_policy(lead.tier_policy)
            target_index, reason = index, "portfolio"
            if outlook.action == "promote" and (not outlook.earliest_promotion or now >= outlook.earliest_promotion):
                target_index, reason = outlook.new_level_index, "promote"
            elif outlook.action == "demote" and (
                not lead.tier_demoted_at or now - lead.tier_demoted_at >= policy.rules.window
            ):
                target_index, reason = outlook.new_level_index, "demote"
            target = self._tier_level_at(policy.key, target_index, level_cache)
            to_change = sandbox.filtered(lambda a, target=target: a.tier_level_id != target)
            if not to_change:
                continue
            detail = lead._tier_change_detail(reason, outlook)
            to_change.with_context(spoki_clock=now, spoki_tier_change=reason, spoki_tier_change_detail=detail).write(
                {"tier_level_id": target.id}
            )
            if reason == "demote":
                to_change.with_context(spoki_tier_no_hook=True).write({"tier_demoted_at": now})
            changed |= members
        return changed

    def _tier_change_detail(self, reason, outlook):
        if reason == "promote":
            return self.env._(
                "%(users)s unique users reached in 7 days (threshold %(threshold)s).",
                users=self._tier_fmt(self.portfolio_users_7d),
                threshold=self._tier_fmt(outlook.threshold_7d),
            )
        if reason == "demote":
            return self.env._("The quality rating is low and the number is flagged.")
        return ""

    # ------------------------------------------------------------
    # CHANGE HOOKS (tier / quality / phone status / provider limit)
    # ------------------------------------------------------------

    def _tier_before_write(self, vals):
        """What the write hook compares with (None: nothing watched changes)."""
        if self.env.context.get("spoki_tier_no_hook") or not _WATCHED & set(vals):
            return None
        return {
            account.id: (account.quality, account.phone_status, account.tier_level_id, account.provider_tier_limit)
            for account in self
        }

    def _tier_after_write(self, vals, before):
        """Post tier, quality and status changes on the chatter, follow a
        limit reported by the provider, trip the quality guard, refresh the
        snapshot (``spoki.account.write`` calls it)."""
        if self.env.context.get("spoki_tier_no_hook"):
            return
        if before is None:
            if "quality_guard_threshold" in vals:
                self.sudo()._quality_guard_check()
            return
        now = self._tier_now()
        context = self.env.context
        level_changed = self.browse()
        to_snapshot = self.browse()
        provider_levels = {}
        for account in self:
            old_quality, old_status, old_level, old_provider_limit = before[account.id]
            if account.quality != old_quality:
                account._tier_post_quality_change(old_quality)
            if account.phone_status != old_status:
                account._tier_post_status_change(old_status)
            if account.tier_level_id != old_level:
                level_changed |= account
                account._tier_post_level_change(
                    old_level, context.get("spoki_tier_change"), context.get("spoki_tier_change_detail")
                )
            # A limit reported by the provider moves the tier to the matching step.
            if account.provider_tier_limit >= 0 and account.provider_tier_limit != old_provider_limit:
                index = tier_policy.level_index_for_limit(account.tier_policy, account.provider_tier_limit or None)
                target = self._tier_level_at(account.tier_policy, index)
                if target and target != account.tier_level_id:
                    provider_levels[account] = target
            to_snapshot |= account
        if level_changed:
            level_changed.with_context(spoki_tier_no_hook=True).write(
                {
                    "level_since": now,
                    "limit_reached_at": False,
                    "threshold_met_at": False,
                }
            )
        for account, target in provider_levels.items():
            # nested write: posts the change and resets the markers
            account.with_context(spoki_tier_change="provider").write({"tier_level_id": target.id})
        self._quality_guard_after_quality_change({aid: values[0] for aid, values in before.items()}, now)
        if to_snapshot and not context.get("spoki_tier_change"):
            to_snapshot._compute_tier_snapshot(now)

    def _tier_post_level_change(self, old_level, reason=None, detail=None):
        self.ensure_one()
        new_level = self.tier_level_id
        values = {
            "old": old_level.display_name or self.env._("none"),
            "new": new_level.display_name or self.env._("none"),
            "limit": self._tier_fmt_limit(new_level.max_users),
        }
        if reason == "promote":
            body = self.env._("Messaging tier raised from %(old)s to %(new)s (%(limit)s).", **values)
        elif reason == "demote":
            body = self.env._("Messaging tier lowered from %(old)s to %(new)s (%(limit)s).", **values)
        elif reason == "provider":
            body = self.env._(
                "The provider reports a limit of %(reported)s: messaging tier set from %(old)s to %(new)s.",
                reported=self._tier_fmt_limit(self.provider_tier_limit),
                **values,
            )
        elif reason == "portfolio":
            body = self.env._(
                "Messaging tier aligned with the business portfolio %(portfolio)s: "
                "from %(old)s to %(new)s (%(limit)s).",
                portfolio=self.portfolio,
                **values,
            )
        else:
            body = self.env._("Messaging tier changed from %(old)s to %(new)s (%(limit)s).", **values)
        if detail:
            body = f"{body} {detail}"
        self.sudo().message_post(body=body, subtype_xmlid="mail.mt_note")

    def _tier_post_quality_change(self, old_quality):
        self.ensure_one()
        labels = dict(self._fields["quality"]._description_selection(self.env))
        values = {"old": labels.get(old_quality, old_quality), "new": labels.get(self.quality, self.quality)}
        if "unknown" in (self.quality, old_quality):
            body = self.env._("Quality rating changed from %(old)s to %(new)s.", **values)
        elif QUALITY_RANK.get(self.quality, 0) > QUALITY_RANK.get(old_quality, 0):
            body = self.env._("Quality rating dropped from %(old)s to %(new)s.", **values)
            if self.quality == "low":
                body += " " + self.env._("No tier promotion while the quality rating is low.")
        else:
            body = self.env._("Quality rating improved from %(old)s to %(new)s.", **values)
        self.sudo().message_post(body=body, subtype_xmlid="mail.mt_note")

    def _tier_post_status_change(self, old_status):
        self.ensure_one()
        labels = dict(self._fields["phone_status"]._description_selection(self.env))
        body = self.env._(
            "Phone status changed from %(old)s to %(new)s.",
            old=labels.get(old_status, old_status),
            new=labels.get(self.phone_status, self.phone_status),
        )
        if self.phone_status == "flagged" and self.tier_policy == "guide":
            body += " " + self.env._("A flagged number can't be promoted to the next tier.")
        self.sudo().message_post(body=body, subtype_xmlid="mail.mt_note")

    # ------------------------------------------------------------
    # PROVIDER READ-BACK
    # ------------------------------------------------------------

    def _tier_fetch_account_info(self):
        """Seam: the provider's ``AccountInfo`` (quality, status, limit, credit)."""
        self.ensure_one()
        return self._get_provider(clock=context_clock(self.env)).get_account_info()

    def _tier_read_provider_status(self):
        """Read quality, phone status, limit and credit back from real providers
        (the sandbox reads them from the account itself: nothing to do). A
        failing provider is logged and skipped."""
        for account in self.filtered(lambda a: not a._provider_class().simulated):
            try:
                with self.env.cr.savepoint():
                    info = account._tier_fetch_account_info()
                    vals = {}
                    if info.quality in QUALITY_RANK and info.quality != account.quality:
                        vals["quality"] = info.quality
                    if info.phone_status in PHONE_STATUS_RANK and info.phone_status != account.phone_status:
                        vals["phone_status"] = info.phone_status
                    if info.tier_limit is not None and info.tier_limit != account.provider_tier_limit:
                        vals["provider_tier_limit"] = max(0, info.tier_limit)
                    if info.credit is not None and info.credit != account.credit_balance:
                        vals["credit_balance"] = info.credit
                    if vals:
                        account.write(vals)
            except (ProviderError, UserError) as exc:
                _logger.warning("WhatsApp account %s: status read-back failed: %s", account.id, exc)

    # ------------------------------------------------------------
    # HISTORY
    # ------------------------------------------------------------

    def _tier_record_history(self, now=None):
        """Upsert today's (UTC) history row of every account of ``self``."""
        now = self._tier_now(now)
        self.env["spoki.tier.history"].sudo()._upsert(
            [
                {
                    "account_id": account.id,
                    "company_id": account.company_id.id,
                    "date": now.date(),
                    "tier_policy": account.tier_policy,
                    "tier_level_id": account.tier_level_id.id,
                    "tier_limit": account.tier_limit,
                    "unique_users_24h": account.unique_users_24h,
                    "unique_users_7d": account.unique_users_7d,
                    "quality": account.quality,
                    "phone_status": account.phone_status,
                }
                for account in self
            ]
        )

    # ------------------------------------------------------------
    # HELPERS
    # ------------------------------------------------------------

    def _tier_now(self, now=None):
        """``now`` if given, else the injected clock, else the current UTC time."""
        if now is None:
            now = context_clock(self.env)
            if callable(now):
                now = now()
        if now is None or now is False:
            now = fields.Datetime.now()
        if isinstance(now, str):
            now = fields.Datetime.to_datetime(now)
        if not isinstance(now, datetime):
            raise TypeError(f"Unsupported clock value {now!r}")
        return now.replace(microsecond=0)

    def _tier_fmt(self, number):
        return formatLang(self.env, number or 0, digits=0)

    def _tier_fmt_limit(self, limit):
        if not limit:
            return self.env._("unlimited unique users / 24 h")
        return self.env._("%(limit)s unique users / 24 h", limit=self._tier_fmt(limit))

    def _tier_fmt_datetime(self, value):
        return format_datetime(self.env, value, dt_format="short") if value else ""

    def _tier_outlook_text(self):
        """Human outlook of the tier, translated for the reader."""
        self.ensure_one()
        _ = self.env._
        if not self.tier_checked_at:
            return _("Not computed yet: use “Compute now”.")
        codes = [code for code in (self.tier_blocked_reasons or "").split(",") if code]
        lines = []
        next_level = self.tier_next_level_id
        next_label = next_level.display_name if next_level else ""
        if self.tier_outlook_action == "demote":
            lines.append(_("The quality rating is low and the number is flagged: the tier goes down one step."))
        elif "top_level" in codes:
            lines.append(_("Unlimited tier: no limit on the unique users per day, no promotion ahead."))
        elif self.tier_outlook_action == "promote":
            if self.tier_earliest_promotion and self.tier_earliest_promotion > self.tier_checked_at:
                lines.append(
                    _(
                        "Eligible for %(next)s: expected by %(date)s.",
                        next=next_label,
                        date=self._tier_fmt_datetime(self.tier_earliest_promotion),
                    )
                )
            else:
                lines.append(_("Eligible for %(next)s now.", next=next_label))
        else:
            lines.append(
                _(
                    "Next tier: %(next)s. Unique users in 7 days: %(users)s of %(threshold)s needed.",
                    next=next_label,
                    users=self._tier_fmt(self.portfolio_users_7d),
                    threshold=self._tier_fmt(self.tier_threshold_7d),
                )
            )
            labels = {
                "quality_low": _("the quality rating is low"),
                "status_unknown": _("the provider has not reported the quality rating or the phone status"),
                "phone_flagged": _("the number is flagged"),
                "limit_not_reached_yet": _(
                    "the daily limit (%(limit)s) has not been reached yet at this tier",
                    limit=self._tier_fmt_limit(self.tier_limit),
                ),
                "wait_48h": _(
                    "48 hours must pass after the daily limit was first reached (not before %(date)s)",
                    date=self._tier_fmt_datetime(self.tier_not_before),
                ),
                "threshold_not_met": _(
                    "%(needed)s more unique users are needed within 7 days", needed=self._tier_fmt(self.tier_needed_7d)
                ),
            }
            reasons = [labels[code] for code in codes if code in labels]
            if reasons:
                lines.append(_("Waiting for: %(reasons)s.", reasons="; ".join(reasons)))
            if self.tier_earliest_promotion:
                lines.append(
                    _("Earliest promotion: %(date)s.", date=self._tier_fmt_datetime(self.tier_earliest_promotion))
                )
        if self.provider_tier_limit >= 0:
            lines.append(
                _(
                    "The provider reports the limit in force (%(limit)s): the outlook above is a forecast.",
                    limit=self._tier_fmt_limit(self.provider_tier_limit),
                )
            )
        if self.tier_scope_size > 1:
            lines.append(
                _("The limit is shared by %(count)s numbers of the business portfolio.", count=self.tier_scope_size)
            )
        return "\n".join(lines)
