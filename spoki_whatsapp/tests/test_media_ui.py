"""What users see of media (headless Chromium): on a sandbox chat a manager
simulates a customer's photo, which arrives with its image attachment.
Screenshots are written to ``$SPOKI_SCREENSHOTS`` (default /tmp/screens/C)."""

import base64
import logging
import os
import pathlib
from contextlib import contextmanager
from unittest.mock import patch

from odoo.tests import HttpCase, tagged
from odoo.tests.common import ChromeBrowser

_logger = logging.getLogger(__name__)
SCREENSHOTS = pathlib.Path(os.environ.get("SPOKI_SCREENSHOTS", "/tmp/screens/C"))

WAIT = """
    const deadline = Date.now() + 25000;
    const step = (test, then, what) => {
        const check = () => {
            const found = test();
            if (found) { then(found); return; }
            const error = document.querySelector('.o_error_dialog');
            if (error) { console.error('error dialog: ' + error.innerText); return; }
            if (Date.now() > deadline) { console.error(what + ' not found'); return; }
            setTimeout(check, 100);
        };
        check();
    };
"""


@contextmanager
def screenshot_before_stop(name):
    """Save what the browser shows when the test code is done (before the
    browser closes) as ``<SCREENSHOTS>/<name>.png``."""
    original = ChromeBrowser.stop

    def stop(browser):
        try:
            future = browser._websocket_send("Page.captureScreenshot", with_future=True)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            (SCREENSHOTS / f"{name}.png").write_bytes(base64.b64decode(future.result(timeout=10)["data"]))
        except Exception:  # noqa: BLE001 - a screenshot is a by-product, never the test's result
            _logger.warning("screenshot %s not taken", name, exc_info=True)
        return original(browser)

    with patch.object(ChromeBrowser, "stop", stop):
        yield


@tagged("post_install", "-at_install")
class TestMediaUi(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        company = cls.env.ref("base.main_company")
        account = cls.env["spoki.account"].create(
            {"name": "Media sandbox", "phone": "+390200000099", "provider": "sandbox", "company_id": company.id}
        )
        partner = cls.env["res.partner"].create({"name": "Giulia Foto", "mobile": "+393331110099"})
        cls.chat = cls.env["spoki.chat"]._get_or_create(account, partner.wa_phone, partner)
        cls.chat._sandbox_simulate_incoming("text", "Buongiorno, vi mando una foto")

    def test_simulated_photo_arrives_with_its_image(self):
        chat_action = self.env.ref("spoki_whatsapp.spoki_chat_action")
        code = (
            WAIT
            + """
            step(() => document.querySelector('button[name="action_sandbox_simulate_photo"]'), (button) => {
                button.click();
                step(() => [...document.querySelectorAll('.o_spoki_chat_transcript')]
                        .find(el => el.innerText.includes('Ecco la foto del prodotto')),
                     () => console.log('test successful'), 'the photo in the transcript');
            }, 'Simulate incoming photo');
        """
        )
        with screenshot_before_stop("media_01_chat_simulated_photo"):
            self.browser_js(f"/odoo/action-{chat_action.id}/{self.chat.id}", code, login="admin", timeout=60)
        photo = self.env["spoki.message"].search([("wa_phone", "=", self.chat.wa_phone), ("media_kind", "=", "image")])
        self.assertEqual(len(photo), 1)
        self.assertEqual(photo.attachment_ids.mimetype, "image/png")
        message_action = self.env.ref("spoki_whatsapp.spoki_message_action")
        code = (
            WAIT
            + """
            step(() => [...document.querySelectorAll('.o_field_many2many_binary')]
                    .find(el => el.innerText.includes('%s')),
                 (el) => { el.scrollIntoView(); setTimeout(() => console.log('test successful'), 300); },
                 'the image attachment');
        """
            % photo.attachment_ids.name
        )
        with screenshot_before_stop("media_02_message_with_image"):
            self.browser_js(f"/odoo/action-{message_action.id}/{photo.id}", code, login="admin", timeout=60)
