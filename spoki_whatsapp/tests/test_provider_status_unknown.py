"""A quality rating or phone status the provider doesn't report is 'unknown',
never 'high' / 'connected': stored as such, it blocks tier promotions and
demotes nothing."""

from odoo.tests import tagged

from . import fake_provider as fp
from .test_tier_tracking import DAY, HOUR, MINUTE, T0, TierCase


@tagged("post_install", "-at_install")
class TestProviderStatusUnknown(TierCase):
    def test_read_back_stores_unknown(self):
        with fp.FakeProvider() as fake:
            account = self._new_account(
                "Meta unknown",
                "+390200000301",
                provider="meta",
                api_endpoint=fake.url,
                meta_access_token=fp.META_TOKEN,
                meta_phone_number_id=fp.PHONE_NUMBER_ID,
                meta_waba_id=fp.WABA_ID,
            )
            self.assertEqual((account.quality, account.phone_status), ("high", "connected"))
            fake.set_account(quality_rating="UNKNOWN", status="SOMETHING_NEW")
            account._tier_read_provider_status()
            self.assertEqual((account.quality, account.phone_status), ("unknown", "unknown"))
            fake.set_account(quality_rating="YELLOW", status="CONNECTED")
            account._tier_read_provider_status()
            self.assertEqual((account.quality, account.phone_status), ("medium", "connected"))

    def test_unknown_blocks_promotion(self):
        account = self.guide
        self._send(account, 1000, T0)
        self._track(account, T0 + MINUTE)  # the daily limit is reached
        self._send(account, 1000, T0 + DAY, start=1000)
        for field in ("quality", "phone_status"):
            account.with_context(spoki_clock=T0 + DAY + HOUR).write({field: "unknown"})
            self._track(account, T0 + 2 * DAY + HOUR)
            self.assertEqual(account.tier_level_id, self.tier1, f"{field} unknown: no promotion")
            self.assertEqual(self._reasons(account), {"status_unknown"})
            self.assertIn("has not reported the quality rating or the phone status", account.tier_outlook_text)
            account.with_context(spoki_clock=T0 + DAY + HOUR).write({"quality": "high", "phone_status": "connected"})
        self._track(account, T0 + 2 * DAY + 2 * HOUR)
        self.assertEqual(account.tier_level_id, self.tier2, "known and good: promoted")

    def test_unknown_never_demotes(self):
        account = self._new_account("Unknown flagged", "+390200000302", tier_level_id=self.tier2.id)
        account.with_context(spoki_clock=T0).write({"quality": "unknown", "phone_status": "flagged"})
        self._track(account, T0 + HOUR)
        self.assertEqual(account.tier_level_id, self.tier2)
        account.with_context(spoki_clock=T0 + DAY).write({"quality": "low", "phone_status": "unknown"})
        self._track(account, T0 + DAY + HOUR)
        self.assertEqual(account.tier_level_id, self.tier2)
        account.with_context(spoki_clock=T0 + 2 * DAY).write({"phone_status": "flagged"})
        self._track(account, T0 + 2 * DAY + HOUR)
        self.assertEqual(account.tier_level_id, self.tier1, "low and flagged: demoted")
