"""Live refresh: campaign counters, template states and the dashboard follow
the provider's events without a reload (bus notification
``spoki_whatsapp/refresh`` on the company's channel, OWL reload)."""

import base64
import json
import os
import threading
from datetime import datetime
from unittest.mock import patch

from odoo.tests import HttpCase, tagged
from odoo.tests.common import ChromeBrowser

from odoo.addons.bus.models.bus import channel_with_db, dispatch, hashable
from odoo.addons.bus.websocket import WebsocketConnectionHandler
from odoo.addons.spoki_whatsapp.models.live import refresh
from odoo.addons.spoki_whatsapp.models.live.refresh import reset_throttle
from odoo.addons.spoki_whatsapp.tools.providers import StatusEvent

from . import fake_provider as fp
from .common import SpokiCommon, apply_stored_webhooks
from .messaging_common import MessagingCommon

REFRESH = "spoki_whatsapp/refresh"
SECRET = "live-app-secret"
T0 = 1767261600  # 2026-01-01 10:00:00 UTC


class LiveCommon:
    @classmethod
    def _campaign_with_sent_messages(cls, partners, prefix):
        """A running campaign whose messages to ``partners`` were sent
        (provider ids ``<prefix>.<i>``)."""
        env = cls.env
        spoki_list = env["spoki.list"].create({"name": f"Live {prefix}", "partner_ids": [(6, 0, partners.ids)]})
        template = env["spoki.template"].create(
            {"name": f"Live {prefix}", "account_id": cls.account.id, "lang": "en_US", "body": "Hello %%NOME%%, hi!"}
        )
        template.write({"state": "approved", "provider_name": f"live_{prefix}_{template.id}"})
        campaign = env["spoki.campaign"].create(
            {
                "name": f"Live {prefix}",
                "account_id": cls.account.id,
                "template_id": template.id,
                "list_ids": [(6, 0, spoki_list.ids)],
            }
        )
        env["spoki.message"].create(
            [
                {
                    "account_id": cls.account.id,
                    "campaign_id": campaign.id,
                    "partner_id": partner.id,
                    "wa_phone": partner.wa_phone,
                    "kind": "template",
                    "template_id": template.id,
                    "body": "Hello",
                    "state": "sent",
                    "provider_message_id": f"{prefix}.{i}",
                    "sent_at": datetime(2026, 1, 1, 9, 0),
                }
                for i, partner in enumerate(partners)
            ]
        )
        env.cr.execute("UPDATE spoki_campaign SET state = 'running' WHERE id = %s", (campaign.id,))
        campaign.invalidate_recordset()
        return campaign


class BrowserScreens:
    """``console.log("spoki-screenshot:<name>")`` in the page captures the
    screen (kept in ``self.screens``; saved as <name>.png under
    $SPOKI_SCREENSHOTS_DIR when set)."""

    def setUp(self):
        super().setUp()
        self.screens = {}
        original = ChromeBrowser._handle_console

        def handle_console(browser, type, args=None, **kw):  # noqa: A002 - Chrome's parameter name
            # "spoki-screenshot:<name>" in the page's console: capture the screen
            if args and str(browser._from_remoteobject(args[0])).startswith("spoki-screenshot:"):
                name = str(browser._from_remoteobject(args[0])).split(":", 1)[1]
                future = browser._websocket_send("Page.captureScreenshot", with_future=True)
                future.add_done_callback(lambda f, name=name: self._save_screen(name, f))
            return original(browser, type, args, **kw)

        self.startPatcher(patch.object(ChromeBrowser, "_handle_console", handle_console))

    def _save_screen(self, name, future):
        try:
            data = base64.b64decode(future.result()["data"])
        except Exception:  # noqa: BLE001 - a screenshot is a bonus, never a failure
            return
        self.screens[name] = data
        directory = os.environ.get("SPOKI_SCREENSHOTS_DIR")
        if directory:
            os.makedirs(directory, exist_ok=True)
            with open(os.path.join(directory, f"{name}.png"), "wb") as f:
                f.write(data)


