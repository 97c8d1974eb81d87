"""Notifications about the same thing, at most once per window (plain Python).

A storm of status webhooks on one campaign would otherwise send one live
refresh per request, each a ``bus.bus`` row and a new PostgreSQL connection
for the NOTIFY (Odoo never pools connections to the ``postgres`` database).
The web client reloads once more after a burst (``static/src/live/``), so the
changes of a suppressed notification still reach the screen.
"""

import threading
import time


class RecentlySent:
    """Remembers for ``window`` seconds what this process sent.

    :meth:`due` returns the keys not sent within the window, in order, and
    records them as sent now; thread-safe (Odoo's threaded server)."""

    def __init__(self, window, clock=time.monotonic, max_size=50_000):
        self.window = window
        self.clock = clock
        self.max_size = max_size
        self._sent = {}
        self._lock = threading.Lock()

    def due(self, keys):
        now = self.clock()
        with self._lock:
            if len(self._sent) > self.max_size:
                self._sent = {key: at for key, at in self._sent.items() if now - at < self.window}
            due = [key for key in keys if key not in self._sent or now - self._sent[key] >= self.window]
            for key in due:
                self._sent[key] = now
        return due

    def clear(self):
        with self._lock:
            self._sent.clear()
