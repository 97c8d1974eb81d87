"""WhatsApp messaging limits ("tiers") and how they grow: pure Python, no Odoo.

A messaging limit is the number of *unique users* a business may contact with
business-initiated messages (templates) in a rolling 24 h. Replies sent inside a
24 h window opened by the customer do not count.

Two policies are modelled, and every number lives in the ``POLICIES`` table
(levels + ``Rules``), nothing is scattered through the code:

``guide`` — Spoki's documentation (default, per phone number)
    Tiers 1,000 → 10,000 → 100,000 → unlimited, start at tier 1.
    Promotion to the next tier when ALL of:

    * quality is not ``'low'``;
    * the phone is not ``'flagged'`` (a flagged number cannot be upgraded);
    * the unique users reached in the last 7 days are ``>= 2 ×`` the current limit;
    * at least 48 h have passed since the number *first reached its daily limit
      at the current tier* (``Snapshot.limit_reached_at``).

    Demotion rule (our documented choice): **one tier down when quality is
    ``'low'`` AND ``phone_status == 'flagged'``** (never below tier 1). Low
    quality alone only blocks promotion; ``'restricted'`` (the number is at its
    limit right now) is neither a demotion nor a promotion blocker.

``meta`` — Meta, since October 2025 (per business portfolio)
    Limits are shared by all the numbers of the business portfolio
    (``scope == 'portfolio'``): 250 → 2,000 → 10,000 → 100,000 → unlimited.
    Promotion when quality is "good" (``'high'`` or ``'medium'``; ``'low'``
    blocks) and at least HALF of the current limit was used in the last 7 days,
    interpreted as: the portfolio's unique users over the last 7 days
    ``>= ceil(limit / 2)`` (125 at the 250 tier). Meta applies it within about
    6 h: the forecast is ``(Snapshot.threshold_met_at or now) + 6 h``. No flagged
    state, no 48 h wait and no downgrade for quality.

Both: a quality or phone status the provider didn't report (``'unknown'``) is
never taken for a good one — it blocks a promotion (``status_unknown``) — nor
for a bad one: it demotes nothing.

All datetimes are naive UTC (Odoo's convention); timezone-aware values are
rejected with ``ValueError`` so the two are never mixed silently.
"""

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from typing import NamedTuple

from .vocabulary import PHONE_STATUS_RANK, QUALITY_RANK

UNKNOWN = "unknown"

__all__ = [
    "BLOCK_CODES",
    "DEFAULT_POLICY",
    "PHONE_STATUSES",
    "POLICIES",
    "QUALITIES",
    "Level",
    "Outlook",
    "Policy",
    "Rules",
    "SimDay",
    "Snapshot",
    "can_send",
    "evaluate",
    "get_policy",
    "level_index_for_limit",
    "limit_for",
    "parse_meta_tier",
    "remaining",
    "simulate",
    "threshold_7d",
]

#: quality ratings and phone statuses the policies know (tools/vocabulary.py)
QUALITIES = tuple(QUALITY_RANK)
PHONE_STATUSES = tuple(PHONE_STATUS_RANK)

#: Codes that can appear in ``Outlook.blocked_reasons`` (map them to
#: translated labels in the UI).
BLOCK_CODES = (
    "top_level",  # already unlimited: nothing to promote to
    "quality_low",  # quality rating is 'low'
    "phone_flagged",  # guide only: a flagged number cannot be upgraded
    "limit_not_reached_yet",  # guide only: the daily limit was never hit at this tier
    "wait_48h",  # guide only: < 48 h since the daily limit was first hit
    "threshold_not_met",  # not enough unique users in the last 7 days
    "status_unknown",  # the quality rating or the phone status is 'unknown'
)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Level:
    """One messaging tier. ``limit`` is unique users / 24 h, None = unlimited."""

    code: str
    sequence: int
    limit: int | None


@dataclass(frozen=True)
class Rules:
    """Promotion/demotion parameters of a policy (all the thresholds are here)."""

    #: unique users needed in ``window`` = ceil(current limit × ratio)
    promotion_ratio: Fraction
    #: rolling window over which the unique users are counted
    window: timedelta = timedelta(days=7)
    #: must the current daily limit have been reached first?
    requires_limit_reached: bool = False
    #: minimum delay after the daily limit was first reached (if required)
    wait_after_limit: timedelta = timedelta(0)
    #: delay between qualifying and the new limit being applied
    promotion_delay: timedelta = timedelta(0)
    #: qualities that allow a promotion
    ok_qualities: tuple = ("high", "medium")
    #: phone statuses that block a promotion (empty = no flagged state)
    blocking_statuses: tuple = ()
    #: demote one level when quality is in ``demote_qualities`` AND the phone
    #: status is in ``demote_statuses`` (both empty = never demote)
    demote_qualities: tuple = ()
    demote_statuses: tuple = ()


