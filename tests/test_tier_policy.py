"""Messaging-limit tier policies (spoki_whatsapp.tools.tier_policy).

Every test uses an injected clock (fixed naive UTC datetimes): no sleeping.
"""

from datetime import datetime, timedelta, timezone

import pytest

from spoki_whatsapp.tools.tier_policy import (
    BLOCK_CODES,
    DEFAULT_POLICY,
    POLICIES,
    Level,
    Snapshot,
    can_send,
    evaluate,
    level_index_for_limit,
    limit_for,
    parse_meta_tier,
    remaining,
    simulate,
    threshold_7d,
)

NOW = datetime(2025, 11, 3, 12, 0, 0)
H48 = timedelta(hours=48)


def guide(**kw):
    """Guide snapshot at tier 1 that qualifies unless overridden."""
    values = {
        "now": NOW,
        "level_index": 0,
        "quality": "high",
        "phone_status": "connected",
        "unique_24h": 1_000,
        "unique_7d": 2_000,
        "limit_reached_at": NOW - H48,
    }
    values.update(kw)
    return evaluate("guide", Snapshot(**values))


def meta(**kw):
    values = {"now": NOW, "level_index": 0, "quality": "high", "unique_7d": 125}
    values.update(kw)
    return evaluate("meta", Snapshot(**values))


# ------------------------------------------------------------------ the table


def test_policies_table():
    assert DEFAULT_POLICY == "guide"
    assert set(POLICIES) == {"guide", "meta"}
    g, m = POLICIES["guide"], POLICIES["meta"]
    assert (g.key, g.scope) == ("guide", "phone")
    assert (m.key, m.scope) == ("meta", "portfolio")
    assert g.label and m.label
    assert [lvl.limit for lvl in g.levels] == [1_000, 10_000, 100_000, None]
    assert [lvl.limit for lvl in m.levels] == [250, 2_000, 10_000, 100_000, None]
    assert all(isinstance(lvl, Level) for lvl in g.levels + m.levels)
    assert [lvl.sequence for lvl in m.levels] == [1, 2, 3, 4, 5]
    assert len({lvl.code for lvl in m.levels}) == 5


def test_limit_for_and_bad_input():
    assert limit_for("guide", 0) == 1_000
    assert limit_for("guide", 3) is None
    assert limit_for("meta", 1) == 2_000
    with pytest.raises(ValueError):
        limit_for("guide", 4)
    with pytest.raises(ValueError):
        limit_for("nope", 0)


@pytest.mark.parametrize(
    "policy, limit, index",
    [
        ("meta", 250, 0),
        ("meta", 2_000, 1),
        ("meta", None, 4),
        ("meta", "TIER_100K", 3),
        ("meta", "TIER_UNLIMITED", 4),
        ("meta", "TIER_1K", 0),  # old tier: never overstate → 250
        ("meta", 50, 0),
        ("guide", 10_000, 1),
        ("guide", 5_000, 0),
        ("guide", 250_000, 2),
        ("guide", None, 3),
    ],
)
def test_level_index_for_limit(policy, limit, index):
    assert level_index_for_limit(policy, limit) == index


@pytest.mark.parametrize(
    "raw, limit",
    [
        ("TIER_250", 250),
        ("TIER_1K", 1_000),
        ("TIER_2K", 2_000),
        ("TIER_10K", 10_000),
        ("TIER_100K", 100_000),
        ("TIER_UNLIMITED", None),
        (" tier_2k ", 2_000),
        ("TIER_50", 50),
    ],
)
def test_parse_meta_tier(raw, limit):
    assert parse_meta_tier(raw) == limit


@pytest.mark.parametrize("raw", ["", None, "TIER_", "2K", "TIER_X", "TIER_10G"])
def test_parse_meta_tier_rejects_garbage(raw):
    with pytest.raises(ValueError):
        parse_meta_tier(raw)


# ------------------------------------------------------------------- guide


def test_guide_promotes_at_exactly_twice_the_limit():
    out = guide(unique_7d=2_000)
    assert out.action == "promote"
    assert out.new_level_index == 1
    assert (out.current_limit, out.next_limit) == (1_000, 10_000)
    assert out.needed_7d == 0
    assert out.threshold_7d == 2_000
    assert out.blocked_reasons == []
    assert out.earliest_promotion == NOW


def test_guide_no_promotion_one_user_short():
    out = guide(unique_7d=1_999)
    assert out.action == "stay"
    assert out.new_level_index == 0
    assert out.needed_7d == 1
    assert out.blocked_reasons == ["threshold_not_met"]
    assert out.earliest_promotion is None
    assert out.not_before == NOW  # time floor already passed


def test_guide_48h_boundary():
    early = guide(limit_reached_at=NOW - timedelta(hours=47, minutes=59))
    assert early.action == "stay"
    assert early.blocked_reasons == ["wait_48h"]
    assert early.earliest_promotion == NOW + timedelta(minutes=1)
    assert guide(limit_reached_at=NOW - H48).action == "promote"