@tagged("post_install", "-at_install")
class TestLiveRefresh(LiveCommon, MessagingCommon):
    def _refreshes(self):
        """The refresh notifications created by the transaction so far:
        [(channel, payload)]."""
        self.env.cr.precommit.run()  # what a commit does: the bus rows are created
        notifications = self.env["bus.bus"].sudo().search([], order="id")
        found = []
        for notification in notifications:
            message = json.loads(notification.message)
            if message["type"] == REFRESH:
                found.append((json.loads(notification.channel), message["payload"]))
        notifications.unlink()
        return found

    def setUp(self):
        super().setUp()
        self._refreshes()  # start clean

    def test_status_events_refresh_the_campaign_once_per_batch(self):
        partners = self._create_partners(50, prefix="+39353")
        campaign = self._campaign_with_sent_messages(partners, "wamid.LIVE")
        self._refreshes()
        events = [StatusEvent(f"wamid.LIVE.{i}", "delivered", datetime(2026, 1, 1, 9, 5)) for i in range(50)]
        self.Message._apply_status_events(self.account, events)
        refreshes = self._refreshes()
        company_channel = list(channel_with_db(self.env.cr.dbname, self.company_a))
        self.assertIn((company_channel, {"model": "spoki.campaign", "ids": campaign.ids}), refreshes)
        self.assertIn((company_channel, {"model": "spoki.account", "ids": self.account.ids}), refreshes)
        self.assertEqual(len(refreshes), 2, "one notification per model for the whole batch")
        self.assertEqual(campaign.delivered_count, 50)
        self.Message._apply_status_events(self.account, [StatusEvent("wamid.unknown", "read", datetime(2026, 1, 1))])
        self.assertEqual(self._refreshes(), [], "an event of no known message refreshes nothing")

    def test_a_storm_refreshes_a_record_once_a_second(self):
        """Each webhook is a transaction: the same campaign (and account) is
        notified at most once a second per process; another record at once."""
        partners = self._create_partners(4, prefix="+39356")
        campaign = self._campaign_with_sent_messages(partners[:2], "wamid.ST")
        other = self._campaign_with_sent_messages(partners[2:], "wamid.SO")
        self._refreshes()
        reset_throttle()
        now = [1000.0]

        def apply(provider_id, status):
            self.Message._apply_status_events(self.account, [StatusEvent(provider_id, status, datetime(2026, 1, 1, 9))])
            return [payload for _channel, payload in self._refreshes()]

        with patch.object(refresh._recently_sent, "clock", lambda: now[0]):
            self.assertEqual(
                apply("wamid.ST.0", "delivered"),
                [{"model": "spoki.campaign", "ids": campaign.ids}, {"model": "spoki.account", "ids": self.account.ids}],
            )
            now[0] += 0.5
            self.assertEqual(apply("wamid.ST.1", "delivered"), [], "notified 0.5 s ago: the client reloads again")
            self.assertEqual(apply("wamid.SO.0", "delivered"), [{"model": "spoki.campaign", "ids": other.ids}])
            now[0] += 0.6
            self.assertEqual(
                apply("wamid.ST.1", "read"),
                [{"model": "spoki.campaign", "ids": campaign.ids}, {"model": "spoki.account", "ids": self.account.ids}],
            )
        self.assertEqual(campaign.delivered_count, 2)

    def test_send_queue_outcomes_refresh_the_campaign(self):
        partners = self._create_partners(3, prefix="+39354")
        campaign = self._campaign_with_sent_messages(partners[:1], "wamid.SQ")
        self.queue_template(partners[1:], campaign_id=campaign.id)
        self._refreshes()
        self.run_queue()
        refreshes = self._refreshes()
        self.assertIn({"model": "spoki.campaign", "ids": campaign.ids}, [payload for _c, payload in refreshes])
        self.assertEqual(campaign.sent_count, 3)

    def test_template_approval_refreshes_the_template(self):
        template = self.env["spoki.template"].create(
            {"name": "Live review", "account_id": self.account.id, "lang": "en_US", "body": "Hello there, welcome!"}
        )
        template.write({"state": "in_review", "external_id": "9000000555"})
        self._refreshes()
        self.env["spoki.template"]._apply_provider_status("9000000555", "approved", account=self.account)
        self.assertEqual(template.state, "approved")
        self.assertEqual(
            [payload for _c, payload in self._refreshes()], [{"model": "spoki.template", "ids": template.ids}]
        )

    def test_agents_listen_to_their_companies(self):
        channels = self.env["ir.websocket"].with_user(self.agent)._spoki_live_channels()
        self.assertEqual(channels, [self.company_a])
        outsider = self._new_user("live_outsider", "base.group_user")
        self.assertEqual(self.env["ir.websocket"].with_user(outsider)._spoki_live_channels(), [])


