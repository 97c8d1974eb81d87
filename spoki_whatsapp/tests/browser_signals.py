"""Browser tests driven by the page: a tour script logs ``spoki:<command>``
console lines and the Python side answers them (a screenshot, a webhook over
real HTTP, waking the websockets…) while the page keeps running."""

import base64
import threading
import time
from pathlib import Path
from unittest.mock import patch

from odoo.tests import HttpCase
from odoo.tests.common import ChromeBrowser
from odoo.tools.misc import file_path

from odoo.addons.bus.models.bus import dispatch


class BrowserSignalsCase(HttpCase):
    """``_run_browser`` runs ``static/tests/tours/<script>`` in Chromium;
    ``spoki:shot:<name>`` saves a screenshot under ``screens_dir``,
    ``spoki:dispatch`` wakes the websockets, any other command goes to
    ``_on_command``."""

    screens_dir = Path("/tmp/screens")

    def _wake_websockets(self):
        """The test cursor never runs post-commit hooks (the bus's NOTIFY):
        wake the websockets as bus's WebsocketCase.trigger_notification_dispatching does."""
        time.sleep(0.3)
        for websocket in set().union(*dispatch._channels_to_ws.values()):
            websocket.trigger_notification_dispatching()

    def _shot(self, browser, name):
        future = browser._websocket_send("Page.captureScreenshot", with_future=True)

        def save(done):
            self.screens_dir.mkdir(parents=True, exist_ok=True)
            (self.screens_dir / f"{name}.png").write_bytes(base64.b64decode(done.result()["data"]))
            self.screens.append(name)

        future.add_done_callback(save)

    def _on_signal(self, browser, command):
        if command.startswith("shot:"):
            self._shot(browser, command[5:])
        elif command == "dispatch":
            threading.Thread(target=self._wake_websockets).start()
        else:
            self._on_command(browser, command)

    def _on_command(self, browser, command):
        """A command of the tour other than ``shot:`` and ``dispatch``."""

    def _console_patch(self):
        """Patch of Chromium's console handler that hands ``spoki:`` lines to
        ``_on_signal`` (for a ``browser_js`` call of the test's own)."""
        test = self
        original = ChromeBrowser._handle_console

        def handle_console(browser, type, args=None, stackTrace=None, **kw):  # noqa: A002 - CDP's name
            if args and type == "log":
                text = str(browser._from_remoteobject(args[0]))
                if text.startswith("spoki:"):
                    test._on_signal(browser, text[len("spoki:") :])
            return original(browser, type, args, stackTrace, **kw)

        return patch.object(ChromeBrowser, "_handle_console", handle_console)

    def _run_browser(self, script, url, login="spoki_agent", prefix="", timeout=180):
        code = prefix + Path(file_path(f"spoki_whatsapp/static/tests/tours/{script}")).read_text()
        with self._console_patch():
            self.browser_js(url, code, login=login, timeout=timeout)