def test_guide_earliest_promotion_when_only_waiting():
    reached = NOW - timedelta(hours=10)
    out = guide(limit_reached_at=reached, unique_7d=5_000)
    assert out.action == "stay"
    assert out.earliest_promotion == reached + H48
    assert out.not_before == reached + H48
    assert out.needed_7d == 0


def test_guide_waiting_and_threshold_not_met_has_no_forecast():
    reached = NOW - timedelta(hours=10)
    out = guide(limit_reached_at=reached, unique_7d=1_500)
    assert out.blocked_reasons == ["wait_48h", "threshold_not_met"]
    assert out.earliest_promotion is None
    assert out.not_before == reached + H48
    assert out.needed_7d == 500


def test_guide_limit_never_reached():
    out = guide(limit_reached_at=None, unique_24h=999, unique_7d=3_000)
    assert out.action == "stay"
    assert out.blocked_reasons == ["limit_not_reached_yet"]
    assert out.earliest_promotion is None
    assert out.not_before is None
    assert out.reason


def test_guide_reaching_limit_now_is_inferred_from_unique_24h():
    out = guide(limit_reached_at=None, unique_24h=1_000, unique_7d=3_000)
    assert out.blocked_reasons == ["wait_48h"]
    assert out.earliest_promotion == NOW + H48


def test_guide_limit_reached_at_previous_level_is_ignored():
    out = guide(
        level_index=1,
        unique_24h=5_000,
        unique_7d=20_000,
        limit_reached_at=NOW - timedelta(days=5),
        level_since=NOW - timedelta(days=3),
    )
    assert out.blocked_reasons == ["limit_not_reached_yet"]
    ok = guide(
        level_index=1,
        unique_24h=5_000,
        unique_7d=20_000,
        limit_reached_at=NOW - timedelta(days=2),
        level_since=NOW - timedelta(days=3),
    )
    assert ok.action == "promote" and ok.next_limit == 100_000


def test_guide_low_quality_blocks_promotion_without_demotion():
    out = guide(level_index=1, quality="low", unique_7d=50_000, limit_reached_at=NOW - H48)
    assert out.action == "stay"
    assert out.new_level_index == 1
    assert out.blocked_reasons == ["quality_low"]
    assert out.earliest_promotion is None


def test_guide_flagged_number_cannot_be_upgraded():
    out = guide(quality="medium", phone_status="flagged")
    assert out.action == "stay"
    assert out.blocked_reasons == ["phone_flagged"]


def test_guide_medium_quality_and_restricted_still_promote():
    assert guide(quality="medium").action == "promote"
    assert guide(phone_status="restricted").action == "promote"


def test_guide_demotion_low_quality_and_flagged():
    out = guide(level_index=2, quality="low", phone_status="flagged")
    assert out.action == "demote"
    assert out.new_level_index == 1
    assert out.current_limit == 100_000
    assert "quality_low" in out.blocked_reasons


def test_guide_no_demotion_below_tier_1():
    out = guide(level_index=0, quality="low", phone_status="flagged")
    assert out.action == "stay"
    assert out.new_level_index == 0
    assert {"quality_low", "phone_flagged"} <= set(out.blocked_reasons)


def test_guide_top_level():
    out = guide(level_index=3, unique_7d=10**7)
    assert out.action == "stay"
    assert out.current_limit is None
    assert out.next_limit is None
    assert out.needed_7d is None
    assert out.earliest_promotion is None
    assert out.blocked_reasons == ["top_level"]


def test_blocked_codes_are_documented():
    seen = set()
    for out in (
        guide(level_index=3),
        guide(
            quality="low",
            phone_status="flagged",
            limit_reached_at=None,
            unique_24h=0,
            unique_7d=0,
        ),
        guide(limit_reached_at=NOW),
        guide(quality="unknown"),
    ):
        seen.update(out.blocked_reasons)
    assert seen <= set(BLOCK_CODES)
    assert seen == set(BLOCK_CODES)


def test_snapshot_validation():
    with pytest.raises(ValueError):
        guide(quality="excellent")
    with pytest.raises(ValueError):
        guide(phone_status="banned")
    with pytest.raises(ValueError):
        guide(now=NOW.replace(tzinfo=timezone(timedelta(hours=1))))
    with pytest.raises(ValueError):
        guide(level_index=7)


# -------------------------------------------------------------------- meta


@pytest.mark.parametrize("used, action, needed", [(124, "stay", 1), (125, "promote", 0)])
def test_meta_half_of_limit_in_7_days(used, action, needed):
    out = meta(unique_7d=used)
    assert out.action == action
    assert out.needed_7d == needed
    assert out.threshold_7d == 125