@dataclass(frozen=True)
class Policy:
    key: str
    label: str
    levels: tuple  # tuple[Level, ...], ordered from the lowest tier
    scope: str  # 'phone' or 'portfolio'
    rules: Rules
    start_index: int = 0

    @property
    def top_index(self):
        return len(self.levels) - 1


POLICIES = {
    "guide": Policy(
        key="guide",
        label="Spoki guide (per phone number)",
        scope="phone",
        levels=(
            Level("tier_1", 1, 1_000),
            Level("tier_2", 2, 10_000),
            Level("tier_3", 3, 100_000),
            Level("tier_4", 4, None),
        ),
        rules=Rules(
            promotion_ratio=Fraction(2),
            requires_limit_reached=True,
            wait_after_limit=timedelta(hours=48),
            blocking_statuses=("flagged",),
            demote_qualities=("low",),
            demote_statuses=("flagged",),
        ),
    ),
    "meta": Policy(
        key="meta",
        label="Meta, since October 2025 (per business portfolio)",
        scope="portfolio",
        levels=(
            Level("tier_250", 1, 250),
            Level("tier_2k", 2, 2_000),
            Level("tier_10k", 3, 10_000),
            Level("tier_100k", 4, 100_000),
            Level("tier_unlimited", 5, None),
        ),
        rules=Rules(
            promotion_ratio=Fraction(1, 2),
            promotion_delay=timedelta(hours=6),
        ),
    ),
}

DEFAULT_POLICY = "guide"


# ------------------------------------------------------------------- look-ups


def get_policy(policy_key):
    """Return the ``Policy`` for ``policy_key`` (None/'' = default policy)."""
    policy = POLICIES.get(policy_key or DEFAULT_POLICY)
    if policy is None:
        raise ValueError(f"Unknown tier policy: {policy_key!r}")
    return policy


def _level(policy, level_index):
    if not isinstance(level_index, int) or not 0 <= level_index <= policy.top_index:
        raise ValueError(f"Level index {level_index!r} out of range for policy {policy.key!r} (0..{policy.top_index})")
    return policy.levels[level_index]


def limit_for(policy_key, level_index):
    """Unique users / 24 h at ``level_index`` (0-based); None = unlimited."""
    policy = get_policy(policy_key)
    return _level(policy, level_index).limit


_META_TIER_RE = re.compile(r"^TIER_(\d+)([KM]?)$")
_MULTIPLIERS = {"": 1, "K": 1_000, "M": 1_000_000}


def parse_meta_tier(value):
    """Meta Graph API ``messaging_limit_tier`` → limit (int), None = unlimited.

    Accepts 'TIER_250', 'TIER_1K' (old system), 'TIER_2K', 'TIER_10K',
    'TIER_100K', 'TIER_UNLIMITED' (also 'TIER_50' and other 'TIER_<n>[K|M]'),
    case-insensitive. Since None means unlimited, anything else raises
    ``ValueError``.
    """
    text = str(value or "").strip().upper().replace("-", "_").replace(" ", "_")
    if text in ("TIER_UNLIMITED", "UNLIMITED"):
        return None
    match = _META_TIER_RE.match(text)
    if not match:
        raise ValueError(f"Unrecognised messaging limit tier: {value!r}")
    return int(match.group(1)) * _MULTIPLIERS[match.group(2)]


def level_index_for_limit(policy_key, limit):
    """Map a provider-reported limit to a level index of ``policy_key``.

    ``limit`` is an int, None (= unlimited → top level) or a Meta tier string
    ('TIER_2K' …, parsed with ``parse_meta_tier``). An exact match returns its
    level; otherwise the highest level whose limit is <= ``limit`` (never
    overstating the capacity: 'TIER_1K' → the 250 level of the 'meta' policy,
    5,000 → tier 1 of 'guide'); below the first level → 0.
    """
    policy = get_policy(policy_key)
    if isinstance(limit, str):
        limit = parse_meta_tier(limit)
    if limit is None:
        return policy.top_index
    if limit < 0:
        raise ValueError(f"Negative limit: {limit!r}")
    best = 0
    for index, level in enumerate(policy.levels):
        if level.limit is not None and level.limit <= limit:
            best = index
    return best


def threshold_7d(policy_key, level_index):
    """Unique users needed in the rolling window to qualify; None at the top."""
    policy = get_policy(policy_key)
    limit = _level(policy, level_index).limit
    if limit is None:
        return None
    return math.ceil(limit * policy.rules.promotion_ratio)


# --------------------------------------------------------------- evaluation


