from odoo.tests import tagged

from odoo.addons.spoki_whatsapp.tools import tier_policy

from .common import SpokiCommon


@tagged("post_install", "-at_install")
class TestTierLevels(SpokiCommon):
    """The spoki.tier.level records mirror the steps of tools/tier_policy.py,
    the single source of the promotion rules."""

    def test_levels_agree_with_policy_table(self):
        Level = self.env["spoki.tier.level"]
        for key, policy in tier_policy.POLICIES.items():
            levels = Level.search([("policy", "=", key)], order="sequence, id")
            self.assertEqual(
                [(level.sequence, level.max_users) for level in levels],
                [(level.sequence, level.limit or 0) for level in policy.levels],
                f"spoki.tier.level records of policy {key!r} disagree with tools/tier_policy.py",
            )
            self.assertEqual(Level._first_level(key), levels[policy.start_index])

    def test_policy_selections_match_policy_table(self):
        level_keys = {key for key, _label in self.env["spoki.tier.level"]._fields["policy"].selection}
        account_keys = {key for key, _label in self.env["spoki.account"]._fields["tier_policy"].selection}
        self.assertEqual(level_keys, set(tier_policy.POLICIES))
        self.assertEqual(account_keys, set(tier_policy.POLICIES))

    def test_level_index(self):
        account = self.account
        self.assertEqual(account._tier_level_index(), 0)
        account.tier_level_id = self.env.ref("spoki_whatsapp.tier_guide_3")
        self.assertEqual(account._tier_level_index(), 2)
        account.tier_policy = "meta"  # keeps the closest step not above 100,000
        self.assertEqual(account.tier_level_id, self.env.ref("spoki_whatsapp.tier_meta_100k"))
        self.assertEqual(account._tier_level_index(), 3)
        self.assertEqual(
            account._tier_level_at("meta", tier_policy.get_policy("meta").top_index),
            self.env.ref("spoki_whatsapp.tier_meta_unlimited"),
        )