@pytest.mark.parametrize("index, threshold", [(0, 125), (1, 1_000), (2, 5_000), (3, 50_000)])
def test_meta_thresholds_per_level(index, threshold):
    assert threshold_7d("meta", index) == threshold
    assert meta(level_index=index, unique_7d=threshold).action == "promote"
    assert meta(level_index=index, unique_7d=threshold - 1).action == "stay"
    assert threshold_7d("meta", 4) is None


def test_meta_promotion_forecast_six_hours():
    out = meta(unique_7d=200)
    assert out.action == "promote"
    assert out.new_level_index == 1
    assert out.next_limit == 2_000
    assert out.earliest_promotion == NOW + timedelta(hours=6)
    crossed = NOW - timedelta(hours=2)
    later = meta(threshold_met_at=crossed)
    assert later.earliest_promotion == crossed + timedelta(hours=6)


def test_meta_no_48h_wait_and_no_flagged_state():
    out = meta(
        phone_status="flagged",
        quality="medium",
        limit_reached_at=NOW - timedelta(minutes=5),
        unique_24h=250,
    )
    assert out.action == "promote"
    assert out.blocked_reasons == []


def test_meta_low_quality_blocks_but_never_demotes():
    for status in ("connected", "flagged"):
        out = meta(level_index=3, quality="low", phone_status=status, unique_7d=90_000)
        assert out.action == "stay"
        assert out.new_level_index == 3
        assert out.blocked_reasons == ["quality_low"]
        assert out.earliest_promotion is None


# ------------------------------------------------------------------ sending


def test_can_send_unlimited_never_blocks():
    assert can_send(None, 10**9, True)
    assert remaining(None, 10**9) is None


def test_can_send_limit_boundaries():
    assert can_send(250, 249, True)
    assert not can_send(250, 250, True)
    assert can_send(250, 250, False)  # already contacted: doesn't count again
    assert can_send(250, 400, True, in_customer_window=True)
    assert remaining(250, 249) == 1
    assert remaining(250, 300) == 0
    assert remaining(1_000, 0) == 1_000


# -------------------------------------------------------------- simulation


START = datetime(2025, 10, 1)


def test_simulate_guide_promotes_48h_after_first_hitting_the_limit():
    days = simulate("guide", [1_000, 1_000, 1_000, 1_000], START)
    # day 0 hits the limit; day 1: 2,000 in 7 days but only 24 h; day 2: 48 h → promote
    assert days == [(0, 0, 1_000), (1, 0, 1_000), (2, 0, 1_000), (3, 1, 10_000)]
    assert days[3].limit == 10_000


def test_simulate_caps_at_the_current_limit():
    # 5,000 wanted/day but only 1,000 go out at tier 1: same timeline as above
    capped = simulate("guide", [5_000] * 4, START)
    assert [d.level_index for d in capped] == [0, 0, 0, 1]
    # never reaching the limit: never promoted, whatever the 7-day total
    assert {d.level_index for d in simulate("guide", [999] * 14, START)} == {0}


def test_simulate_guide_demotion():
    days = simulate("guide", [10] * 3, START, quality="low", phone_status="flagged", level_index=2)
    assert [d.level_index for d in days] == [2, 1, 0]


def test_simulate_meta_growth_and_quality():
    days = simulate("meta", [125, 125, 1_000, 5_000, 50_000, 10], START)
    assert [d.level_index for d in days] == [0, 1, 1, 2, 3, 4]
    assert days[-1].limit is None
    low = simulate("meta", [10_000] * 5, START, quality="low", level_index=2)
    assert {d.level_index for d in low} == {2}
    mixed = simulate("meta", [250, 250], START, quality=["low", "high"])
    assert [d.level_index for d in mixed] == [0, 0]


# ------------------------------------------------------------ unknown statuses


@pytest.mark.parametrize("policy", ["guide", "meta"])
@pytest.mark.parametrize(
    "quality, phone_status", [("unknown", "connected"), ("high", "unknown"), ("unknown", "unknown")]
)
def test_unknown_status_never_promotes(policy, quality, phone_status):
    """A quality or phone status the provider didn't report is not a good
    one: everything else qualifies, yet no promotion and no forecast."""
    build = guide if policy == "guide" else meta
    out = build(quality=quality, phone_status=phone_status)
    assert out.action == "stay"
    assert out.blocked_reasons == ["status_unknown"]
    assert out.earliest_promotion is None
    assert "unknown" in out.reason.lower()
    assert build(quality="high", phone_status="connected").action == "promote"


@pytest.mark.parametrize("quality, phone_status", [("unknown", "flagged"), ("low", "unknown"), ("unknown", "unknown")])
def test_unknown_status_never_demotes(quality, phone_status):
    """Nor is it a bad one: the guide demotes on low quality AND flagged only."""
    assert guide(level_index=2, quality="low", phone_status="flagged").action == "demote"
    out = guide(level_index=2, quality=quality, phone_status=phone_status)
    assert out.action == "stay"
    assert out.new_level_index == 2
    assert "status_unknown" in out.blocked_reasons
    assert ("quality_low" in out.blocked_reasons) == (quality == "low")