@dataclass
class Snapshot:
    """State of a phone number (guide) / business portfolio (meta) at ``now``."""

    now: datetime
    level_index: int
    quality: str = "high"
    phone_status: str = "connected"
    unique_24h: int = 0
    unique_7d: int = 0
    #: first time the 24 h unique count hit the limit *at the current level*;
    #: ignored when older than ``level_since``. If None while
    #: ``unique_24h >= limit``, it is taken to be ``now``.
    limit_reached_at: datetime | None = None
    level_since: datetime | None = None
    #: meta: when ``unique_7d`` first crossed the threshold (None → ``now``)
    threshold_met_at: datetime | None = None


@dataclass
class Outlook:
    """Result of ``evaluate``.

    ``action`` 'promote' means the snapshot qualifies now; the new limit is
    expected at ``earliest_promotion`` (``now`` for guide, +6 h for meta).
    ``earliest_promotion`` is set only when nothing but time stands in the way
    (otherwise None, see ``blocked_reasons``); ``not_before`` is the pure time
    floor (guide: limit first reached + 48 h) whatever the other conditions.
    """

    policy_key: str
    level_index: int
    action: str  # 'promote' | 'demote' | 'stay'
    new_level_index: int
    current_limit: int | None
    next_limit: int | None
    threshold_7d: int | None
    needed_7d: int | None
    earliest_promotion: datetime | None
    not_before: datetime | None = None
    blocked_reasons: list = field(default_factory=list)
    reason: str = ""


def _check_naive(name, value):
    if value is not None:
        if not isinstance(value, datetime):
            raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
        if value.tzinfo is not None and value.utcoffset() is not None:
            raise ValueError(f"{name} must be a naive UTC datetime")


def _fmt_limit(limit):
    return "unlimited" if limit is None else f"{limit:,}/24h"


def _check_snapshot(snap):
    if snap.quality not in QUALITIES:
        raise ValueError(f"Unknown quality: {snap.quality!r}")
    if snap.phone_status not in PHONE_STATUSES:
        raise ValueError(f"Unknown phone status: {snap.phone_status!r}")
    for name in ("now", "limit_reached_at", "level_since", "threshold_met_at"):
        _check_naive(name, getattr(snap, name))
    if snap.now is None:
        raise ValueError("Snapshot.now is required")


def _limit_blockers(rules, snap, current_limit):
    """``(blocked codes, time floor)`` of the daily-limit rule (the guide:
    reached at this tier, then 48 hours)."""
    if not rules.requires_limit_reached:
        return [], None
    reached_at = snap.limit_reached_at
    if reached_at is not None and snap.level_since is not None and reached_at < snap.level_since:
        reached_at = None  # reached at a previous level: doesn't count
    if reached_at is None and snap.unique_24h >= current_limit:
        reached_at = snap.now
    if reached_at is None:
        return ["limit_not_reached_yet"], None
    time_floor = reached_at + rules.wait_after_limit
    return (["wait_48h"] if snap.now < time_floor else []), time_floor


def _promotion_reason(outlook, snap, rules, blocked, time_floor):
    if not blocked:
        reason = f"Eligible for promotion to {_fmt_limit(outlook.next_limit)}"
        if rules.promotion_delay:
            reason += f", expected by {outlook.earliest_promotion:%Y-%m-%d %H:%M} UTC"
        return reason
    if blocked == ["wait_48h"]:
        return f"Promotion to {_fmt_limit(outlook.next_limit)} possible from {time_floor:%Y-%m-%d %H:%M} UTC"
    if "status_unknown" in blocked:
        return "Quality rating or phone status unknown: no promotion"
    if "quality_low" in blocked:
        return "Quality rating is low: no promotion"
    if "phone_flagged" in blocked:
        return "Number is flagged: no promotion"
    if "limit_not_reached_yet" in blocked:
        return "The daily limit has not been reached yet at this tier"
    return f"{outlook.needed_7d:,} more unique users in 7 days needed ({snap.unique_7d:,}/{outlook.threshold_7d:,})"