@tagged("post_install", "-at_install")
class TestLiveRefreshBrowser(BrowserScreens, LiveCommon, HttpCase, SpokiCommon):
    """Headless Chromium with the real bus: a campaign form and a template
    form open, the provider's webhook arrives, the counter and the state
    change on screen without a reload."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Odoo refuses websockets while testing, and a test cursor never
        # runs the post-commit NOTIFY that wakes them: allow the websocket,
        # and the pump below does what the NOTIFY would (as bus/tests do).
        cls.startClassPatcher(patch.object(WebsocketConnectionHandler, "websocket_allowed", return_value=True))
        cls.account.write({"meta_app_secret": SECRET})
        cls.manager.write({"company_ids": [(4, cls.company_a.id)]})
        cls.partners = cls._create_partners(3, prefix="+39355")
        cls.campaign = cls._campaign_with_sent_messages(cls.partners, "wamid.UI")
        cls.template = cls.env["spoki.template"].create(
            {"name": "Live UI", "account_id": cls.account.id, "lang": "en_US", "body": "Hello there, welcome!"}
        )
        cls.template.write({"state": "queued", "external_id": "9000000777"})

    def _pump(self, stop):
        """Wake the websockets of company A's channel every 300 ms, after
        applying the stored webhooks as the cron "WhatsApp: apply webhooks"
        does (the page posts status webhooks: answered once stored)."""
        channel = hashable(channel_with_db(self.registry.db_name, self.company_a))
        while not stop.wait(0.3):
            apply_stored_webhooks(self.registry)
            for websocket in list(dispatch._channels_to_ws.get(channel, [])):
                websocket.trigger_notification_dispatching()

    def _run(self, url, code):
        stop = threading.Event()
        pump = threading.Thread(target=self._pump, args=(stop,), daemon=True)
        pump.start()
        try:
            self.browser_js(url, code, login="spoki_manager", timeout=90)
        finally:
            stop.set()
            pump.join(5)

    def _js(self, post_body, post_headers, selector, before, after, shot, then=()):
        """``then``: more (body, headers) posted once the first one is on
        screen, back to back."""
        return """
            const selector = %(selector)s;
            const text = () => (document.querySelector(selector) || {}).textContent || "";
            const wait = async (test, what, ms = 30000) => {
                const end = Date.now() + ms;
                while (!test()) {
                    if (Date.now() > end) { throw new Error("timeout: " + what + " (" + text() + ")"); }
                    await new Promise((r) => setTimeout(r, 100));
                }
            };
            (async () => {
                await wait(() => text().includes(%(before)s), "form shown");
                const loadedAt = performance.timeOrigin;
                console.log("spoki-screenshot:%(shot)s_before");
                await new Promise((r) => setTimeout(r, 2500));  // the bus subscribes
                const response = await fetch(%(url)s, {method: "POST", body: %(body)s, headers: %(headers)s});
                if (response.status !== 200) { throw new Error("webhook answered " + response.status); }
                for (const [body, headers] of %(then)s) {
                    await wait(() => !text().includes(%(before)s), "the first change");
                    const next = await fetch(%(url)s, {method: "POST", body, headers});
                    if (next.status !== 200) { throw new Error("webhook answered " + next.status); }
                }
                await wait(() => text().includes(%(after)s), "live change");
                if (performance.timeOrigin !== loadedAt) { throw new Error("the page was reloaded"); }
                console.log("spoki-screenshot:%(shot)s_after");
                await new Promise((r) => setTimeout(r, 1000));
                console.log("test successful");
            })().catch((error) => console.error(error.message));
        """ % {
            "selector": json.dumps(selector),
            "before": json.dumps(before),
            "after": json.dumps(after),
            "url": json.dumps(f"/spoki/webhook/{self.account.id}"),
            "body": json.dumps(post_body.decode()),
            "headers": json.dumps(post_headers),
            "shot": shot,
            "then": json.dumps([[body.decode(), headers] for body, headers in then]),
        }

    def test_campaign_counters_move_live(self):
        statuses = [fp.meta_status(f"wamid.UI.{i}", "delivered", T0 + 60) for i in range(2)]
        raw, headers = fp.signed_meta_webhook(SECRET, statuses)
        selector = ".o_form_view div[name='delivered_count'], .o_form_view [name='delivered_count']"
        self.assertEqual(self.campaign.delivered_count, 0)
        code = self._js(raw, headers, selector, "0", "2", "campaign")
        self._run(f"/odoo/action-spoki_whatsapp.spoki_campaign_action/{self.campaign.id}", code)
        self.campaign.invalidate_recordset()
        self.assertEqual(self.campaign.delivered_count, 2)
        self.assertIn("campaign_after", self.screens)

    def test_a_burst_ends_up_on_screen(self):
        """The second webhook comes within the throttle: no notification of
        its own, the client's settle reload shows it."""
        first, first_headers = fp.signed_meta_webhook(SECRET, [fp.meta_status("wamid.UI.0", "delivered", T0 + 60)])
        second = fp.signed_meta_webhook(SECRET, [fp.meta_status("wamid.UI.1", "delivered", T0 + 61)])
        selector = ".o_form_view div[name='delivered_count'], .o_form_view [name='delivered_count']"
        code = self._js(first, first_headers, selector, "0", "2", "burst", then=[second])
        with patch.object(refresh._recently_sent, "clock", lambda: 0.0):  # the window never ends
            self._run(f"/odoo/action-spoki_whatsapp.spoki_campaign_action/{self.campaign.id}", code)
        self.campaign.invalidate_recordset()
        self.assertEqual(self.campaign.delivered_count, 2)

    def test_template_state_moves_live(self):
        raw = json.dumps(fp.meta_webhook([fp.meta_template_change("9000000777", "APPROVED")])).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": fp.meta_signature(SECRET, raw)}
        selector = ".o_form_view .o_statusbar_status .o_arrow_button_current"
        code = self._js(raw, headers, selector, "Queued", "Approved", "template")
        self._run(f"/odoo/action-spoki_whatsapp.spoki_template_action/{self.template.id}", code)
        self.template.invalidate_recordset()
        self.assertEqual(self.template.state, "approved")
        self.assertIn("template_after", self.screens)