def evaluate(policy_key, snapshot):
    """Evaluate promotion/demotion of ``snapshot`` under ``policy_key``."""
    policy = get_policy(policy_key)
    rules = policy.rules
    snap = snapshot
    level = _level(policy, snap.level_index)
    _check_snapshot(snap)
    now = snap.now
    index = snap.level_index
    outlook = Outlook(
        policy_key=policy.key,
        level_index=index,
        action="stay",
        new_level_index=index,
        current_limit=level.limit,
        next_limit=None,
        threshold_7d=None,
        needed_7d=None,
        earliest_promotion=None,
    )

    # Demotion first: it wins over everything else.
    # At the lowest tier it falls through (promotion is blocked anyway).
    if index > 0 and snap.quality in rules.demote_qualities and snap.phone_status in rules.demote_statuses:
        outlook.action = "demote"
        outlook.new_level_index = index - 1
        outlook.blocked_reasons = ["quality_low", "phone_flagged"]
        outlook.reason = f"Quality low and number flagged: demoted to {_fmt_limit(policy.levels[index - 1].limit)}"
        return outlook

    if index == policy.top_index:
        outlook.blocked_reasons = ["top_level"]
        outlook.reason = "Already at the unlimited tier"
        return outlook

    outlook.next_limit = policy.levels[index + 1].limit
    outlook.threshold_7d = threshold_7d(policy.key, index)
    outlook.needed_7d = max(0, outlook.threshold_7d - max(0, snap.unique_7d))
    blocked = []
    if UNKNOWN in (snap.quality, snap.phone_status):
        blocked.append("status_unknown")  # not known to be good: no promotion
    if snap.quality != UNKNOWN and snap.quality not in rules.ok_qualities:
        blocked.append("quality_low")
    if snap.phone_status in rules.blocking_statuses:
        blocked.append("phone_flagged")
    limit_blocked, time_floor = _limit_blockers(rules, snap, level.limit)
    blocked += limit_blocked
    outlook.not_before = time_floor
    if outlook.needed_7d > 0:
        blocked.append("threshold_not_met")
    outlook.blocked_reasons = blocked

    if all(code == "wait_48h" for code in blocked):  # only time stands in the way
        start = now
        if rules.promotion_delay and snap.threshold_met_at is not None:
            start = snap.threshold_met_at  # meta: the clock runs from the crossing
        if time_floor is not None:
            start = max(start, time_floor)
        outlook.earliest_promotion = start + rules.promotion_delay
    if not blocked:
        outlook.action = "promote"
        outlook.new_level_index = index + 1
    outlook.reason = _promotion_reason(outlook, snap, rules, blocked, time_floor)
    return outlook


# ------------------------------------------------------------------ sending


def can_send(limit, already_contacted_24h, is_new_number, in_customer_window=False):
    """May one more business-initiated message go out?

    ``limit`` None = unlimited (never blocks). A number already contacted in the
    last 24 h (``is_new_number=False``) doesn't count again, and neither does a
    reply inside a customer-opened 24 h window (``in_customer_window=True``).
    Otherwise the new number fits while ``already_contacted_24h < limit``.
    """
    if limit is None or in_customer_window or not is_new_number:
        return True
    return max(0, already_contacted_24h) < limit


def remaining(limit, unique_24h):
    """New unique users still reachable in the rolling 24 h; None = unlimited."""
    if limit is None:
        return None
    return max(0, limit - max(0, unique_24h))


# --------------------------------------------------------------- simulation


class SimDay(NamedTuple):
    """One simulated day: the level/limit in force during that day."""

    day: int
    level_index: int
    limit: int | None


def _per_day(value, day):
    if isinstance(value, str):
        return value
    return value[day]


def simulate(
    policy_key,
    daily_unique_counts,
    start,
    quality="high",
    phone_status="connected",
    level_index=None,
):
    """Run the policy day by day and return ``[SimDay(day, level_index, limit)]``.

    Day ``d`` happens at ``start + d days``: the business contacts
    ``daily_unique_counts[d]`` new distinct users, capped by the limit in force
    that day; then the policy is evaluated at that instant, with
    ``unique_24h`` = that day's count and ``unique_7d`` = the sum of the last 7
    days (today included). A promotion/demotion applies from the next day (the
    meta +6 h delay fits within the day). ``quality`` and ``phone_status`` are a
    single value or one value per day. ``level_index`` defaults to the
    policy's starting level.
    """
    policy = get_policy(policy_key)
    _check_naive("start", start)
    index = policy.start_index if level_index is None else level_index
    _level(policy, index)
    window_days = max(1, policy.rules.window.days)
    level_since = start
    limit_reached_at = None
    history = []
    result = []
    for day, wanted in enumerate(daily_unique_counts):
        now = start + timedelta(days=day)
        limit = policy.levels[index].limit
        sent = max(0, wanted) if limit is None else min(max(0, wanted), limit)
        history.append(sent)
        result.append(SimDay(day, index, limit))
        if limit is not None and sent >= limit and limit_reached_at is None:
            limit_reached_at = now
        outlook = evaluate(
            policy.key,
            Snapshot(
                now=now,
                level_index=index,
                quality=_per_day(quality, day),
                phone_status=_per_day(phone_status, day),
                unique_24h=sent,
                unique_7d=sum(history[-window_days:]),
                limit_reached_at=limit_reached_at,
                level_since=level_since,
            ),
        )
        if outlook.action in ("promote", "demote"):
            index = outlook.new_level_index
            level_since = outlook.earliest_promotion or now
            limit_reached_at = None
    return result
